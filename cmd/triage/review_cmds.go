package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/review"
)

// runUser: triage user add --config FILE --role viewer|manager|admin [--replace] NAME
//
// The password is read from a prompt (twice) when stdin is a terminal, else
// from the first line of stdin, so it never appears in argv or shell history.
func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError{"usage: triage user add --config FILE --role viewer|manager|admin [--replace] NAME"}
	}
	fs := newFlags("user add", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	role := fs.String("role", "", "viewer (read only), manager (act on escalations) or admin (also replay and push through)")
	replace := fs.Bool("replace", false, "update the role and password of an existing user")
	// Accept flags before and after NAME.
	var names []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		names = append(names, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(names) != 1 {
		return usageError{"user add: give exactly one user NAME"}
	}
	if !review.Role(*role).Valid() {
		return usageError{fmt.Sprintf("user add: --role must be viewer, manager or admin, not %q", *role)}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	password, err := readPassword(os.Stdin, stderr)
	if err != nil {
		return err
	}
	st, err := pipeline.OpenStore(ctx, cfg, cfg.Log.NewLogger(stderr))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := review.AddUser(ctx, st, names[0], review.Role(*role), password, *replace); err != nil {
		return err
	}
	verb := "added"
	if *replace {
		verb = "saved"
	}
	fmt.Fprintf(stdout, "user %s %s with role %s\n", names[0], verb, *role)
	return nil
}

// readPassword prompts on a terminal (without echo, twice) or reads one line from a pipe.
func readPassword(in *os.File, stderr io.Writer) (string, error) {
	fd := int(in.Fd())
	if term.IsTerminal(fd) {
		fmt.Fprint(stderr, "Password: ")
		p1, err := term.ReadPassword(fd)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(stderr, "Repeat password: ")
		p2, err := term.ReadPassword(fd)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(p1) != string(p2) {
			return "", errors.New("the passwords do not match")
		}
		return string(p1), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin (pipe it in, or run on a terminal to be prompted)")
	}
	return line, nil
}
