package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// Large raw messages are written as chunk rows; Raw must give back exactly
// the bytes recorded, at every size around the chunk boundaries, and a second
// copy of the same content must not add chunks.
func TestRawRoundTripsAcrossChunkSizes(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	sizes := []int{0, 1, blobChunk - 1, blobChunk, blobChunk + 1, 3*blobChunk - 7, 3 * blobChunk}
	for i, size := range sizes {
		raw := make([]byte, size)
		for j := range raw {
			raw[j] = byte(j*7 + i)
		}
		sum := sha256.Sum256(raw)
		m := NewMessage{Mailbox: "a", Folder: "INBOX", UIDValidity: 1, UID: uint32(i + 1), Raw: raw,
			SHA256: hex.EncodeToString(sum[:]), Size: int64(size), MessageID: hex.EncodeToString(sum[:4]) + "@x"}
		if _, err := st.RecordMessage(ctx, m); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		// The same content seen in another mailbox: one blob, one set of chunks.
		m.Mailbox = "b"
		if _, err := st.RecordMessage(ctx, m); err != nil {
			t.Fatalf("size %d again: %v", size, err)
		}
		got, err := st.Raw(ctx, m.SHA256)
		if err != nil {
			t.Fatalf("size %d: Raw: %v", size, err)
		}
		if !bytes.Equal(got, raw) {
			t.Errorf("size %d: Raw returned %d bytes that differ from the %d recorded", size, len(got), len(raw))
		}
		var chunks, want int
		if err := st.DB().QueryRowContext(ctx, `SELECT count(*) FROM blob_chunks WHERE sha256=?`, m.SHA256).Scan(&chunks); err != nil {
			t.Fatal(err)
		}
		if size > blobChunk {
			want = (size + blobChunk - 1) / blobChunk
		}
		if chunks != want {
			t.Errorf("size %d: %d chunk rows, want %d", size, chunks, want)
		}
	}
}
