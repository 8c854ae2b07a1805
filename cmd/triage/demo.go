package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/pipeline/demo"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/salesforce/sfsim"
)

// demoPassword is the password of the demo IMAP users. The demo server only
// listens on loopback, so this is not a secret worth protecting.
const demoPassword = "demo"

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	dir := fs.String("dir", "", "directory for the demo database (default: a new temporary directory)")
	imapAddr := fs.String("imap-addr", "127.0.0.1:0", "loopback address for the built-in IMAP server")
	once := fs.Bool("once", false, "process the demo mail, print the summary and exit instead of staying up")
	reviewAddr := fs.String("review-addr", "127.0.0.1:8080", "loopback address of the review UI (a free port is used if it is taken)")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9464", "loopback address of /metrics (a free port is used if it is taken)")
	verbose := fs.Bool("v", false, "log every step")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "triage-demo-")
		if err != nil {
			return err
		}
		*dir = d
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	level := "warn"
	if *verbose {
		level = "debug"
	}
	mail, err := demo.Mail()
	if err != nil {
		return fmt.Errorf("demo mail: %w", err)
	}
	srv, err := pipeline.StartMemIMAP(*imapAddr, map[string]string{"support": demoPassword, "billing": demoPassword},
		log.New(io.Discard, "", 0))
	if err != nil {
		return err
	}
	defer srv.Close()
	base := time.Date(2026, 11, 16, 9, 0, 0, 0, time.UTC)
	for i, m := range mail {
		if err := srv.Append(m.Mailbox, m.Raw, base.Add(time.Duration(i)*time.Hour)); err != nil {
			return fmt.Errorf("demo: append %s: %w", m.Name, err)
		}
	}
	org, err := startDemoOrg(ctx, filepath.Join(*dir, "org.json"))
	if err != nil {
		return err
	}
	defer org.close()
	cfg := &pipeline.Config{
		Store: storeConfig(filepath.Join(*dir, "triage.db")),
		Log:   pipeline.LogConfig{Level: level},
		Salesforce: &salesforce.Config{
			LoginURL: org.url,
			Auth:     salesforce.AuthConfig{Flow: salesforce.FlowClientCredentials, ClientID: org.clientID, ClientSecret: org.clientSecret},
		},
	}
	cfg.Knowledge.Sources.Salesforce.Enabled = true
	cfg.Review.Addr = freeOr(*reviewAddr)
	cfg.Pipeline.MetricsAddr = freeOr(*metricsAddr)
	for _, user := range []string{"support", "billing"} {
		cfg.Mailboxes = append(cfg.Mailboxes, ingest.MailboxConfig{
			Name: user, Address: srv.Addr, TLS: "none", Username: user, Password: demoPassword,
			PollInterval: 5 * time.Second,
		})
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	logger := cfg.Log.NewLogger(stderr)
	app, err := pipeline.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer app.Close()
	fmt.Fprintf(stdout, "triage demo: %d demo emails in the built-in IMAP server at %s (users support, billing; password %q)\n",
		len(mail), srv.Addr, demoPassword)
	fmt.Fprintf(stdout, "Salesforce emulator (demo org) at %s\n", org.url)
	ks, err := app.Knowledge.Sync(ctx)
	if err != nil {
		return fmt.Errorf("demo: knowledge sync: %w", err)
	}
	fmt.Fprintf(stdout, "knowledge: %d articles synced from the org in %d API call(s)\n", ks.Fetched, ks.Queries)
	callsBefore := org.sim.Stats().APICalls
	sum, err := app.RunOnce(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "first pass:", sum)
	rep, err := pipeline.BuildReport(ctx, app.Store)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	if err := rep.Print(stdout); err != nil {
		return err
	}
	if done := sum.Counts.ByState["done"]; done > 0 {
		calls := org.sim.Stats().APICalls - callsBefore
		fmt.Fprintf(stdout, "Salesforce API calls: %d for %d emails (%.2f per email)\n", calls, done, float64(calls)/float64(done))
	}
	fmt.Fprintf(stdout, "\ndatabase: %s\norg data: %s\n", cfg.Store.Path, filepath.Join(*dir, "org.json"))
	if *once {
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	for i := 0; i < 100 && app.ReviewAddr() == ""; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintf(stdout, "\nreview UI:  http://%s/  (loopback, signed in as the local admin)\n", app.ReviewAddr())
	fmt.Fprintf(stdout, "metrics:    http://%s/metrics\n", app.MetricsAddr())
	fmt.Fprintf(stdout, "Salesforce: %s (the emulator; try %s/_sfsim/stats)\n", org.url, org.url)
	fmt.Fprintf(stdout, "\nStill running: new mail is picked up as it arrives. Send some with\n"+
		"  curl -T message.eml --user support:%s imap://%s/INBOX\n"+
		"Press Ctrl-C to stop.\n", demoPassword, srv.Addr)
	return <-done
}

// freeOr returns addr when it can be listened on, else a free port on its host.
func freeOr(addr string) string {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		host, _, _ := net.SplitHostPort(addr)
		return net.JoinHostPort(host, "0")
	}
	ln.Close()
	return addr
}

// demoOrg is the Salesforce emulator serving the demo org on a loopback port.
type demoOrg struct {
	url, clientID, clientSecret string
	sim                         *sfsim.Server
	srv                         *http.Server
}

func startDemoOrg(ctx context.Context, dataFile string) (*demoOrg, error) {
	o := &demoOrg{clientID: "triage-demo", clientSecret: rand.Text()}
	sim, err := sfsim.New(sfsim.Options{ClientID: o.clientID, ClientSecret: o.clientSecret, Seed: "demo", DataFile: dataFile})
	if err != nil {
		return nil, fmt.Errorf("demo org: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo org: %w", err)
	}
	o.url = "http://" + ln.Addr().String()
	o.sim = sim
	o.srv = &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		if err := o.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "demo org:", err)
		}
	}()
	return o, nil
}

func (o *demoOrg) close() { _ = o.srv.Close() }
