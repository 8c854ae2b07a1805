package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/triage-dev/triage/cases"
	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/store"
)

// loadConfig reads --config, requiring it.
func loadConfig(path string) (*pipeline.Config, error) {
	if path == "" {
		return nil, usageError{"--config FILE is required"}
	}
	return pipeline.LoadConfig(path)
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	once := fs.Bool("once", false, "fetch what is waiting, wait until every message is final, print a summary and exit")
	dryRun := fs.Bool("dry-run", false, "shadow mode: run everything, record the Salesforce writes it would make, send none")
	backfill := fs.Bool("backfill", false, "process the mailbox's history in /composite/graph batches (implies --once)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *dryRun {
		cfg.Cases.DryRun = true
	}
	log := cfg.Log.NewLogger(stderr)
	app, err := pipeline.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.Close()
	if *backfill {
		sum, rep, err := app.Backfill(ctx, cases.ProgressPrinter(stderr, isTerminal(stderr)))
		fmt.Fprintln(stdout, sum)
		fmt.Fprintf(stdout, "backfill: %d emails in batches, %d written, %d already there, %d left to the live stage; %d API calls (%.3f per email)\n",
			rep.Emails, rep.Written, rep.Already, rep.Failed, rep.APICalls, rep.CallsPerEmail)
		return err
	}
	if *once {
		sum, err := app.RunOnce(ctx)
		fmt.Fprintln(stdout, sum)
		return err
	}
	log.Info("triage running", "mailboxes", len(cfg.Mailboxes), "store", cfg.Store.Path)
	return app.Run(ctx)
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
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
	c, err := st.Counts(ctx)
	if err != nil {
		return err
	}
	return printStatus(stdout, c, *asJSON)
}

// statusJSON is the stable shape of `triage status --json`.
type statusJSON struct {
	Messages struct {
		Total   int                 `json:"total"`
		ByState map[store.State]int `json:"by_state"`
	} `json:"messages"`
	Mailboxes []store.FolderCounts `json:"mailboxes"`
}

func printStatus(w io.Writer, c store.Counts, asJSON bool) error {
	if asJSON {
		var out statusJSON
		out.Messages.Total = c.Total
		out.Messages.ByState = c.ByState
		out.Mailboxes = c.Mailboxes
		if out.Mailboxes == nil {
			out.Mailboxes = []store.FolderCounts{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "messages\t%d\n", c.Total)
	for _, s := range store.AllStates {
		fmt.Fprintf(tw, "  %s\t%d\n", s, c.ByState[s])
	}
	if len(c.Mailboxes) > 0 {
		fmt.Fprintln(tw, "\nmailbox\tfolder\tuidvalidity\tlast uid\tmessages\tby state")
		for _, m := range c.Mailboxes {
			var states []string
			for s, n := range m.ByState {
				states = append(states, fmt.Sprintf("%s=%d", s, n))
			}
			sort.Strings(states)
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%v\n", m.Mailbox, m.Folder, m.UIDValidity, m.LastUID, m.Messages, states)
		}
	}
	return tw.Flush()
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	offline := fs.Bool("offline", false, "only check the file; don't log in to Salesforce to check the field map")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	var ce *pipeline.ConfigError
	if errors.As(err, &ce) {
		fmt.Fprintln(stdout, ce.Error())
		return errReported
	}
	if err != nil {
		return err
	}
	if cfg.Salesforce != nil && !*offline {
		// Log in and check the field map against the org's describe.
		sf, err := pipeline.NewSalesforce(ctx, cfg, cfg.Log.NewLogger(stderr))
		if err != nil {
			return err
		}
		if err := sf.Authenticate(ctx); err != nil {
			fmt.Fprintf(stdout, "%s: salesforce: cannot log in: %v\n", *cfgPath, err)
			return errReported
		}
		if err := pipeline.ValidateSalesforce(ctx, cfg, sf); err != nil {
			if errors.As(err, &ce) {
				ce.File = *cfgPath
				fmt.Fprintln(stdout, ce.Error())
				return errReported
			}
			return err
		}
		fmt.Fprintf(stdout, "%s: salesforce: logged in to %s; field map ok\n", *cfgPath, sf.InstanceURL())
	}
	fmt.Fprintf(stdout, "%s: ok (%d mailbox(es), store %s)\n", *cfgPath, len(cfg.Mailboxes), cfg.Store.Path)
	return nil
}

func storeConfig(path string) store.Config { return store.Config{Path: path} }

// isTerminal reports whether w is a terminal (progress bars) or not (lines).
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}
