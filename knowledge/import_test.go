package knowledge

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImportFolder(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	k := New(Config{}, st)
	dir := filepath.Join(t.TempDir(), "kb")
	if err := os.CopyFS(dir, os.DirFS("testdata/kb")); err != nil {
		t.Fatal(err)
	}
	s, err := k.Import(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Read != 3 || s.Inserted != 3 {
		t.Fatalf("import %+v", s)
	}
	tests := []struct{ q, lang, id, title, url, lang2 string }{
		{"when is my refund paid", "en", "refunds.md", "Refund policy", "https://help.example.com/refunds", "en"},
		{"download invoice pdf", "en", "billing/invoices.html", "Invoices and receipts", "", "en"},
		{"Passwort vergessen", "de", "passwort.md", "Passwort zurücksetzen", "", "de"},
	}
	for _, tt := range tests {
		ms, err := k.Search(ctx, Query{Subject: tt.q, Language: tt.lang})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 || ms[0].ArticleID != tt.id || ms[0].Title != tt.title || ms[0].URL != tt.url || ms[0].Language != tt.lang2 || ms[0].Source != SourceFile {
			t.Fatalf("%q: %+v", tt.q, ms)
		}
		if strings.ContainsAny(ms[0].Snippet, "<>*[]") || strings.Contains(ms[0].Snippet, "alert") {
			t.Errorf("markup left in snippet %q", ms[0].Snippet)
		}
	}
	// Re-import after a file was removed and one changed: the removed one disappears.
	if err := os.Remove(filepath.Join(dir, "passwort.md")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "refunds.md"), []byte("# Refund policy\n\nRefunds take 5 days now.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = k.Import(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Deleted != 1 || s.Updated != 1 || s.Unchanged != 1 {
		t.Fatalf("re-import %+v", s)
	}
	if ms, _ := k.Search(ctx, Query{Subject: "Passwort vergessen", Language: "de"}); len(ms) != 0 {
		t.Fatalf("removed file still found: %+v", ms)
	}
}

func TestImportJSONL(t *testing.T) {
	ctx := context.Background()
	k := New(Config{}, openStore(t))
	p := writeJSONL(t, smallKB)
	s, err := k.Import(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if s.Read != len(smallKB) || s.Inserted != len(smallKB) {
		t.Fatalf("%+v", s)
	}
	// Importing the same file again changes nothing.
	s, err = k.Import(ctx, p)
	if err != nil || s.Unchanged != len(smallKB) || s.Inserted+s.Updated+s.Deleted != 0 {
		t.Fatalf("re-import %+v %v", s, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(`{"id":"a","title":"A"}`+"\n"+`{"title":"no id"}`+"\n"), 0o600)
	if _, err := k.Import(ctx, bad); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Fatalf("want error naming line 2, got %v", err)
	}
}
