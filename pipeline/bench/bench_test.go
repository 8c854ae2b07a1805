package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/triage-dev/triage/dedupe"
	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/ingest/imaptest"
)

// The test binary doubles as the pipeline worker: Run re-executes it with
// TRIAGE_BENCH_WORKER=1, as `triage bench` re-executes `triage bench-worker`.
func TestMain(m *testing.M) {
	if os.Getenv("TRIAGE_BENCH_WORKER") == "1" {
		if err := Worker(context.Background(), os.Stdin, os.Stdout, os.Stderr); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func generate(t *testing.T, opts Options) ([][]byte, Truth) {
	t.Helper()
	g := NewGenerator(opts)
	var out [][]byte
	for raw := g.Next(); raw != nil; raw = g.Next() {
		out = append(out, raw)
	}
	return out, g.Truth()
}

func TestGeneratorDeterministic(t *testing.T) {
	a, ta := generate(t, Options{Emails: 500, Seed: 7})
	b, tb := generate(t, Options{Emails: 500, Seed: 7})
	c, _ := generate(t, Options{Emails: 500, Seed: 8})
	if len(a) != 500 || len(b) != 500 {
		t.Fatalf("got %d and %d emails, want 500", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("email %d differs between two runs with the same seed", i)
		}
	}
	if ta.Cases != tb.Cases || ta.EmailMessages != tb.EmailMessages || ta.Contacts != tb.Contacts || ta.Bytes != tb.Bytes {
		t.Errorf("truth differs: %+v vs %+v", ta, tb)
	}
	same := 0
	for i := range a {
		if bytes.Equal(a[i], c[i]) {
			same++
		}
	}
	if same > 10 {
		t.Errorf("seeds 7 and 8 share %d of 500 emails", same)
	}
}

// TestGeneratorTruth parses every email as ingest does, classifies it with
// dedupe's screen, and recomputes the ground truth from the parsed mail.
func TestGeneratorTruth(t *testing.T) {
	mail, truth := generate(t, Options{Emails: 2000, Seed: 3})
	var dcfg dedupe.Config
	dcfg.SetDefaults()
	screen := dcfg.ScreenOptions()
	seen := map[string]string{} // Message-ID → sha256 of the first delivery
	byID := map[string]*ingest.Parsed{}
	cases, ems, contacts := map[string]bool{}, map[string]bool{}, map[string]bool{}
	nonASCII := 0 // emails in languages other than English
	var sizes []int
	for i, raw := range mail {
		if bytes.Contains(raw, []byte("\n")) && !bytes.Contains(raw, []byte("\r\n")) {
			t.Fatalf("email %d has bare LF line endings", i)
		}
		sum := sha256.Sum256(raw)
		p, err := ingest.Parse(raw, hex.EncodeToString(sum[:]))
		if err != nil {
			t.Fatalf("email %d does not parse: %v\n%s", i, err, raw[:min(len(raw), 600)])
		}
		sizes = append(sizes, len(raw))
		id := dedupe.CleanMessageID(p.MessageID)
		if first, dup := seen[id]; dup {
			// Delivered twice: exact bytes, or the same email by another route.
			if first == hex.EncodeToString(sum[:]) {
				continue
			}
			o := byID[id]
			if o.Subject != p.Subject || o.From.Addr != p.From.Addr || !o.Date.Equal(p.Date) || o.Text != p.Text {
				t.Errorf("email %d reuses Message-ID %s for different mail", i, id)
			}
			continue
		}
		seen[id], byID[id] = hex.EncodeToString(sum[:]), p
		if d := dedupe.Screen(p, screen); d.Skip {
			continue
		}
		if !isASCII(p.Text) {
			nonASCII++
		}
		ems["<"+id+">"] = true
		contacts[strings.ToLower(p.From.Addr)] = true
		root := id
		if len(p.References) > 0 {
			root = dedupe.CleanMessageID(p.References[0])
			if byID[root] == nil {
				t.Errorf("email %d replies to %s, which was not delivered before it", i, root)
			}
		}
		cases[dedupe.ThreadKey(root)] = true
	}
	if len(cases) != truth.Cases || len(ems) != truth.EmailMessages || len(contacts) != truth.Contacts {
		t.Errorf("from the parsed mail: %d cases, %d email messages, %d contacts; generator says %d, %d, %d",
			len(cases), len(ems), len(contacts), truth.Cases, truth.EmailMessages, truth.Contacts)
	}
	for k := range cases {
		if !truth.CaseKeys[k] {
			t.Errorf("thread %s is not in the truth", k)
		}
	}
	for _, k := range []Kind{KindNew, KindReply, KindExactDup, KindRedelivered, KindAutoReply, KindBounce, KindNewsletter} {
		if truth.ByKind[k] == 0 {
			t.Errorf("no %s email among 2000", k)
		}
	}
	if truth.Emails != 2000 || truth.Cases >= truth.EmailMessages || truth.Contacts > truth.EmailMessages {
		t.Errorf("implausible truth %+v", truth)
	}
	if nonASCII < truth.EmailMessages/5 {
		t.Errorf("only %d of %d accepted emails have non-ASCII text: want several languages", nonASCII, truth.EmailMessages)
	}
	slices.Sort(sizes)
	if sizes[0] > 2000 || sizes[len(sizes)-1] < 50_000 {
		t.Errorf("sizes range %d..%d bytes: want small and large emails", sizes[0], sizes[len(sizes)-1])
	}
	t.Logf("truth %+v; %d non-ASCII; sizes %d..%d, median %d", truth.ByKind, nonASCII, sizes[0], sizes[len(sizes)-1], sizes[len(sizes)/2])
}

func TestGeneratorLargeAttachments(t *testing.T) {
	mail, _ := generate(t, Options{Emails: 40, Seed: 1, Attachments: true})
	big := 0
	for _, raw := range mail {
		if len(raw) > 25<<20 {
			big++
		}
	}
	if big != 1 {
		t.Errorf("%d emails over 25 MB raw, want exactly the one 25 MB attachment", big)
	}
}

func TestProbeIsNewThread(t *testing.T) {
	g := NewGenerator(Options{Emails: 10, Seed: 1})
	for g.Next() != nil {
	}
	before := g.Truth()
	raw, marker, id := g.Probe()
	after := g.Truth()
	if !bytes.Contains(raw, []byte(marker)) || !bytes.Contains(raw, []byte("Message-ID: <"+id+">")) || after.Cases != before.Cases+1 || after.EmailMessages != before.EmailMessages+1 || after.Emails != before.Emails {
		t.Errorf("probe %s: truth %+v → %+v", marker, before, after)
	}
}

func TestPercentile(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, c := range []struct{ p, want float64 }{{50, 5}, {95, 10}, {99, 10}, {10, 1}} {
		if got := percentile(v, c.p); got != c.want {
			t.Errorf("p%.0f = %v, want %v", c.p, got, c.want)
		}
	}
}

func TestCompositeOK(t *testing.T) {
	for _, c := range []struct {
		body string
		ok   bool
	}{
		{`{"compositeResponse":[{"httpStatusCode":201,"body":{"id":"x"}},{"httpStatusCode":200}]}`, true},
		{`{"compositeResponse":[{"httpStatusCode":201},{"httpStatusCode":400,"body":[{"errorCode":"X"}]}]}`, false},
		{`{"graphs":[{"graphId":"1","isSuccessful":false}]}`, false},
		{`not json`, false},
	} {
		if got := compositeOK([]byte(c.body)); got != c.ok {
			t.Errorf("%s: %v, want %v", c.body, got, c.ok)
		}
	}
}

// TestRunSmall runs the whole bench on 200 emails against the built-in IMAP
// server. TRIAGE_BENCH_EMAILS and TRIAGE_BENCH_IMAP make it a longer run.
func TestRunSmall(t *testing.T) {
	n, imapKind := 200, IMAPMemory
	if v, err := strconv.Atoi(os.Getenv("TRIAGE_BENCH_EMAILS")); err == nil && v > 0 {
		n = v
	}
	if v := os.Getenv("TRIAGE_BENCH_IMAP"); v != "" {
		imapKind = v
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	t.Setenv("TRIAGE_BENCH_WORKER", "1")
	rep, err := Run(ctx, Config{Emails: n, IMAP: imapKind, Seed: 1, Worker: []string{exe, "-test.run=^$"}, Progress: &progress,
		Attachments: os.Getenv("TRIAGE_BENCH_ATTACHMENTS") != ""})
	t.Setenv("TRIAGE_BENCH_WORKER", "")
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	var out bytes.Buffer
	if err := rep.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(out.Bytes(), &obj); err != nil {
		t.Fatal(err)
	}
	want := []string{"raw_fetch_per_s", "mbsync_per_s", "ingest_per_s", "e2e_per_s", "ratio_e2e_to_raw", "api_calls_per_email",
		"api_calls_per_email_backfill", "latency_ms", "peak_rss_mb", "emails", "mismatches"}
	var got []string
	for k := range obj {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("JSON keys %v, want %v", got, want)
	}
	lat, _ := obj["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p95", "p99"} {
		if v, ok := lat[k].(float64); !ok || v <= 0 {
			t.Errorf("latency_ms.%s = %v", k, lat[k])
		}
	}
	if rep.Emails != n || rep.RawFetchPerS <= 0 || rep.IngestPerS <= 0 || rep.E2EPerS <= 0 || rep.PeakRSSMB <= 0 {
		t.Errorf("implausible result %+v", rep.Result)
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	t.Logf("progress:\n%s\n%s\n%s", progress.String(), out.String(), table.String())
	if !rep.CasesWired {
		t.Logf("the cases stage is not wired into the pipeline: %d mismatches are expected and not checked", rep.Mismatches)
		return
	}
	if rep.Mismatches != 0 {
		t.Errorf("%d mismatches between the emulator and the ground truth: %v", rep.Mismatches, rep.Differences)
	}
}

// TestLoadFetchMbsync loads a small mailbox into each server with the
// testing-free launchers and checks that the bare fetch and mbsync see every
// email.
func TestLoadFetchMbsync(t *testing.T) {
	for _, kind := range []string{IMAPMemory, IMAPDovecot} {
		t.Run(kind, func(t *testing.T) {
			var srv *imaptest.Server
			var stop func() error
			var err error
			if kind == IMAPMemory {
				srv, stop, err = imaptest.LaunchMemServer(imaptest.WithUser("bench", "pw"))
			} else {
				srv, stop, err = imaptest.LaunchDovecot("", imaptest.WithUser("bench", "pw"))
				if errors.Is(err, exec.ErrNotFound) && os.Getenv("CI") == "" {
					t.Skip(err)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			g := NewGenerator(Options{Emails: 60, Seed: 5})
			n, err := srv.Load(context.Background(), "INBOX", g.Next, func(int) time.Time { return time.Unix(1_780_000_000, 0) })
			if err != nil || n != 60 {
				t.Fatalf("loaded %d: %v", n, err)
			}
			got, secs, err := RawFetch(context.Background(), srv.Addr, srv.Username, srv.Password)
			if err != nil || got != 60 || secs <= 0 {
				t.Fatalf("raw fetch: %d in %.3fs: %v", got, secs, err)
			}
			bin, err := exec.LookPath("mbsync")
			if err != nil {
				t.Skip("mbsync not installed")
			}
			got, _, err = Mbsync(context.Background(), bin, t.TempDir(), srv.Addr, srv.Username, srv.Password)
			if err != nil || got != 60 {
				t.Fatalf("mbsync: %d: %v", got, err)
			}
		})
	}
}
