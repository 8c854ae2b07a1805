package classify

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"unsafe"
)

// prepared is what every classifier works from: the redacted, truncated new
// text of the email and the facts found while preparing it.
type prepared struct {
	subject   string // redacted
	text      string // redacted new text, truncated to the budget
	findings  Findings
	injection bool
	tokens    int
}

func prepare(in Input, red *Redactor, budget int) prepared {
	body := NewText(in.Body)
	subj, f1 := red.Redact(strings.TrimSpace(in.Subject))
	text, f2 := red.Redact(body)
	f := Findings{Counts: f1.Counts}
	for k, v := range f2.Counts {
		f.Counts[k] += v
	}
	p := prepared{subject: subj, findings: f, injection: InjectionSuspected(in.Subject + "\n" + body)}
	st := EstimateTokens(subj)
	p.text, p.tokens = TruncateTokens(text, max(budget-st, 0))
	p.tokens += st
	return p
}

// Offline is the embedded statistical classifier (no network).
type Offline struct {
	cfg   Config
	model *Model
	red   *Redactor
	cal   *Calibration
	name  string
	log   *slog.Logger
}

// OfflineOption configures NewOffline.
type OfflineOption func(*Offline)

// WithCalibration maps the model's confidence through c.
func WithCalibration(c *Calibration) OfflineOption { return func(o *Offline) { o.cal = c } }

// WithOfflineLogger sets the logger.
func WithOfflineLogger(l *slog.Logger) OfflineOption { return func(o *Offline) { o.log = l } }

// NewOffline returns the offline classifier for model m; cfg must have defaults set.
func NewOffline(cfg Config, m *Model, opts ...OfflineOption) (*Offline, error) {
	if m == nil {
		return nil, fmt.Errorf("classify: offline: no model")
	}
	for _, c := range m.Classes {
		if !slices.Contains(cfg.CategoryNames(), c) {
			return nil, fmt.Errorf("classify: offline: model class %q not in taxonomy (retrain with `triage train`)", c)
		}
	}
	o := &Offline{cfg: cfg, model: m, red: NewRedactor(cfg.Redact), name: ModelName(m), log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(o)
	}
	return o, nil
}

// ModelName identifies a trained model (calibrations are stored under it).
func ModelName(m *Model) string {
	h := fnv.New64a()
	if len(m.W) > 0 {
		h.Write(unsafe.Slice((*byte)(unsafe.Pointer(&m.W[0])), len(m.W)*4))
	}
	for _, c := range m.Classes {
		h.Write([]byte(c))
	}
	return fmt.Sprintf("offline-lr-%012x", h.Sum64()&0xffffffffffff)
}

// Name is the model name reported in results.
func (o *Offline) Name() string { return o.name }

// SetCalibration replaces the calibration (after FitCalibration).
func (o *Offline) SetCalibration(c *Calibration) { o.cal = c }

// Classify implements Classifier.
func (o *Offline) Classify(ctx context.Context, in Input) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	p := prepare(in, o.red, o.cfg.TokenBudget)
	cat, conf := o.model.Predict(p.subject, p.text, nil)
	conf = o.cal.Apply(conf)
	r := Result{Category: cat, Confidence: conf, InputTokens: p.tokens, Model: o.name,
		FieldConfidence: map[string]float64{FieldCategory: conf}}
	r.Flags.SensitiveData = p.findings.Sensitive()
	r.Flags.InjectionSuspected = p.injection
	r.Summary = summarize(p.subject, p.text)
	applySignals(&r, o.cfg, in, p)
	applyAutomation(&r, o.cfg.Thresholds)
	return r, nil
}

// applySignals sets sentiment, language, resolved, priority and escalation
// from explainable signals. The LLM path uses it too for the checks that must
// not depend on the model (sensitive data, injection, legal, safety, tier).
func applySignals(r *Result, cfg Config, in Input, p prepared) {
	text := p.subject + "\n" + p.text
	words := lowerWords(text)
	s := scoreSentiment(text, words)
	if r.Sentiment == "" {
		r.Sentiment, r.FieldConfidence[FieldSentiment] = s.label()
	}
	if r.Language == "" {
		lang, lc := detectLanguage(cmp.Or(p.text, p.subject), words)
		r.Language, r.FieldConfidence[FieldLanguage] = lang, lc
	}
	if len(resolvedLex.find(words)) > 0 {
		r.Resolved = true
	}
	urgent, legal, churn, safety := urgentLex.find(words), legalLex.find(words), churnLex.find(words), safetyLex.find(words)
	privacy := privacyLex.find(words)
	angry := s.angry()
	vip := false
	repeat := len(in.Thread) >= 2
	if c := in.Context; c != nil {
		for _, t := range cfg.VIPTiers {
			vip = vip || (c.Tier != "" && strings.EqualFold(strings.TrimSpace(c.Tier), t))
		}
		repeat = repeat || (cfg.RepeatContactCases > 0 && c.OpenCases >= cfg.RepeatContactCases)
	}
	negative := r.Sentiment == "negative"

	var why []string
	if r.Priority == "" {
		blocked, problem := blockedLex.find(words), problemLex.find(words)
		question := len(questionLex.find(words)) > 0 || strings.Contains(text, "?")
		pr, pc := "medium", 0.6
		switch {
		case len(safety) > 0:
			pr, pc = "urgent", 0.9
			why = append(why, "safety terms: "+strings.Join(safety, ", "))
		case len(legal) > 0:
			pr, pc = "urgent", 0.85
		case len(privacy) > 0:
			pr, pc = "high", 0.75
			why = append(why, "data-protection request: "+strings.Join(privacy, ", "))
		case len(urgent) > 0 && (negative || vip):
			pr, pc = "urgent", 0.75
		case len(blocked) > 0:
			pr, pc = "high", 0.75
			why = append(why, "customer blocked: "+strings.Join(blocked, ", "))
		case len(urgent) > 0:
			pr, pc = "high", 0.7
		case angry || len(churn) > 0 || (vip && negative) || repeat:
			pr, pc = "high", 0.7
		case len(problem) > 0 || negative:
			pr, pc = "medium", 0.7
			if len(problem) > 0 {
				why = append(why, "problem: "+strings.Join(problem, ", "))
			}
		case r.Resolved || r.Category == "NEWSLETTER" || r.Sentiment == "positive":
			pr, pc = "low", 0.7
		case question:
			pr, pc = "low", 0.6
			why = append(why, "information request")
		}
		r.Priority = pr
		r.FieldConfidence[FieldPriority] = pc
		if len(urgent) > 0 {
			why = append(why, "urgency: "+strings.Join(urgent, ", "))
		}
	} else if len(safety) > 0 && r.Priority != "urgent" {
		r.Priority = "urgent" // safety overrides the model
		why = append(why, "safety terms: "+strings.Join(safety, ", "))
	}

	// Escalation, most important reason first.
	escConf := 0.8 // how sure we are that no human is needed
	first := !r.Escalate
	if r.Escalate {
		escConf = 0.7 // the LLM asked for a human
	}
	esc := func(reason, text string, c float64) {
		if first {
			escConf, first = c, false
		}
		r.escalate(reason, text)
	}
	switch {
	case len(safety) > 0:
		esc(ReasonSafety, "Safety terms: "+strings.Join(safety, ", ")+".", 0.9)
	case len(legal) > 0:
		esc(ReasonLegalThreat, "Legal terms: "+strings.Join(legal, ", ")+".", 0.9)
	}
	if p.injection {
		esc(ReasonInjectionSuspected, "The email contains instruction-like text aimed at an AI model.", 0.9)
	}
	if p.findings.Sensitive() {
		esc(ReasonSensitiveData, "The email contained a payment card number or SSN (redacted); purge it at the source.", 0.9)
	}
	if len(privacy) > 0 {
		esc(ReasonOther, "Data-protection request ("+strings.Join(privacy, ", ")+") with a legal deadline.", 0.85)
	}
	if len(churn) > 0 {
		esc(ReasonChurnRisk, "Churn signals: "+strings.Join(churn, ", ")+".", 0.75)
	}
	if vip && (negative || len(urgent) > 0) {
		esc(ReasonVIPCustomer, "VIP tier "+in.Context.Tier+" with a negative or urgent email.", 0.75)
	}
	if repeat {
		esc(ReasonRepeatContact, "Repeat contact (open cases or earlier messages in the thread).", 0.75)
	}
	if angry {
		esc(ReasonAngryCustomer, "Strongly negative language.", 0.75)
	}
	if r.Category != "" && r.Confidence < cfg.EscalateBelow {
		esc(ReasonLowConfidence, fmt.Sprintf("Category confidence %.2f is below %.2f.", r.Confidence, cfg.EscalateBelow), 0.6)
	}
	r.FieldConfidence[FieldEscalate] = escConf
	if len(why) > 0 && !r.Escalate {
		if r.Explanation != "" {
			r.Explanation += " "
		}
		r.Explanation += "Priority " + r.Priority + " (" + strings.Join(why, "; ") + ")."
	}
	if r.Explanation == "" {
		r.Explanation = fmt.Sprintf("Category %s with confidence %.2f; sentiment %s; priority %s.", r.Category, r.Confidence, r.Sentiment, r.Priority)
	}
}
