package store

import (
	"context"
	"path/filepath"
	"testing"
)

func TestAttachmentClaims(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "t.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := AttachmentRow{ThreadKey: "T1", SHA256: "abc", MessageID: 1, Part: "2", Filename: "logo.png", Size: 10, Mode: "composite", State: AttachmentSending}
	if _, ok, err := st.ClaimAttachment(ctx, a); err != nil || !ok {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	b := a
	b.MessageID = 2
	if got, ok, err := st.ClaimAttachment(ctx, b); err != nil || ok || got.MessageID != 1 {
		t.Fatalf("second message claimed a live upload: %+v %v %v", got, ok, err)
	}
	if err := st.SetAttachmentState(ctx, "T1", "abc", 1, AttachmentFailed, "", "", "refused"); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := st.ClaimAttachment(ctx, b); err != nil || !ok || got.MessageID != 2 || got.LastError != "" {
		t.Fatalf("a failed upload was not taken over: %+v %v %v", got, ok, err)
	}
	if err := st.SetAttachmentState(ctx, "T1", "abc", 2, AttachmentCommitted, "068x", "069y", ""); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := st.ClaimAttachment(ctx, b); ok && got.State != AttachmentCommitted {
		t.Fatalf("a committed row went back: %+v", got)
	}
	got, ok, err := st.Attachment(ctx, "T1", "abc")
	if err != nil || !ok || got.State != AttachmentCommitted || got.ContentVersionID != "068x" || got.ContentDocumentID != "069y" {
		t.Fatalf("row %+v %v %v", got, ok, err)
	}
	if rows, err := st.AttachmentsByMessage(ctx, 2); err != nil || len(rows) != 1 {
		t.Fatalf("by message: %v %v", rows, err)
	}
}
