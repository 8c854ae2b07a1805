package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/triage-dev/triage/cases"
	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/dedupe"
	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/knowledge"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

// NewSalesforce connects to the configured org; it returns nil, nil when the
// config has no salesforce section (offline mode).
func NewSalesforce(ctx context.Context, cfg *Config, log *slog.Logger, opts ...salesforce.Option) (*salesforce.Client, error) {
	if cfg.Salesforce == nil {
		return nil, nil
	}
	opts = append([]salesforce.Option{salesforce.WithLogger(log)}, opts...)
	c, err := salesforce.New(ctx, *cfg.Salesforce, opts...)
	if err != nil {
		return nil, fmt.Errorf("salesforce: %w", err)
	}
	return c, nil
}

// ValidateSalesforce checks the cases field map (and custom objects) against
// the org's describe: every field exists, is writable by the app's user, has
// a compatible type, and every category maps to a valid picklist value.
func ValidateSalesforce(ctx context.Context, cfg *Config, d cases.Describer) error {
	var values []string
	for _, c := range cfg.Classify.Taxonomy {
		v := c.SalesforceValue
		if v == "" {
			v = c.Name
		}
		values = append(values, v)
	}
	var problems []error
	for _, e := range cases.ValidateFieldMap(ctx, cfg.Cases, d, values...) {
		problems = append(problems, fmt.Errorf("cases.%w", e))
	}
	if len(problems) > 0 {
		return &ConfigError{Problems: problems}
	}
	return nil
}

// permanentError marks a failure no retry can fix (bad stored data).
type permanentError struct {
	reason string
	err    error
}

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() error   { return e.err }
func (e *permanentError) Permanent() bool { return true }
func (e *permanentError) Reason() string  { return e.reason }

// parsedOf decodes the parsed form ingest stored with the message.
func parsedOf(m store.Message) (*ingest.Parsed, error) {
	if len(m.Parsed) == 0 {
		return nil, &permanentError{"no_parsed_form", fmt.Errorf("message %d has no parsed form", m.ID)}
	}
	var p ingest.Parsed
	if err := json.Unmarshal(m.Parsed, &p); err != nil {
		return nil, &permanentError{"bad_parsed_form", fmt.Errorf("message %d: decode parsed form: %w", m.ID, err)}
	}
	return &p, nil
}

// stageData loads an earlier stage's result; a missing one is a permanent error
// because the state machine guarantees it was written with the state change.
func stageData[T any](ctx context.Context, st *store.Store, m store.Message, stage string) (T, error) {
	var v T
	ok, err := st.StageData(ctx, m.ID, stage, &v)
	if err != nil {
		return v, err
	}
	if !ok {
		return v, &permanentError{"missing_stage_data", fmt.Errorf("message %d has no %s result", m.ID, stage)}
	}
	return v, nil
}

func dedupeStage(d *dedupe.Stage) StageFunc {
	return func(ctx context.Context, m store.Message) (Outcome, error) {
		p, err := parsedOf(m)
		if err != nil {
			return Outcome{}, err
		}
		r, err := d.Process(ctx, m, p)
		if err != nil {
			return Outcome{}, err
		}
		out := Outcome{Data: r, Detail: r.Detail}
		if r.Skip {
			out.Skip = r.Reason
		}
		return out, nil
	}
}

// threadContext is the new text of up to three earlier messages of the
// message's thread, newest first, so a reply is classified in context.
func threadContext(ctx context.Context, st *store.Store, m store.Message, threadKey string) ([]string, error) {
	if threadKey == "" {
		return nil, nil
	}
	blobs, err := st.ThreadMessages(ctx, threadKey, m.ID, 3)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, b := range blobs {
		var p ingest.Parsed
		if json.Unmarshal(b, &p) == nil {
			out = append(out, p.Subject+"\n"+classify.NewText(p.Text))
		}
	}
	return out, nil
}

// examples are the managers' corrections most similar to the email, as
// few-shot examples (only the LLM uses them; the offline model learns them by
// retraining).
type examples func(ctx context.Context, subject, body string) ([]classify.Example, error)

// related reads the configured custom-object records a message is about.
type related func(ctx context.Context, d dedupe.Result) ([]classify.ContextRecord, error)

// customRecords turns the cases stage's custom-object reads into classifier
// context; only the configured read_fields were selected.
func customRecords(c *cases.Stage) related {
	return func(ctx context.Context, d dedupe.Result) ([]classify.ContextRecord, error) {
		rs, err := c.ReadCustom(ctx, cases.RecordIDs{ContactID: d.ContactID, AccountID: d.AccountID, CaseID: d.CaseID})
		if err != nil {
			return nil, err
		}
		var out []classify.ContextRecord
		for _, r := range rs {
			for _, rec := range r.Records {
				f := map[string]string{}
				for k, v := range rec {
					if k == "attributes" || v == nil {
						continue
					}
					f[k] = fmt.Sprint(v)
				}
				out = append(out, classify.ContextRecord{Object: r.Object, Fields: f})
			}
		}
		return out, nil
	}
}

func classifyStage(st *store.Store, c classify.Classifier, ex examples, rel related) StageFunc {
	return func(ctx context.Context, m store.Message) (Outcome, error) {
		p, err := parsedOf(m)
		if err != nil {
			return Outcome{}, err
		}
		d, err := stageData[dedupe.Result](ctx, st, m, dedupe.StageName)
		if err != nil {
			return Outcome{}, err
		}
		in := classify.Input{Subject: p.Subject, Body: p.Text, From: p.From.Addr}
		if d.IsReply {
			if in.Thread, err = threadContext(ctx, st, m, d.ThreadKey); err != nil {
				return Outcome{}, err
			}
		}
		if ex != nil {
			if in.Examples, err = ex(ctx, p.Subject, p.Text); err != nil {
				return Outcome{}, err
			}
		}
		if ac := d.AccountContext; ac != nil {
			in.Context = &classify.AccountContext{AccountName: ac.AccountName, Tier: ac.Tier, OpenCases: ac.OpenCases, RecentSubjects: ac.RecentSubjects}
		}
		if rel != nil && (d.ContactID != "" || d.AccountID != "" || d.CaseID != "") {
			recs, err := rel(ctx, d)
			if err != nil {
				return Outcome{}, err
			}
			if len(recs) > 0 {
				if in.Context == nil {
					in.Context = &classify.AccountContext{}
				}
				in.Context.Records = recs
			}
		}
		r, err := c.Classify(ctx, in)
		if err != nil {
			return Outcome{}, err
		}
		detail := fmt.Sprintf("%s (%.2f), priority %s", r.Category, r.Confidence, r.Priority)
		if r.Escalate {
			detail += ", escalate: " + r.EscalationReason
		}
		return Outcome{Data: r, Detail: detail}, nil
	}
}

func knowledgeStage(st *store.Store, k *knowledge.Knowledge) StageFunc {
	return func(ctx context.Context, m store.Message) (Outcome, error) {
		p, err := parsedOf(m)
		if err != nil {
			return Outcome{}, err
		}
		c, err := stageData[classify.Result](ctx, st, m, "classify")
		if err != nil {
			return Outcome{}, err
		}
		r, err := k.Process(ctx, m, knowledge.Query{
			Subject: p.Subject, Body: classify.NewText(p.Text), Language: c.Language, Category: c.Category,
		})
		if err != nil {
			return Outcome{}, err
		}
		detail := fmt.Sprintf("%d article(s), best %.2f", len(r.Articles), r.BestScore)
		if r.Gap {
			detail = "knowledge gap: " + detail
		}
		return Outcome{Data: r, Detail: detail}, nil
	}
}

// casesInput gathers what the earlier stages decided about m.
func casesInput(ctx context.Context, st *store.Store, m store.Message) (cases.Input, error) {
	p, err := parsedOf(m)
	if err != nil {
		return cases.Input{}, err
	}
	in := cases.Input{Parsed: p}
	if in.Dedupe, err = stageData[dedupe.Result](ctx, st, m, dedupe.StageName); err != nil {
		return in, err
	}
	if in.Classify, err = stageData[classify.Result](ctx, st, m, "classify"); err != nil {
		return in, err
	}
	if in.Knowledge, err = stageData[knowledge.Result](ctx, st, m, "knowledge"); err != nil {
		return in, err
	}
	return in, nil
}

// casesPrepare writes a claimed batch of emails in one /composite/graph
// request (each email its own all-or-none graph) when several arrive
// together, so a burst costs a fraction of an API call per email. Process then
// finds each one committed in the ledger and sends nothing. Emails that need
// a per-case read (a reply that may close its case) or carry files go the
// one-request-per-email way.
func casesPrepare(st *store.Store, c *cases.Stage) func(ctx context.Context, batch []store.Message) error {
	return func(ctx context.Context, batch []store.Message) error {
		if c.DryRun() || len(batch) < 2 {
			return nil
		}
		var items []cases.BackfillItem
		for _, m := range batch {
			in, err := casesInput(ctx, st, m)
			if err != nil {
				continue // Process reports it
			}
			if in.Dedupe.Skip || (in.Dedupe.IsReply && in.Classify.Resolved) || len(in.Parsed.Attachments) > 0 {
				continue
			}
			items = append(items, cases.BackfillItem{Message: m, Input: in})
		}
		if len(items) < 2 {
			return nil
		}
		_, err := c.Backfill(salesforce.WithCritical(ctx), items, nil)
		return err
	}
}

func casesStage(st *store.Store, c *cases.Stage) StageFunc {
	return func(ctx context.Context, m store.Message) (Outcome, error) {
		in, err := casesInput(ctx, st, m)
		if err != nil {
			return Outcome{}, err
		}
		// Writing the email's case is the app's job: critical for the API
		// governor, which only refuses it near the hard cap (lookups, syncs
		// and polls stop earlier).
		r, err := c.Process(salesforce.WithCritical(ctx), m, in)
		if err != nil {
			return Outcome{}, err
		}
		detail := r.Action
		if r.CaseID != "" {
			detail += " case " + r.CaseID
		}
		if r.DryRun {
			detail += " (dry run)"
		}
		return Outcome{Data: r, Detail: detail}, nil
	}
}
