package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/salesforce/sfsim"
	"github.com/triage-dev/triage/store"
)

const crashEnvConfig = "TRIAGE_PIPELINE_CRASH_CONFIG"

// TestPipelineCrashChild is the child process of TestReliabilityCrash: it runs
// the pipeline once over the mailbox, unless it is killed first.
func TestPipelineCrashChild(t *testing.T) {
	path := os.Getenv(crashEnvConfig)
	if path == "" {
		t.Skip("child process of TestReliabilityCrash only")
	}
	cfg, err := pipeline.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	app, err := pipeline.New(context.Background(), cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// crashReply makes a customer's follow-up to a delivered email.
func crashReply(n int, orig []byte) []byte {
	h := func(name string) string {
		for _, line := range strings.Split(string(orig), "\r\n") {
			if strings.HasPrefix(strings.ToLower(line), strings.ToLower(name)+":") {
				return strings.TrimSpace(line[len(name)+1:])
			}
			if line == "" {
				break
			}
		}
		return ""
	}
	return fmt.Appendf(nil, "From: %s\r\nTo: support@northwind.example\r\nSubject: Re: %s\r\n"+
		"Message-ID: <crash-reply-%d@example.com>\r\nIn-Reply-To: %s\r\nReferences: %s\r\n"+
		"Date: Mon, 23 Nov 2026 12:%02d:00 +0000\r\n\r\nAny news on this? (follow-up %d)\r\n",
		h("From"), h("Subject"), n, h("Message-ID"), h("Message-ID"), n%60, n)
}

// checkExactlyOnce checks Salesforce against the store: every email the cases
// stage wrote has exactly one EmailMessage, every thread key exactly one Case.
func checkExactlyOnce(t *testing.T, st *store.Store, sim *sfsim.Server, emailsBefore int) {
	t.Helper()
	perID := map[string]int{}
	for _, r := range sim.Records("EmailMessage") {
		id, _ := r["MessageIdentifier"].(string)
		perID[strings.Trim(id, "<>")]++
	}
	rows, err := st.DB().Query(`SELECT m.message_id FROM messages m JOIN stage_data d ON d.message_id = m.id
		WHERE d.stage = 'cases' AND json_extract(d.data, '$.action') IN ('created', 'updated', 'closed', 'reopened', 'escalated')`)
	if err != nil {
		t.Fatal(err)
	}
	written := 0
	for rows.Next() {
		var mid string
		rows.Scan(&mid)
		written++
		if perID[mid] != 1 {
			t.Errorf("message %s has %d EmailMessages, want 1", mid, perID[mid])
		}
	}
	rows.Close()
	if written == 0 {
		t.Fatal("the cases stage wrote nothing: the test proves nothing")
	}
	keys := map[string]int{}
	for _, c := range sim.Records("Case") {
		if k, _ := c["Triage_Key__c"].(string); k != "" {
			keys[k]++
		}
	}
	for k, n := range keys {
		if n != 1 {
			t.Errorf("thread key %s has %d cases", k, n)
		}
	}
	t.Logf("%d emails written, %d cases by thread key, %d EmailMessages added", written, len(keys), len(sim.Records("EmailMessage"))-emailsBefore)
}

// seedModel stores a trained offline model in the database at path.
func seedModel(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var cfg classify.Config
	cfg.SetDefaults()
	m, err := classify.TrainDefault(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	if err := st.PutModel(ctx, classify.StoredModelName, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
}
