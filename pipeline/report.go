package pipeline

import (
	"context"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/triage-dev/triage/store"
)

// Report summarises what the pipeline did, from the stage results in the store.
type Report struct {
	Counts store.Counts
	// CaseActions counts the cases stage's actions (created, updated, closed, …).
	CaseActions map[string]int
	Escalated   int
	Closed      int
	DryRun      int
	// Skipped and Dead count messages by reason.
	Skipped map[string]int
	Dead    map[string]int
	// Gaps is the number of emails no article answered.
	Gaps int
	// APICalls is the Salesforce calls the cases stage made.
	APICalls int
}

// BuildReport reads the report out of the store.
func BuildReport(ctx context.Context, st *store.Store) (Report, error) {
	r := Report{CaseActions: map[string]int{}, Skipped: map[string]int{}, Dead: map[string]int{}}
	var err error
	if r.Counts, err = st.Counts(ctx); err != nil {
		return r, err
	}
	db := st.DB()
	rows, err := db.QueryContext(ctx, `SELECT coalesce(json_extract(data, '$.action'), ''), count(*),
		sum(coalesce(json_extract(data, '$.escalated'), 0)), sum(coalesce(json_extract(data, '$.closed'), 0)),
		sum(coalesce(json_extract(data, '$.dry_run'), 0)), sum(coalesce(json_extract(data, '$.api_calls'), 0))
		FROM stage_data WHERE stage = 'cases' GROUP BY 1`)
	if err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	for rows.Next() {
		var action string
		var n, esc, closed, dry, calls int
		if err := rows.Scan(&action, &n, &esc, &closed, &dry, &calls); err != nil {
			rows.Close()
			return r, err
		}
		r.CaseActions[action] += n
		r.Escalated += esc
		r.Closed += closed
		r.DryRun += dry
		r.APICalls += calls
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, `SELECT state, reason, count(*) FROM messages WHERE state IN ('skipped','dead') GROUP BY 1, 2`)
	if err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	for rows.Next() {
		var state store.State
		var reason string
		var n int
		if err := rows.Scan(&state, &reason, &n); err != nil {
			rows.Close()
			return r, err
		}
		if state == store.StateSkipped {
			r.Skipped[reason] = n
		} else {
			r.Dead[reason] = n
		}
	}
	rows.Close()
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM stage_data WHERE stage = 'knowledge' AND json_extract(data, '$.gap') = 1`).Scan(&r.Gaps)
	return r, err
}

// Print writes the report as a short table.
func (r Report) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	c := r.Counts.ByState
	fmt.Fprintf(tw, "messages\t%d\t(done %d, skipped %d, dead %d, in progress %d)\n", r.Counts.Total,
		c[store.StateDone], c[store.StateSkipped], c[store.StateDead],
		r.Counts.Total-c[store.StateDone]-c[store.StateSkipped]-c[store.StateDead])
	fmt.Fprintf(tw, "cases\t%s\n", kv(r.CaseActions))
	fmt.Fprintf(tw, "escalated\t%d\n", r.Escalated)
	fmt.Fprintf(tw, "closed\t%d\n", r.Closed)
	if r.DryRun > 0 {
		fmt.Fprintf(tw, "dry run\t%d (recorded, not sent)\n", r.DryRun)
	}
	fmt.Fprintf(tw, "skipped\t%s\n", kv(r.Skipped))
	fmt.Fprintf(tw, "dead\t%s\n", kv(r.Dead))
	fmt.Fprintf(tw, "knowledge gaps\t%d\n", r.Gaps)
	return tw.Flush()
}

// kv renders counts as "a 3, b 1", largest first.
func kv(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		if k == "" {
			k = "(none)"
		}
		s += fmt.Sprintf("%s %d", k, m[k])
	}
	return s
}
