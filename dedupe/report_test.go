package dedupe

import (
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReturnedRefs(t *testing.T) {
	// enmime's DSN samples carry a placeholder instead of the original: no ids.
	raw, err := os.ReadFile("testdata/enmime/dsn_simple_dsn.raw")
	if err != nil {
		t.Fatal(err)
	}
	if ids := returnedRefs(raw); len(ids) != 0 {
		t.Fatalf("ids from a placeholder: %v", ids)
	}
	raw = []byte("Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n" +
		"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <orig@x.example>\r\nIn-Reply-To: <parent@y.example>\r\n" +
		"References: <root@y.example>\r\n <parent@y.example>\r\n\r\n--b--\r\n")
	if got, want := returnedRefs(raw), []string{"orig@x.example", "parent@y.example", "root@y.example", "parent@y.example"}; !slices.Equal(got, want) {
		t.Fatalf("returnedRefs = %v, want %v", got, want)
	}
}

func FuzzReturnedRefs(f *testing.F) {
	for _, name := range []string{"dsn_simple_dsn.raw", "dsn_multi_recipient_dsn.raw", "mail_attachment.raw"} {
		if b, err := os.ReadFile("testdata/enmime/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, id := range returnedRefs(raw) {
			if id == "" || strings.ContainsAny(id, "<>") {
				t.Fatalf("bad id %q", id)
			}
		}
	})
}

func FuzzTokenKeys(f *testing.F) {
	tc := newTokenCodec(DefaultThreadTokenFormat)
	f.Add("Re: x [ref:T-abcdefghijklmnopqrstuvwxyz]")
	f.Add("[REF:T-ABCDEFGHIJKLMNOPQRSTUVWXYZ][ref:T-22222222222222222222222222]")
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range tc.Keys(s) {
			if len(k) != ThreadKeyLen || k != strings.ToLower(k) || !utf8.ValidString(k) {
				t.Fatalf("bad key %q from %q", k, s)
			}
			if !slices.Contains(tc.Keys(tc.Token(k)), k) {
				t.Fatalf("token of %q does not round-trip", k)
			}
		}
	})
}
