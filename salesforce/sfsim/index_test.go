package sfsim

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFoldKeyMatchesEqualFold(t *testing.T) {
	words := []string{"a", "A", "k", "K", "\u212a", "s", "S", "ſ", "é", "É", "ß", "ẞ", "σ", "Σ", "ς", "İ", "i", "ı", "x@Y.example", "X@y.EXAMPLE", "1", "-"}
	rnd := rand.New(rand.NewPCG(3, 5))
	gen := func() string {
		var b strings.Builder
		for range 1 + rnd.IntN(4) {
			b.WriteString(words[rnd.IntN(len(words))])
		}
		return b.String()
	}
	for range 20000 {
		a, b := gen(), gen()
		if got, want := foldKey(a) == foldKey(b), strings.EqualFold(a, b); got != want {
			t.Fatalf("%q vs %q: keys equal %v, EqualFold %v", a, b, got, want)
		}
	}
}

// The index follows every way a live record changes: create, update,
// delete, and the rollback of an allOrNone request.
func TestIndexFollowsChanges(t *testing.T) {
	d := newOrgData()
	ix := d.index("Contact", "Email")
	d.setLive("Contact", "003A", record{"Id": "003A", "Email": "Ann@Example.com"})
	d.setLive("Contact", "003B", record{"Id": "003B", "Email": "ann@example.COM"})
	d.setLive("Contact", "003C", record{"Id": "003C", "Email": "bob@example.com"})
	if got := ix.candidates("ANN@example.com"); strings.Join(got, ",") != "003A,003B" {
		t.Fatalf("after creates: %v", got)
	}
	d.setLive("Contact", "003B", record{"Id": "003B", "Email": "bob@example.com"}) // update
	d.setLive("Contact", "003A", nil)                                              // delete
	if got := ix.candidates("ann@example.com"); len(got) != 0 {
		t.Fatalf("after update and delete: %v", got)
	}
	if got := ix.candidates("BOB@example.com"); strings.Join(got, ",") != "003B,003C" {
		t.Fatalf("bob: %v", got)
	}
	// A later index is built from what is there.
	num := d.index("Contact", "Score")
	d.setLive("Contact", "003D", record{"Id": "003D", "Score": 42.0})
	if got := num.candidates("42"); strings.Join(got, ",") != "003D" {
		t.Fatalf("numeric: %v", got)
	}
	// Rollback restores through setLive too.
	tx := &txn{d: d}
	tx.remember("Contact", "003C")
	d.setLive("Contact", "003C", record{"Id": "003C", "Email": "carol@example.com"})
	tx.rollbackTo(0)
	if got := ix.candidates("bob@example.com"); strings.Join(got, ",") != "003B,003C" {
		t.Fatalf("after rollback: %v", got)
	}
	if got := ix.candidates("carol@example.com"); len(got) != 0 {
		t.Fatalf("rolled-back value still indexed: %v", got)
	}
}
