package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/salesforce/sfsim"
)

func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = run(ctx, args, &o, &e)
	return o.String(), e.String(), err
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsageAndVersion(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{nil, 2, "usage: triage"},
		{[]string{"nope"}, 2, ""},
		{[]string{"version"}, 0, "triage "},
		{[]string{"help"}, 0, "commands:"},
		{[]string{"status"}, 2, ""}, // --config is required
		{[]string{"run", "--config", "x.yaml", "extra"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, _, err := runCmd(t, tt.args...)
			code := 0
			if err != nil {
				code = exitCode(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit code %d (%v), want %d", code, err, tt.wantCode)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout %q does not contain %q", out, tt.wantOut)
			}
		})
	}
}

func TestCheckListsEveryProblem(t *testing.T) {
	cfg := writeFile(t, "bad.yaml", `
log: {level: loud}
mailboxes:
  - name: support
    address: imap.example.com:143
    tls: none
    username: u
    password: ${TRIAGE_TEST_UNSET_VAR}
`)
	out, _, err := runCmd(t, "check", "--config", cfg)
	if !errors.Is(err, errReported) {
		t.Fatalf("check of a bad config: err %v", err)
	}
	for _, want := range []string{"mailboxes[0].password: environment variable TRIAGE_TEST_UNSET_VAR is not set"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	good := writeFile(t, "good.yaml", "store: {path: "+filepath.Join(t.TempDir(), "x.db")+"}\n")
	if out, _, err := runCmd(t, "check", "--config", good); err != nil || !strings.Contains(out, "ok") {
		t.Errorf("good config: %q %v", out, err)
	}
}

// TestRunOnceAndStatus runs the real command against the built-in IMAP server.
func TestRunOnceAndStatus(t *testing.T) {
	srv, err := pipeline.StartMemIMAP("127.0.0.1:0", map[string]string{"support": "pw"}, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for i := range 5 {
		raw := fmt.Sprintf("From: Ann <ann@example.com>\r\nTo: support@example.com\r\nSubject: Order %d\r\nMessage-ID: <m%d@example.com>\r\nDate: Mon, 16 Nov 2026 10:00:00 +0000\r\n\r\nWhere is my order %d?\r\n", i, i, i)
		if err := srv.Append("support", []byte(raw), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	cfg := writeFile(t, "c.yaml", fmt.Sprintf(`
store: {path: %s}
log: {level: warn}
mailboxes:
  - name: support
    address: %s
    tls: none
    username: support
    password: ${TRIAGE_TEST_PW}
`, filepath.Join(dir, "t.db"), srv.Addr))
	t.Setenv("TRIAGE_TEST_PW", "pw")
	out, errOut, err := runCmd(t, "run", "--config", cfg, "--once")
	if err != nil {
		t.Fatalf("run --once: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "fetched 5") || strings.Count(out, "\n") != 1 {
		t.Errorf("summary line: %q", out)
	}
	if strings.Contains(errOut, "pw\"") || strings.Contains(out+errOut, "password=pw") {
		t.Errorf("password leaked into output")
	}
	// A second run finds nothing new and records nothing twice.
	out, _, err = runCmd(t, "run", "--config", cfg, "--once")
	if err != nil || !strings.Contains(out, "fetched 0, total 5") {
		t.Errorf("second run: %q %v", out, err)
	}
	out, _, err = runCmd(t, "status", "--config", cfg, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Messages struct {
			Total   int            `json:"total"`
			ByState map[string]int `json:"by_state"`
		} `json:"messages"`
		Mailboxes []struct {
			Mailbox  string `json:"mailbox"`
			LastUID  int    `json:"last_uid"`
			Messages int    `json:"messages"`
		} `json:"mailboxes"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if st.Messages.Total != 5 || st.Messages.ByState["done"] != 5 || len(st.Mailboxes) != 1 || st.Mailboxes[0].LastUID != 5 {
		t.Errorf("status: %+v", st)
	}
	for _, s := range []string{"received", "deduped", "classified", "enriched", "done", "skipped", "dead"} {
		if _, ok := st.Messages.ByState[s]; !ok {
			t.Errorf("by_state lacks %q", s)
		}
	}
}

func TestDemoOnce(t *testing.T) {
	out, errOut, err := runCmd(t, "demo", "--once", "--dir", t.TempDir())
	if err != nil {
		t.Fatalf("demo --once: %v\n%s", err, errOut)
	}
	for _, want := range []string{"first pass: fetched", "in progress 0", "database:"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// TestCheckValidatesFieldMapAgainstOrg: `triage check` logs in and reports a
// bad field map with every problem, before any email is processed.
func TestCheckValidatesFieldMapAgainstOrg(t *testing.T) {
	sim, err := sfsim.New(sfsim.Options{ClientID: "cid", ClientSecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	org := httptest.NewServer(sim)
	defer org.Close()
	base := fmt.Sprintf(`
store: {path: %s}
salesforce:
  login_url: %s
  auth:
    flow: client_credentials
    client_id: cid
    client_secret: ${TRIAGE_TEST_SF_SECRET}
`, filepath.Join(t.TempDir(), "x.db"), org.URL)
	t.Setenv("TRIAGE_TEST_SF_SECRET", "secret")
	out, _, err := runCmd(t, "check", "--config", writeFile(t, "good.yaml", base))
	if err != nil || !strings.Contains(out, "field map ok") {
		t.Fatalf("good field map: %v\n%s", err, out)
	}
	bad := base + `
cases:
  field_map:
    sentiment: No_Such_Field__c
    language: CaseNumber
`
	out, _, err = runCmd(t, "check", "--config", writeFile(t, "bad.yaml", bad))
	if !errors.Is(err, errReported) {
		t.Fatalf("bad field map accepted: %v\n%s", err, out)
	}
	for _, want := range []string{"No_Such_Field__c", "CaseNumber"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not name %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret") {
		t.Errorf("the client secret leaked into the output")
	}
}
