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
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/review"
	"github.com/triage-dev/triage/store"
)

// runUser: triage user add|list|remove — the review UI's logins.
//
//	triage user add --config FILE --role viewer|manager|admin [--replace] NAME
//	triage user list --config FILE
//	triage user remove --config FILE NAME   (disables the login and ends its sessions)
//
// The password is read from a prompt (twice) when stdin is a terminal, else
// from the first line of stdin, so it never appears in argv or shell history.
func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "usage: triage user add --config FILE --role viewer|manager|admin [--replace] NAME | list --config FILE | remove --config FILE NAME"
	if len(args) == 0 {
		return usageError{use}
	}
	switch args[0] {
	case "add":
	case "list", "remove":
		return reviewUserAdmin(ctx, args[0], args[1:], stdout, stderr)
	default:
		return usageError{use}
	}
	fs := newFlags("user add", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	role := fs.String("role", "", "viewer (read only), manager (act on escalations) or admin (also replay and push through)")
	replace := fs.Bool("replace", false, "update the role and password of an existing user")
	names, err := reviewUserArgs(fs, args[1:])
	if err != nil {
		return err
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
	password, err := reviewUserPassword(os.Stdin, stderr)
	if err != nil {
		return err
	}
	st, err := pipeline.OpenStore(ctx, cfg, cfg.Log.NewLogger(stderr))
	if err != nil {
		return err
	}
	defer st.Close()
	save := review.AddUser
	if *replace {
		save = review.ReplaceUser
	}
	if err := save(ctx, st, names[0], review.Role(*role), password); err != nil {
		if errors.Is(err, store.ErrReviewUserExists) {
			return fmt.Errorf("user %s already exists; add --replace to change its role and password", names[0])
		}
		return err
	}
	verb := "added"
	if *replace {
		verb = "saved"
	}
	fmt.Fprintf(stdout, "user %s %s with role %s\n", names[0], verb, *role)
	return nil
}

// reviewUserPassword prompts on a terminal (without echo, twice) or reads one line from a pipe.
func reviewUserPassword(in *os.File, stderr io.Writer) (string, error) {
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

// reviewUserArgs accepts flags before and after positional arguments.
func reviewUserArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var names []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return names, nil
		}
		names = append(names, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func reviewUserAdmin(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("user "+verb, stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	names, err := reviewUserArgs(fs, args)
	if err != nil {
		return err
	}
	if verb == "list" && len(names) != 0 || verb == "remove" && len(names) != 1 {
		return usageError{fmt.Sprintf("user %s: wrong arguments", verb)}
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
	if verb == "remove" {
		if err := st.DisableReviewUser(ctx, names[0], "cli"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s disabled; their sessions ended\n", names[0])
		return nil
	}
	users, err := st.ReviewUsers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSTATUS\tCREATED")
	for _, u := range users {
		status := "active"
		if u.Disabled {
			status = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, status, u.CreatedAt.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}
