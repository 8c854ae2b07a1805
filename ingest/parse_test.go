package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden.json")

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestParseGolden parses every testdata/golden/*.eml and compares the result
// (or the error) with its .golden.json.
func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".eml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(raw, sha(raw))
			var got any = p
			if err != nil {
				got = map[string]string{"error": err.Error()}
			}
			b, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, '\n')
			golden := strings.TrimSuffix(f, ".eml") + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestParseGolden -update)", err)
			}
			if !bytes.Equal(b, want) {
				t.Errorf("parse %s differs from %s:\n got: %s\nwant: %s", f, golden, b, want)
			}
		})
	}
}

// TestParseProperties checks behaviours the golden files only show implicitly.
func TestParseProperties(t *testing.T) {
	read := func(name string) *Parsed {
		t.Helper()
		raw, err := os.ReadFile("testdata/golden/" + name + ".eml")
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(raw, sha(raw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	if p := read("no_message_id"); !p.Synthesized || !strings.HasSuffix(p.MessageID, "@triage.invalid") {
		t.Errorf("no_message_id: got %q synthesized=%v", p.MessageID, p.Synthesized)
	}
	// The synthesized id is stable: same bytes, same id.
	raw, _ := os.ReadFile("testdata/golden/no_message_id.eml")
	a, _ := Parse(raw, sha(raw))
	b, _ := Parse(raw, sha(raw))
	if a.MessageID != b.MessageID {
		t.Errorf("synthesized Message-ID not stable: %q vs %q", a.MessageID, b.MessageID)
	}
	if p := read("unknown_charset"); len(p.Warnings) == 0 || !strings.Contains(p.Text, "Café") {
		t.Errorf("unknown_charset: text %q warnings %q", p.Text, p.Warnings)
	}
	if p := read("bounce"); !p.HasReturnPath || p.ReturnPath != "" || p.ReportType != "delivery-status" {
		t.Errorf("bounce: return path %q/%v report %q", p.ReturnPath, p.HasReturnPath, p.ReportType)
	}
	if p := read("html_only"); strings.Contains(p.Text, "<b>") || !strings.Contains(p.Text, "50%") || strings.Contains(p.Text, "alert(") {
		t.Errorf("html_only: text not converted: %q", p.Text)
	}
	if p := read("alternative"); strings.TrimSpace(p.Text) != "The reset link does not work." {
		t.Errorf("alternative: text/plain not preferred: %q", p.Text)
	}
	p := read("rfc2231")
	if len(p.Attachments) != 2 || p.Attachments[0].Filename != "Rechnung März 2026.pdf" || p.Attachments[1].Filename != "übersicht.txt" {
		t.Errorf("rfc2231: attachments %+v", p.Attachments)
	}
	if p.Attachments[1].Size != 5 || p.Attachments[1].SHA256 != sha([]byte("hello")) {
		t.Errorf("rfc2231: attachment size/hash %+v", p.Attachments[1])
	}
	if _, err := Parse([]byte("this is not a header line\r\n\r\nbody"), ""); err == nil {
		t.Error("garbage header: want an error")
	}
}

// TestParseHostile feeds inputs built to exhaust memory or recursion.
func TestParseHostile(t *testing.T) {
	deep := func(n int) []byte {
		var b bytes.Buffer
		b.WriteString("From: a@b.c\r\nMessage-ID: <deep@x>\r\n")
		for i := 0; i < n; i++ {
			b.WriteString("Content-Type: multipart/mixed; boundary=\"b" + strings.Repeat("x", i%5) + strconv.Itoa(i) + "\"\r\n\r\n--b" + strings.Repeat("x", i%5) + strconv.Itoa(i) + "\r\n")
		}
		b.WriteString("Content-Type: text/plain\r\n\r\nleaf\r\n")
		return b.Bytes()
	}
	wide := func(n int) []byte {
		var b bytes.Buffer
		b.WriteString("From: a@b.c\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n")
		for i := 0; i < n; i++ {
			b.WriteString("--zz\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n")
		}
		b.WriteString("--zz--\r\n")
		return b.Bytes()
	}
	nestedMsgs := func(n int) []byte {
		s := "From: a@b.c\r\nSubject: leaf\r\n\r\nbody\r\n"
		for i := 0; i < n; i++ {
			s = "From: a@b.c\r\nContent-Type: message/rfc822\r\n\r\n" + s
		}
		return []byte(s)
	}
	cases := []struct {
		name    string
		raw     []byte
		warning string
	}{
		{"deep multipart", deep(200), "nested deeper"},
		{"many parts", wide(2000), "more than 500 MIME parts"},
		{"deep rfc822", nestedMsgs(100), "nested deeper"},
		{"huge header", append([]byte("From: a@b.c\r\nX-Big: "+strings.Repeat("a", 2<<20)+"\r\n\r\n"), "body"...), ""},
		{"huge text", []byte("From: a@b.c\r\n\r\n" + strings.Repeat("word ", 500_000)), "truncated"},
		{"binary garbage", []byte("From: a@b.c\r\nContent-Type: multipart/mixed; boundary=\"\"\r\n\r\n\x00\xff\xfe--\r\n"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse(c.raw, "")
			if c.name == "huge header" {
				if err == nil {
					t.Fatal("want an error for a header above the limit")
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(p.Text) > maxTextBytes {
				t.Errorf("text %d bytes, limit %d", len(p.Text), maxTextBytes)
			}
			if c.warning != "" && !strings.Contains(strings.Join(p.Warnings, "\n"), c.warning) {
				t.Errorf("warnings %q lack %q", p.Warnings, c.warning)
			}
		})
	}
}

// TestParseCorpus parses every SpamAssassin message and enmime's test mail:
// none may panic, and real mail must not fail outright.
func TestParseCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/spamassassin/*/*.eml")
	if len(files) < 400 {
		t.Fatalf("spamassassin corpus: %d files, want 400", len(files))
	}
	failed := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := parse(raw, sha(raw)) // no recover: a panic fails the test
		if err != nil {
			failed++
			t.Logf("%s: %v", f, err)
			continue
		}
		if p.MessageID == "" {
			t.Errorf("%s: empty Message-ID", f)
		}
		if _, err := json.Marshal(p); err != nil {
			t.Errorf("%s: marshal: %v", f, err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d spamassassin messages failed to parse", failed, len(files))
	}

	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/jhillyerd/enmime/v2").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Skipf("enmime module not in the module cache: %v", err)
	}
	var enm []string
	_ = filepath.WalkDir(filepath.Join(dir, "testdata"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".raw") || strings.HasSuffix(path, ".eml")) {
			enm = append(enm, path)
		}
		return nil
	})
	if len(enm) == 0 {
		t.Skipf("no enmime testdata under %s", dir)
	}
	for _, f := range enm {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parse(raw, sha(raw)); err != nil {
			t.Logf("enmime %s: %v", filepath.Base(f), err) // hostile by design: an error is fine, a panic is not
		}
	}
	t.Logf("parsed %d spamassassin and %d enmime messages", len(files), len(enm))
}

// FuzzParse: no input may panic, hang or produce invalid UTF-8 text.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/golden/*.eml")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n--x--"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := parse(raw, "")
		if err != nil {
			return
		}
		if p.MessageID == "" {
			t.Fatal("empty Message-ID")
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	})
}

func TestMarshalParsedKeepsHTML(t *testing.T) {
	p := &Parsed{MessageID: "x@y", HTML: "<p>a & b</p>"}
	b, err := marshalParsed(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Parsed
	if err := json.Unmarshal(b, &back); err != nil || back.HTML != p.HTML {
		t.Fatalf("round trip: %v %q", err, back.HTML)
	}
	if !bytes.Contains(b, []byte("<p>a & b</p>")) || bytes.HasSuffix(b, []byte("\n")) {
		t.Errorf("encoded %s", b)
	}
}
