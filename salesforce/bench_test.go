package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func BenchmarkQuoteSOQL(b *testing.B) {
	s := strings.Repeat("O'Brien \\ 50%_off\n", 8)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		_ = QuoteSOQLLike(s)
	}
}

// BenchmarkQueryPage measures fetching and decoding one 2000-record page
// (Salesforce's default batch) into structs over loopback HTTP.
func BenchmarkQueryPage(b *testing.B) {
	f := newFakeOrg(b)
	var sb strings.Builder
	sb.WriteString(`{"totalSize":2000,"done":true,"records":[`)
	for i := range 2000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"attributes":{"type":"Contact","url":"/services/data/v62.0/sobjects/Contact/003D000000QV%04dAAA"},"Id":"003D000000QV%04dAAA","Email":"person%d@example.com","Account":{"attributes":{"type":"Account"},"Name":"Acme %d"}}`, i, i, i, i)
	}
	sb.WriteString(`]}`)
	page := []byte(sb.String())
	f.handle("GET /services/data/v62.0/query/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Sforce-Limit-Info", "api-usage=1/15000")
		_, _ = w.Write(page)
	})
	c := f.client()
	if err := c.Authenticate(context.Background()); err != nil {
		b.Fatal(err)
	}
	type contact struct {
		ID      string `json:"Id"`
		Email   string
		Account *struct{ Name string }
	}
	b.SetBytes(int64(len(page)))
	b.ResetTimer()
	for b.Loop() {
		var out []contact
		if err := c.Query(context.Background(), "SELECT Id, Email, Account.Name FROM Contact", &out); err != nil || len(out) != 2000 {
			b.Fatal(len(out), err)
		}
	}
}
