package dedupe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestCorpusDecisions runs every SpamAssassin message and every enmime test
// message through the stage (offline): each gets exactly one decision with a
// reason. The decisions are kept in a golden file so a change of behaviour
// shows up in review.
func TestCorpusDecisions(t *testing.T) {
	var files []string
	for _, g := range []string{"testdata/spamassassin/*/*", "testdata/enmime/*"} {
		m, _ := filepath.Glob(g)
		for _, f := range m {
			if filepath.Base(f) != "LICENSE" {
				files = append(files, f)
			}
		}
	}
	sort.Strings(files)
	if len(files) < 400+80 {
		t.Fatalf("corpus has %d files", len(files))
	}
	clk := newClock()
	st := openStore(t, "", clk.Now)
	cfg := Config{OwnAddresses: []string{"support@acme.example"}}
	stage := NewStage(cfg, st, nil, nil, clk.Now)
	var out bytes.Buffer
	counts := map[string]int{}
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(raw, []byte("From ")) { // mbox separator line
			if j := bytes.IndexByte(raw, '\n'); j >= 0 {
				raw = raw[j+1:]
			}
		}
		sum := sha256.Sum256(raw)
		sha := hex.EncodeToString(sum[:])
		var r Result
		p, perr := ingest.Parse(raw, sha)
		if perr != nil || p == nil {
			r = Result{Skip: true, Reason: "unparsed"}
		} else {
			pj, _ := json.Marshal(p)
			rec, err := st.RecordMessage(context.Background(), store.NewMessage{Mailbox: "corpus", Folder: "INBOX", UIDValidity: 1,
				UID: uint32(i + 1), Raw: raw, SHA256: sha, Size: int64(len(raw)), MessageID: p.MessageID, Subject: p.Subject,
				From: p.From.Addr, SentAt: p.Date, Parsed: pj})
			if err != nil {
				t.Fatal(err)
			}
			m, err := st.Message(context.Background(), rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if r, err = stage.Process(context.Background(), m, p); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		if r.Reason == "" {
			t.Errorf("%s: decision without a reason: %+v", f, r)
		}
		kind := "case"
		switch {
		case r.Skip && r.Activity:
			t.Errorf("%s: both skipped and an activity", f)
		case r.Skip:
			kind = "skip"
		case r.Activity:
			kind = "activity"
		case r.IsReply:
			kind = "reply:" + r.MatchedBy
		}
		counts[kind+" "+r.Reason]++
		fmt.Fprintf(&out, "%s\t%s\t%s\n", strings.TrimPrefix(f, "testdata/"), kind, r.Reason)
		clk.Advance(7 * 60 * 1e9) // 7 minutes between messages: no loop breaker
	}
	var keys []string
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-40s %d", k, counts[k])
	}
	golden := "testdata/corpus_decisions.golden"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(want, out.Bytes()) {
		wl, gl := strings.Split(string(want), "\n"), strings.Split(out.String(), "\n")
		for i := 0; i < len(wl) && i < len(gl); i++ {
			if wl[i] != gl[i] {
				t.Errorf("first difference at line %d:\n want %s\n got  %s", i+1, wl[i], gl[i])
				break
			}
		}
		t.Fatalf("decisions differ from %s (%d vs %d lines); run with -update after checking", golden, len(wl), len(gl))
	}
}
