// Command triage turns a support mailbox into Salesforce Cases.
//
// Usage: triage <command> [flags]; `triage help` lists the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "triage:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errReported means the command already printed what went wrong.
var errReported = errors.New("reported")

// usageError marks bad command-line use (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "run the pipeline (--once: fetch what is waiting, finish it, exit)", runRun},
		{"status", "message counts by state and by mailbox", runStatus},
		{"check", "validate the config file and report every problem", runCheck},
		{"demo", "run everything on the built-in demo mailbox and Salesforce emulator", runDemo},
		{"replay", "re-drive dead letters (--id ID | --all | --reason CODE)", runReplay},
		{"audit", "print the audit trail of Salesforce writes (audit verify: check its hash chain)", runAudit},
		{"knowledge", "knowledge base: sync, import, search, eval", runKnowledge},
		{"report", "reports: report gaps (knowledge gaps by topic)", runReport},
		{"eval", "measure the configured classifier on a labelled dataset", runEval},
		{"train", "train the offline classifier (with managers' corrections)", runTrain},
		{"user", "manage review UI users (user add --role ROLE NAME)", runUser},
		{"sfsim", "serve the local Salesforce REST API emulator", runSfsim},
		{"bench", "measure throughput, API calls per email, latency and memory on generated mail", runBench},
		{"version", "print the version", runVersion},
	}
}

// run is the whole program; main only calls it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return usageError{"no command given"}
		}
		return nil
	}
	if args[0] == "bench-worker" {
		// Hidden: the pipeline half of `triage bench`, started by it.
		return runBenchWorker(ctx, args[1:], stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: triage <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\n`triage <command> -h` shows a command's flags.")
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	fmt.Fprintln(stdout, "triage", version)
	return nil
}

// newFlags makes a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("triage "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses and rejects stray arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}
