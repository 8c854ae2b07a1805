package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/store"
)

// runReplay re-queues dead letters; the running pipeline (or `triage run
// --once`) delivers them. Delivery is idempotent: the cases stage's ledger and
// the Case external ID make a replay of an already-written message a no-op.
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("replay", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	id := fs.Int64("id", 0, "replay one dead message by id")
	all := fs.Bool("all", false, "replay every dead message")
	reason := fs.String("reason", "", "replay the dead messages with this reason code")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	n := 0
	for _, set := range []bool{*id != 0, *all, *reason != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return usageError{"replay: give exactly one of --id ID, --all, --reason CODE"}
	}
	if *id < 0 {
		return usageError{"replay: --id must be positive"}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	st, err := pipeline.OpenStore(ctx, cfg, cfg.Log.NewLogger(stderr))
	if err != nil {
		return err
	}
	defer st.Close()
	ids, err := st.Replay(ctx, store.ReplayFilter{ID: *id, All: *all, Reason: *reason}, actor())
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if len(ids) == 0 {
		fmt.Fprintln(stdout, "no dead message matched")
		return nil
	}
	strs := make([]string, len(ids))
	for i, v := range ids {
		strs[i] = strconv.FormatInt(v, 10)
	}
	fmt.Fprintf(stdout, "re-queued %d message(s): %s\nthe running pipeline (or `triage run --once`) delivers them\n", len(ids), strings.Join(strs, ", "))
	return nil
}

// actor names who ran a command, for the event log.
func actor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}

// runAudit prints the audit trail of Salesforce writes, or verifies its hash chain.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	verify := len(args) > 0 && args[0] == "verify"
	if verify {
		args = args[1:]
	}
	name := "audit"
	if verify {
		name = "audit verify"
	}
	fs := newFlags(name, stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	var since *string
	var asJSON *bool
	var msg *int64
	if !verify {
		since = fs.String("since", "24h", "how far back: a duration (90m, 24h, 7d) or a date (2006-01-02)")
		asJSON = fs.Bool("json", false, "print a JSON array")
		msg = fs.Int64("id", 0, "only the writes of this message")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var from time.Time
	if !verify {
		var err error
		if from, err = parseSince(*since, time.Now()); err != nil {
			return usageError{"audit: --since: " + err.Error()}
		}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	st, err := pipeline.OpenStore(ctx, cfg, cfg.Log.NewLogger(stderr))
	if err != nil {
		return err
	}
	defer st.Close()
	if verify {
		n, err := st.CasesVerifyAudit(ctx)
		if err != nil {
			fmt.Fprintf(stdout, "audit trail NOT intact after %d good row(s): %v\n", n, err)
			return errReported
		}
		fmt.Fprintf(stdout, "audit trail intact: %d row(s), hash chain verified\n", n)
		return nil
	}
	rows, err := st.CasesAudit(ctx, store.CasesAuditFilter{Since: from, MessageID: *msg})
	if err != nil {
		return err
	}
	if *asJSON {
		if rows == nil {
			rows = []store.CasesAuditEntry{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tAT\tMSG\tACTION\tOBJECT\tRECORD\tRESULT\tUSER/AGENT\tFIELDS")
	for _, r := range rows {
		fields := string(r.Fields)
		if len(fields) > 120 {
			fields = fields[:117] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s/%s\t%s\n", r.Seq, r.At.Format(time.RFC3339), r.MessageID, r.Action,
			r.SObject, r.RecordID, r.Result, r.IntegrationUser, r.Agent, fields)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d write(s) since %s\n", len(rows), from.Format(time.RFC3339))
	return nil
}

// parseSince reads a duration (with a d suffix for days) or a date.
func parseSince(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if strings.HasSuffix(v, "d") {
		if n, err := strconv.Atoi(strings.TrimSuffix(v, "d")); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{"2006-01-02", time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (24h, 7d) nor a date (2006-01-02)", v)
}
