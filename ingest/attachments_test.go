package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Every attachment Parse lists in the golden set and in enmime's testdata is
// found again by its part path, with the same bytes (same SHA-256).
func TestAttachmentBytesMatchParse(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.eml")
	if len(files) == 0 {
		t.Fatal("no golden messages")
	}
	seen := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(raw, "")
		if err != nil {
			continue
		}
		for _, a := range p.Attachments {
			b, err := AttachmentBytes(raw, a.Part)
			if err != nil {
				t.Errorf("%s part %s: %v", f, a.Part, err)
				continue
			}
			sum := sha256.Sum256(b)
			if got := hex.EncodeToString(sum[:]); got != a.SHA256 || int64(len(b)) != a.Size {
				t.Errorf("%s part %s (%s): sha %s size %d, Parse said %s size %d", f, a.Part, a.Filename, got, len(b), a.SHA256, a.Size)
			}
			seen++
		}
	}
	if seen == 0 {
		t.Fatal("no attachments in the golden set")
	}
}

func TestAttachmentReaderMissingPart(t *testing.T) {
	raw := []byte("From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n")
	for _, part := range []string{"", "2", "1.1", "3.4.5"} {
		if _, err := AttachmentReader(raw, part); !errors.Is(err, ErrPartNotFound) {
			t.Errorf("part %q: err %v, want ErrPartNotFound", part, err)
		}
	}
	b, err := AttachmentBytes(raw, "1")
	if err != nil || string(b) != "body\r\n" {
		t.Errorf("part 1: %q %v", b, err)
	}
}

func FuzzAttachmentReader(f *testing.F) {
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n"), "1")
	f.Fuzz(func(t *testing.T, raw []byte, part string) {
		r, err := AttachmentReader(raw, part)
		if err == nil && r == nil {
			t.Fatal("nil reader without error")
		}
	})
}
