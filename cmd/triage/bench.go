package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/triage-dev/triage/pipeline/bench"
)

// runBench measures the pipeline on a generated mailbox:
//
//	triage bench [--emails N] [--imap memory|dovecot] [--attachments] [--json] [--seed N]
//
// The pipeline runs in a child process (`triage bench-worker`, hidden) so its
// peak memory is measured alone. It exits non-zero when the emulator's
// records differ from the ground truth.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	emails := fs.Int("emails", 1000, "number of emails to generate")
	imapKind := fs.String("imap", bench.IMAPMemory, "IMAP server: memory (built in) or dovecot (must be installed)")
	attachments := fs.Bool("attachments", false, "add a few emails with large attachments (up to 25 MB)")
	asJSON := fs.Bool("json", false, "print one JSON object with the figures")
	seed := fs.Uint64("seed", 1, "generator seed (the same seed makes the same mailbox)")
	probes := fs.Int("probes", 0, "latency probes (default: between 20 and 100 by --emails)")
	dir := fs.String("dir", "", "keep the run's files (databases, worker log) in this directory")
	profile := fs.Bool("profile", false, "write CPU and memory profiles and metrics of the pipeline process to --dir")
	noBackfill := fs.Bool("no-backfill", false, "skip the backfill run (api_calls_per_email_backfill is then null)")
	workers := fs.Int("workers", 0, "workers per pipeline stage (default: the pipeline's defaults)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *emails < 1 {
		return usageError{"bench: --emails must be at least 1"}
	}
	if *imapKind != bench.IMAPMemory && *imapKind != bench.IMAPDovecot {
		return usageError{fmt.Sprintf("bench: --imap %q: want memory or dovecot", *imapKind)}
	}
	if *profile && *dir == "" {
		return usageError{"bench: --profile needs --dir"}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: find own executable: %w", err)
	}
	terminal := false
	if f, ok := stderr.(*os.File); ok {
		terminal = term.IsTerminal(int(f.Fd()))
	}
	rep, err := bench.Run(ctx, bench.Config{
		Emails: *emails, IMAP: *imapKind, Attachments: *attachments, Seed: *seed, Probes: *probes,
		Worker: []string{exe, "bench-worker"}, Dir: *dir, Profile: *profile, Workers: *workers, NoBackfill: *noBackfill,
		Progress: stderr, Terminal: terminal,
	})
	if err != nil {
		return err
	}
	if *asJSON {
		if err := rep.WriteJSON(stdout); err != nil {
			return err
		}
		for _, d := range rep.Differences {
			fmt.Fprintln(stderr, "bench: mismatch:", d)
		}
		for _, n := range rep.Notes {
			fmt.Fprintln(stderr, "bench: note:", n)
		}
	} else {
		rep.WriteTable(stdout)
	}
	if rep.Mismatches > 0 && rep.CasesWired {
		return fmt.Errorf("bench: %d records in the emulator differ from the ground truth", rep.Mismatches)
	}
	return nil
}

// runBenchWorker is the pipeline half of `triage bench` (hidden): it reads
// its job and commands on stdin and reports on stdout.
func runBenchWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return usageError{"bench-worker takes no arguments; it is started by `triage bench`"}
	}
	return bench.Worker(ctx, os.Stdin, stdout, stderr)
}
