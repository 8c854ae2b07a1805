package salesforce_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/salesforce/sfsim"
)

// patternReader yields n bytes of a repeating pattern without holding them.
type patternReader struct{ n, off int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.off)]
	for i := range p {
		p[i] = byte((r.off + int64(i)) * 7 % 251)
	}
	r.off += int64(len(p))
	return len(p), nil
}

// A 25 MB file goes to the emulator as a multipart ContentVersion insert
// with memory that does not grow with the file (a JSON insert would hold
// 33 MB of base64).
func TestSimUploadContentVersion25MB(t *testing.T) {
	org, url := startSim(t, sfsim.Options{})
	c := newSimClient(t, ccConfig(url))
	ctx := context.Background()
	if err := c.Authenticate(ctx); err != nil {
		t.Fatal(err)
	}
	const size = 25 << 20
	h := md5.New()
	if _, err := io.Copy(h, &patternReader{n: size}); err != nil {
		t.Fatal(err)
	}
	wantMD5 := hex.EncodeToString(h.Sum(nil))

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	id, err := c.UploadContentVersion(ctx, map[string]any{"Title": "capture", "PathOnClient": "capture.pcap"}, "capture.pcap", &patternReader{n: size})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	// Client, transport and emulator share this process: everything they
	// allocated for the upload together stays far below the file's size.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
		t.Errorf("allocated %d bytes to upload %d: the file is being buffered", alloc, size)
	} else {
		t.Logf("allocated %d bytes to upload %d", alloc, size)
	}
	var rows []struct {
		ID                string  `json:"Id"`
		ContentDocumentID string  `json:"ContentDocumentId"`
		ContentSize       float64 `json:"ContentSize"`
		Checksum          string  `json:"Checksum"`
		Title             string  `json:"Title"`
	}
	q, err := salesforce.BuildSOQL("SELECT Id, ContentDocumentId, ContentSize, Checksum, Title FROM ContentVersion WHERE Id = ?", id)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Query(ctx, q, &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].ContentSize != size || rows[0].Checksum != wantMD5 || rows[0].ContentDocumentID == "" || rows[0].Title != "capture" {
		t.Fatalf("ContentVersion = %+v, want size %d checksum %s", rows, size, wantMD5)
	}
	if n := len(org.Records("ContentDocument")); n != 1 {
		t.Errorf("%d ContentDocuments, want 1", n)
	}
}

// After the org expires the session, a streamed upload fails as Temporary
// and the next attempt (new reader) succeeds on the refreshed session.
func TestSimUploadContentVersionExpiredSession(t *testing.T) {
	org, url := startSim(t, sfsim.Options{})
	c := newSimClient(t, ccConfig(url))
	ctx := context.Background()
	if err := c.Authenticate(ctx); err != nil {
		t.Fatal(err)
	}
	org.ExpireSessions()
	stream := struct{ io.Reader }{&patternReader{n: 1 << 20}}
	_, err := c.UploadContentVersion(ctx, map[string]any{"PathOnClient": "a.bin"}, "a.bin", stream)
	if salesforce.ErrorKind(err) != salesforce.KindAuth {
		t.Fatalf("err = %v (kind %v), want an auth error to retry", err, salesforce.ErrorKind(err))
	}
	var tmp interface{ Temporary() bool }
	if !errors.As(err, &tmp) || !tmp.Temporary() {
		t.Fatalf("err = %v, want Temporary", err)
	}
	id, err := c.UploadContentVersion(ctx, map[string]any{"PathOnClient": "a.bin"}, "a.bin", struct{ io.Reader }{&patternReader{n: 1 << 20}})
	if err != nil || id == "" {
		t.Fatalf("retry: id %q err %v", id, err)
	}
	if n := len(org.Records("ContentVersion")); n != 1 {
		t.Errorf("%d ContentVersions, want 1", n)
	}
}
