package cases

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/store"
)

type tfile struct {
	name, ctype string
	data        []byte
	inline      bool
}

// mail builds a multipart/mixed message with base64 parts, written to w
// (the 25 MB test streams it so the test itself holds no extra copy).
func mailTo(w io.Writer, from, mid, subject string, files ...tfile) {
	fmt.Fprintf(w, "From: Ann Customer <%s>\r\nTo: support@acme.example\r\nSubject: %s\r\nMessage-ID: <%s>\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BOUND\r\n\r\n", from, subject, mid)
	fmt.Fprintf(w, "--BOUND\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease see the attached files.\r\n")
	for _, f := range files {
		disp := "attachment"
		if f.inline {
			disp = "inline"
		}
		fmt.Fprintf(w, "--BOUND\r\nContent-Type: %s\r\nContent-Disposition: %s; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", f.ctype, disp, f.name)
		enc := base64.NewEncoder(base64.StdEncoding, &lineWrapper{w: w})
		enc.Write(f.data)
		enc.Close()
		io.WriteString(w, "\r\n")
	}
	io.WriteString(w, "--BOUND--\r\n")
}

// lineWrapper breaks base64 output into 76-character lines.
type lineWrapper struct {
	w   io.Writer
	col int
}

func (l *lineWrapper) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(76-l.col, len(p))
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
		p, l.col = p[k:], l.col+k
		if l.col == 76 {
			io.WriteString(l.w, "\r\n")
			l.col = 0
		}
	}
	return n, nil
}

// record stores raw as a message and returns it with its parsed form in in.
func (e *env) recordRaw(raw []byte, in *Input) store.Message {
	e.t.Helper()
	ctx := context.Background()
	sum := sha256.Sum256(raw)
	sha := hex.EncodeToString(sum[:])
	p, err := ingest.Parse(raw, sha)
	if err != nil {
		e.t.Fatal(err)
	}
	e.nextID++
	res, err := e.st.RecordMessage(ctx, store.NewMessage{Mailbox: "support", Folder: "INBOX", UIDValidity: 1, UID: uint32(e.nextID),
		Raw: raw, SHA256: sha, Size: int64(len(raw)), MessageID: p.MessageID, Subject: p.Subject, From: p.From.Addr, State: store.StateReceived})
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := e.st.Message(ctx, res.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	in.Parsed = p
	return m
}

func md5of(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

var (
	pngData = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 900)...)
	pdfData = append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("0 obj stream\n"), 200)...)
	logData = bytes.Repeat([]byte("2026-11-23 ERROR sync failed\n"), 300)
)

func TestAttachmentsRideInTheEmailsComposite(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	in := newEmail("ann@customer.example", "f1@customer.example", "Screenshots")
	var b bytes.Buffer
	mailTo(&b, "ann@customer.example", "f1@customer.example", "Screenshots",
		tfile{"screen.png", "image/png", pngData, false}, tfile{"invoice.pdf", "application/pdf", pdfData, false}, tfile{"app.log", "text/plain", logData, false})
	m := e.recordRaw(b.Bytes(), &in)
	before := e.calls()
	r, err := s.Process(ctx, m, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.calls() - before; got != 1 || r.APICalls != 1 {
		t.Fatalf("API calls: org %d, result %d; want 1 (files ride in the composite)", got, r.APICalls)
	}
	want := map[string][]byte{"screen.png": pngData, "invoice.pdf": pdfData, "app.log": logData}
	if len(r.Files) != 3 {
		t.Fatalf("files: %+v", r.Files)
	}
	for _, f := range r.Files {
		if f.Status != FileUploaded || f.ContentVersionID == "" || f.Mode != modeComposite {
			t.Errorf("file %+v", f)
		}
	}
	versions := e.org.Records("ContentVersion")
	if len(versions) != 3 {
		t.Fatalf("%d ContentVersions", len(versions))
	}
	for _, v := range versions {
		data := want[v["PathOnClient"].(string)]
		if data == nil || v["FirstPublishLocationId"] != r.EmailMessageID || v["Checksum"] != md5of(data) || v["ContentSize"] != float64(len(data)) {
			t.Errorf("version %v", v)
		}
	}
	links := e.count("ContentDocumentLink", func(l map[string]any) bool { return l["LinkedEntityId"] == r.CaseID })
	if links != 3 {
		t.Errorf("%d files linked to the case, want 3", links)
	}
	task, _ := e.record("Task", r.TaskID)["Description"].(string)
	if !strings.Contains(task, "screen.png") || !strings.Contains(task, "invoice.pdf") {
		t.Errorf("Task does not list the files: %q", task)
	}
	// Done is done: processing again sends nothing and keeps the file list.
	before = e.calls()
	r2, err := s.Process(ctx, m, in)
	if err != nil || e.calls() != before || len(r2.Files) != 3 || r2.Files[0].Status != FileUploaded {
		t.Fatalf("second Process: %v, %d calls, %+v", err, e.calls()-before, r2.Files)
	}
}

func TestAttachmentRepeatedInThreadStoredOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	logo := tfile{"logo.png", "image/png", pngData, false}
	first := newEmail("ann@customer.example", "t1@customer.example", "Sync broken")
	var b bytes.Buffer
	mailTo(&b, "ann@customer.example", "t1@customer.example", "Sync broken", logo)
	r1, err := s.Process(ctx, e.recordRaw(b.Bytes(), &first), first)
	if err != nil {
		t.Fatal(err)
	}
	for i, mid := range []string{"t2@customer.example", "t3@customer.example"} {
		in := reply(first, r1.CaseID, r1.ContactID, mid)
		in.Classify.Resolved = false
		b.Reset()
		files := []tfile{logo}
		if i == 0 {
			files = append(files, tfile{"app.log", "text/plain", logData, false})
		}
		mailTo(&b, "ann@customer.example", mid, "Re: Sync broken", files...)
		r, err := s.Process(ctx, e.recordRaw(b.Bytes(), &in), in)
		if err != nil {
			t.Fatal(err)
		}
		if r.Files[0].Status != FileDuplicate || !strings.Contains(r.Files[0].Reason, "already on the case") {
			t.Errorf("reply %d: logo %+v", i, r.Files[0])
		}
		if i == 0 && r.Files[1].Status != FileUploaded {
			t.Errorf("reply %d: new file %+v", i, r.Files[1])
		}
	}
	n := e.count("ContentVersion", func(v map[string]any) bool { return v["PathOnClient"] == "logo.png" })
	if n != 1 {
		t.Fatalf("logo stored %d times, want once", n)
	}
	if n := e.count("ContentVersion", nil); n != 2 {
		t.Fatalf("%d files, want 2 (logo, log)", n)
	}
}

func TestAttachmentPolicyListsWhatItRefuses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := Config{}
	cfg.Attachments.MaxFileSize = 4000
	s := e.stage(cfg)
	in := newEmail("ann@customer.example", "p1@customer.example", "Files")
	var b bytes.Buffer
	mailTo(&b, "ann@customer.example", "p1@customer.example", "Files",
		tfile{"setup.exe", "application/octet-stream", []byte("MZ\x90\x00binary"), false},
		tfile{"report.pdf", "application/pdf", append([]byte("MZ\x90\x00"), pdfData...), false}, // an executable posing as a PDF
		tfile{"run.txt", "text/plain", []byte("#!/bin/sh\nrm -rf /\n"), false},
		tfile{"big.log", "text/plain", bytes.Repeat([]byte("x"), 5000), false},
		tfile{"sig.png", "image/png", pngData, true},
		tfile{"ok.pdf", "application/pdf", pdfData, false},
		tfile{"ok-again.pdf", "application/pdf", pdfData, false})
	r, err := s.Process(ctx, e.recordRaw(b.Bytes(), &in), in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"setup.exe": FileBlocked, "report.pdf": FileBlocked, "run.txt": FileBlocked, "big.log": FileOversized,
		"sig.png": FileSkipped, "ok.pdf": FileUploaded, "ok-again.pdf": FileDuplicate}
	for _, f := range r.Files {
		if want[f.Filename] != f.Status {
			t.Errorf("%s: %s (%s), want %s", f.Filename, f.Status, f.Reason, want[f.Filename])
		}
	}
	task, _ := e.record("Task", r.TaskID)["Description"].(string)
	for _, w := range []string{`"setup.exe"`, "blocked file type .exe", `"report.pdf"`, "detected from the content", `"run.txt"`,
		`"big.log"`, "max_file_size", "1 inline image(s)", `"ok-again.pdf"`} {
		if !strings.Contains(task, w) {
			t.Errorf("Task lacks %q:\n%s", w, task)
		}
	}
	if n := e.count("ContentVersion", nil); n != 1 {
		t.Errorf("%d files uploaded, want 1", n)
	}
}

// The composite's answer is lost after Salesforce committed: the retry finds
// the email and sends nothing, so the files are not stored twice.
func TestAttachmentsExactlyOnceAcrossLostAnswer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	in := newEmail("ann@customer.example", "l1@customer.example", "Lost")
	var b bytes.Buffer
	mailTo(&b, "ann@customer.example", "l1@customer.example", "Lost", tfile{"screen.png", "image/png", pngData, false})
	m := e.recordRaw(b.Bytes(), &in)
	e.doer.drop.Store(1)
	if _, err := s.Process(ctx, m, in); err == nil {
		t.Fatal("lost answer not reported")
	}
	r, err := s.Process(ctx, m, in)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Recovered || len(r.Files) != 1 || r.Files[0].Status != FileUploaded {
		t.Fatalf("recovered result %+v", r)
	}
	if n := e.count("ContentVersion", nil); n != 1 {
		t.Fatalf("%d ContentVersions after a retry, want 1", n)
	}
}

// tokenUploader is the multipart uploader with a token from the emulator.
func (e *env) uploader(counter *atomic.Int64) *HTTPUploader {
	return &HTTPUploader{Doer: countingDoer{e.doer, counter}, InstanceURL: e.sfURL(), APIVersion: e.sf.APIVersion(),
		Token: func(ctx context.Context) (string, error) {
			resp, err := http.PostForm(e.sfURL()+"/services/oauth2/token", url.Values{"grant_type": {"client_credentials"},
				"client_id": {"3MVG9cases"}, "client_secret": {"cases-secret"}})
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			return tok.AccessToken, json.NewDecoder(resp.Body).Decode(&tok)
		}}
}

func (e *env) sfURL() string { return e.sf.InstanceURL() }

// countingDoer counts the request body bytes sent by uploads.
type countingDoer struct {
	d HTTPDoer
	n *atomic.Int64
}

func (c countingDoer) Do(r *http.Request) (*http.Response, error) {
	if r.ContentLength > 0 {
		return nil, fmt.Errorf("upload body was buffered (Content-Length %d), not streamed", r.ContentLength)
	}
	r.Body = countingBody{r.Body, c.n}
	return c.d.Do(r)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// A 25 MB attachment goes as one streamed multipart upload after the
// composite: the request has no Content-Length (nothing buffered), and
// Process allocates little beyond reading the raw message from the store
// (store.Raw costs about twice the message: SQLite's copy and the clone).
// A base64 JSON insert would add the encoded file and its JSON copy, ~67 MB.
func TestAttachmentLargeUploadStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("25 MB upload")
	}
	e := newEnv(t)
	ctx := context.Background()
	var sent atomic.Int64
	s := e.stage(Config{}, WithUploader(e.uploader(&sent)))
	data := make([]byte, 25_000_000)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	in := newEmail("ann@customer.example", "big@customer.example", "Full dump")
	var b bytes.Buffer
	mailTo(&b, "ann@customer.example", "big@customer.example", "Full dump", tfile{"dump.bin.gz", "application/gzip", data, false},
		tfile{"note.txt", "text/plain", []byte("small one rides in the composite"), false})
	raw := b.Bytes()
	sum := md5of(data)
	data = nil
	m := e.recordRaw(raw, &in)
	rawLen := int64(len(raw))
	raw = nil
	b = bytes.Buffer{}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	before := e.calls()
	r, err := s.Process(ctx, m, in)
	runtime.ReadMemStats(&m1)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.calls() - before; got != 2 || r.APICalls != 2 {
		t.Errorf("API calls: org %d, result %d; want 2 (composite + one upload)", got, r.APICalls)
	}
	if r.Files[0].Status != FileUploaded || r.Files[0].Mode != modeMultipart || r.Files[1].Mode != modeComposite || r.Files[1].Status != FileUploaded {
		t.Fatalf("files %+v", r.Files)
	}
	v := e.record("ContentVersion", r.Files[0].ContentVersionID)
	if v["Checksum"] != sum || v["ContentSize"] != 25_000_000.0 || v["FirstPublishLocationId"] != r.EmailMessageID {
		t.Errorf("version %v", v)
	}
	if sent.Load() < 25_000_000 {
		t.Errorf("uploaded %d bytes", sent.Load())
	}
	alloc := int64(m1.TotalAlloc - m0.TotalAlloc)
	t.Logf("raw message %d bytes; Process allocated %d bytes", rawLen, alloc)
	if limit := 2*rawLen + 16<<20; alloc > limit {
		t.Errorf("Process allocated %d bytes for a %d-byte message (limit %d): the upload is not streamed", alloc, rawLen, limit)
	}
}

// The demo mailbox's attachments (a PNG screenshot, PDFs, a .log, a CSV…)
// land on their cases, byte for byte (Checksum is the MD5 Salesforce computes).
func TestDemoAttachmentsLandOnTheirCases(t *testing.T) {
	files, err := filepath.Glob("../pipeline/demo/mail/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("demo mailbox not found: %v", err)
	}
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	exts := map[string]bool{}
	uploaded := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ingest.Parse(raw, "")
		if err != nil || len(p.Attachments) == 0 {
			continue
		}
		in := newEmail(strings.ToLower(p.From.Addr), p.MessageID, p.Subject)
		m := e.recordRaw(raw, &in)
		r, err := s.Process(ctx, m, in)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, fr := range r.Files {
			if fr.Inline {
				continue
			}
			if fr.Status != FileUploaded {
				t.Errorf("%s: %s %s (%s)", filepath.Base(f), fr.Filename, fr.Status, fr.Reason)
				continue
			}
			data, err := ingest.AttachmentBytes(raw, fr.Part)
			if err != nil {
				t.Fatal(err)
			}
			v := e.record("ContentVersion", fr.ContentVersionID)
			if v["Checksum"] != md5of(data) || v["FirstPublishLocationId"] != r.EmailMessageID {
				t.Errorf("%s: %s: version %v", filepath.Base(f), fr.Filename, v)
			}
			doc := v["ContentDocumentId"]
			if e.count("ContentDocumentLink", func(l map[string]any) bool { return l["ContentDocumentId"] == doc && l["LinkedEntityId"] == r.CaseID }) != 1 {
				t.Errorf("%s: %s is not on case %s", filepath.Base(f), fr.Filename, r.CaseID)
			}
			exts[strings.ToLower(filepath.Ext(fr.Filename))] = true
			uploaded++
		}
	}
	t.Logf("%d demo attachments uploaded, extensions %v", uploaded, exts)
	for _, want := range []string{".png", ".pdf", ".log"} {
		if !exts[want] {
			t.Errorf("no %s attachment of the demo set reached Salesforce", want)
		}
	}
}

// losingDoer loses the answer of the first multipart upload: Salesforce
// stored the file, the app saw a timeout.
type losingDoer struct {
	d     HTTPDoer
	lose  atomic.Int32
	sends atomic.Int32
}

func (l *losingDoer) Do(r *http.Request) (*http.Response, error) {
	l.sends.Add(1)
	resp, err := l.d.Do(r)
	if err == nil && l.lose.Add(-1) >= 0 {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, fmt.Errorf("simulated timeout: %w", context.DeadlineExceeded)
	}
	return resp, err
}

func TestMultipartUploadExactlyOnceAcrossLostAnswer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var n atomic.Int64
	up := e.uploader(&n)
	ld := &losingDoer{d: up.Doer}
	ld.lose.Store(1)
	up.Doer = ld
	cfg := Config{}
	cfg.Attachments.CompositeMax = 100 // everything goes multipart
	s := e.stage(cfg, WithUploader(up))
	in := newEmail("ann@customer.example", "mp1@customer.example", "Log")
	var b bytes.Buffer
	mailTo(&b, "ann@customer.example", "mp1@customer.example", "Log", tfile{"app.log", "text/plain", logData, false})
	m := e.recordRaw(b.Bytes(), &in)
	if _, err := s.Process(ctx, m, in); err == nil {
		t.Fatal("lost upload answer not reported")
	}
	before := e.calls()
	r, err := s.Process(ctx, m, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Files) != 1 || r.Files[0].Status != FileUploaded || r.Files[0].ContentDocumentID == "" {
		t.Fatalf("files %+v", r.Files)
	}
	if got := e.calls() - before; got != 1 || ld.sends.Load() != 1 {
		t.Errorf("retry: %d calls (want 1 query), %d uploads sent (want 1)", got, ld.sends.Load())
	}
	if n := e.count("ContentVersion", nil); n != 1 {
		t.Fatalf("%d ContentVersions, want 1", n)
	}
	if n := e.count("EmailMessage", nil); n != 1 {
		t.Fatalf("%d EmailMessages, want 1", n)
	}
}

func TestAttachmentConfig(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		ok   bool
	}{{"1048576", 1 << 20, true}, {"25MiB", 25 << 20, true}, {"25MB", 25e6, true}, {"1.5 kb", 1500, true}, {"2GiB", 2 << 30, true},
		{"", 0, false}, {"-1", 0, false}, {"ten", 0, false}, {"5 parsecs", 0, false}} {
		got, err := parseByteSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%q: %d %v", tc.in, got, err)
		}
	}
	var c AttachmentConfig
	c.SetDefaults()
	if !*c.Enabled || c.IncludeInline || c.MaxFileSize != 25<<20 || c.OnBlocked != "skip" || len(c.BlockedExtensions) == 0 {
		t.Errorf("defaults %+v", c)
	}
	if errs := c.Validate(); len(errs) != 0 {
		t.Errorf("defaults invalid: %v", errs)
	}
	bad := c
	bad.MaxFileSize, bad.OnBlocked, bad.Clamd, bad.CompositeMax = 3<<30, "quarantine", "http://x", 64<<20
	errs := bad.Validate()
	for _, want := range []string{"max_file_size", "on_blocked", "clamd", "composite_max"} {
		found := false
		for _, e := range errs {
			found = found || strings.HasPrefix(e.Error(), want+":")
		}
		if !found {
			t.Errorf("no %s error in %v", want, errs)
		}
	}
	full := Config{Attachments: bad}
	full.SetDefaults()
	found := false
	for _, e := range full.Validate() {
		found = found || strings.HasPrefix(e.Error(), "attachments.on_blocked:")
	}
	if !found {
		t.Error("Config.Validate does not prefix attachment errors with attachments.")
	}
	// The policy: by extension and by the declared or sniffed type.
	for _, tc := range []struct{ name, declared, sniffed, want string }{
		{"a.EXE", "application/pdf", "application/pdf", "blocked file type .exe"},
		{"a.pdf", "application/x-msdownload", "application/pdf", "blocked content type application/x-msdownload"},
		{"a.pdf", "application/pdf", "application/x-msdownload", "blocked content type application/x-msdownload (detected from the content)"},
		{"a.pdf", "application/pdf", "application/pdf", ""},
		{"", "text/plain", "text/plain", ""},
	} {
		if got := c.blockedReason(tc.name, tc.declared, tc.sniffed); got != tc.want {
			t.Errorf("%v: %q", tc, got)
		}
	}
}

func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"25MB", "1.5GiB", "0", "-3", "1e3KB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := parseByteSize(s); err == nil && v < 0 {
			t.Fatalf("%q: negative size %d", s, v)
		}
	})
}
