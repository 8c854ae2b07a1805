package pipeline_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/triage-dev/triage/ingest/imaptest"
)

// corpusFiles lists the hostile-input corpora: the SpamAssassin ham and spam
// copied into ingest/testdata, and enmime's test messages.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../ingest/testdata/spamassassin/*/*.eml")
	if len(files) == 0 {
		t.Fatal("no SpamAssassin corpus under ../ingest/testdata/spamassassin")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/jhillyerd/enmime/v2").Output()
	if err != nil {
		t.Fatalf("locating enmime's testdata: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "testdata")
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".raw") {
			files = append(files, p)
		}
		return nil
	})
	return files
}

// bombs are generated hostile messages: what each one tests, and its bytes.
func bombs() map[string][]byte {
	hdr := func(id, subject string) string {
		return "From: Mallory <mallory@attacker.example>\r\nTo: support@northwind.example\r\nSubject: " + subject +
			"\r\nMessage-ID: <" + id + "@attacker.example>\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
	}
	out := map[string][]byte{}

	// Nesting depth 1,000: multipart inside multipart, a thousand times.
	var b strings.Builder
	b.WriteString(hdr("bomb-nesting", "nested 1000 deep"))
	const depth = 1000
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nMy order is late, deep down here.\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	out["nesting-1000"] = []byte(b.String())

	// 100,000 parts.
	b.Reset()
	b.WriteString(hdr("bomb-parts", "100000 parts") + "Content-Type: multipart/mixed; boundary=\"p\"\r\n\r\n")
	for i := range 100_000 {
		fmt.Fprintf(&b, "--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i)
	}
	b.WriteString("--p--\r\n")
	out["parts-100000"] = []byte(b.String())

	// A 50 MB header: one field folded over a million lines.
	b.Reset()
	b.WriteString(hdr("bomb-header", "50 MB header") + "X-Filler: start")
	line := "\r\n " + strings.Repeat("A", 70)
	for b.Len() < 50<<20 {
		b.WriteString(line)
	}
	b.WriteString("\r\nContent-Type: text/plain\r\n\r\nThe header above is 50 MB.\r\n")
	out["header-50MB"] = []byte(b.String())

	// Invalid base64, in the body and in an attachment.
	out["invalid-base64"] = []byte(hdr("bomb-base64", "invalid base64") + "Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n" +
		"--x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!! not base64 @@@@ ====\r\nSGVsbG8=garbage%%%\r\n" +
		"--x\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		strings.Repeat("@#$%^&*()", 5000) + "\r\n--x--\r\n")

	// 10,000 recipients.
	b.Reset()
	b.WriteString(strings.Replace(hdr("bomb-rcpt", "10000 recipients"), "To: support@northwind.example\r\n", "", 1) + "To: support@northwind.example")
	for i := range 10_000 {
		fmt.Fprintf(&b, ",\r\n user%d@recipients%d.example", i, i%50)
	}
	b.WriteString("\r\nCc: " + strings.Repeat("a@b.example, ", 2000) + "c@d.example\r\nContent-Type: text/plain\r\n\r\nWhere is my refund?\r\n")
	out["recipients-10000"] = []byte(b.String())

	// NUL bytes in headers and body.
	out["nul-bytes"] = []byte(hdr("bomb-nul", "nul\x00in\x00subject") + "X-Nul: a\x00b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\x00with\x00\x00NULs\r\n" +
		strings.Repeat("\x00", 10000) + "\r\n")

	// Overlong lines: a 100 KB subject and a 5 MB line in the body.
	out["overlong-lines"] = []byte(hdr("bomb-lines", "long "+strings.Repeat("subject ", 12_500)) +
		"Content-Type: text/plain\r\n\r\n" + strings.Repeat("x", 5<<20) + "\r\nend\r\n")

	// Headers only, no body separator; and a message that is nothing but garbage.
	out["no-body"] = []byte(strings.TrimSuffix(hdr("bomb-nobody", "no body"), "\r\n"))
	out["garbage"] = bytes.Repeat([]byte{0xff, 0xfe, 0x00, '\r', '\n', ':', 0x80}, 20000)
	return out
}

// rss is the process's resident set size in bytes.
func rss() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestReliabilityHostileInput (issue 9, "Hostile input"): every message of
// the corpora (SpamAssassin ham and spam, enmime's test messages, the demo
// mailbox) plus generated MIME bombs goes through IMAP and the whole
// pipeline against the emulated org. No panic (a worker's panic would end
// the test binary), memory bounded, every message final with a clear reason.
func TestReliabilityHostileInput(t *testing.T) {
	// Not parallel: RSS is the whole test process's, so other tests running
	// alongside would blur the bound.
	// Dovecot when installed: it keeps every message byte for byte (go-imap's
	// in-memory server hands back an empty body for some malformed ones) and
	// runs in its own process, so the RSS measured here is triage's.
	var srv *imaptest.Server
	if _, err := os.Stat(imaptest.DovecotPath); err == nil {
		srv = imaptest.StartDovecot(t)
	} else {
		srv = imaptest.StartMemServer(t)
	}
	e := newE2E(t, srv)
	var raws [][]byte
	for _, f := range corpusFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, b)
	}
	nCorpus := len(raws)
	bs := bombs()
	for _, b := range bs {
		raws = append(raws, b)
	}
	srv.AppendMany(t, "INBOX", raws)
	distinct := map[[32]byte]bool{}
	lf := func(b []byte) [32]byte { return sha256.Sum256(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))) }
	for _, m := range e.mail {
		distinct[lf(m.Raw)] = true
	}
	for _, r := range raws {
		distinct[lf(r)] = true
	}
	raws = nil

	app := e.app(t)
	runtime.GC()
	base := rss()
	var peak atomic.Int64
	var peakHeap atomic.Uint64
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	sampling, stopSampling := context.WithCancel(ctx)
	wg.Go(func() {
		var ms runtime.MemStats
		for sampling.Err() == nil {
			if r := rss(); r > peak.Load() {
				peak.Store(r)
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	start := time.Now()
	sum, err := app.RunOnce(ctx)
	stopSampling()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	growth := peak.Load() - base
	t.Logf("%s: %d corpus messages + %d bombs + %d demo: %s in %s; RSS %d MB at start, peak +%d MB; peak heap in use %d MB",
		srv.Kind, nCorpus, len(bs), len(e.mail), sum, time.Since(start).Round(time.Millisecond), base>>20, growth>>20, peakHeap.Load()>>20)
	if growth > 300<<20 {
		t.Errorf("RSS grew by %d MB during the run (bound 300 MB)", growth>>20)
	}
	// The server stores LF-only messages with CRLF line endings, so two
	// files that differ only in line endings are one email.
	if srv.Kind == "dovecot" && sum.Counts.Total != len(distinct) {
		t.Errorf("%d messages recorded, want %d (one per distinct email delivered)", sum.Counts.Total, len(distinct))
	}
	checkStore(t, app.Store, nil, true)

	// What became of each bomb, for the report.
	for name := range bs {
		id := messageID(bs[name])
		var state, reason, lastErr string
		var size int64
		err := app.Store.DB().QueryRow(`SELECT state, reason, last_error, size FROM messages WHERE message_id = ?`, id).
			Scan(&state, &reason, &lastErr, &size)
		if err != nil { // no Message-ID could be read: find it by size
			err = app.Store.DB().QueryRow(`SELECT state, reason, last_error, size FROM messages WHERE size = ?`, len(bs[name])).
				Scan(&state, &reason, &lastErr, &size)
		}
		if err != nil {
			t.Errorf("bomb %s: not found (%v)", name, err)
			continue
		}
		t.Logf("bomb %-16s %9d bytes → %s %s %.120s", name, size, state, reason, lastErr)
	}
	var byReason []string
	rows, _ := app.Store.DB().Query(`SELECT state || ':' || reason, count(*) FROM messages GROUP BY 1 ORDER BY 2 DESC`)
	for rows.Next() {
		var k string
		var n int
		rows.Scan(&k, &n)
		byReason = append(byReason, fmt.Sprintf("%s=%d", k, n))
	}
	rows.Close()
	t.Logf("outcomes: %s", strings.Join(byReason, " "))
}
