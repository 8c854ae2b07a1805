package salesforce

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecodeAPIError: any body, any status decodes without panicking into
// an error with a code and a classification that is either permanent or
// temporary, never both.
func FuzzDecodeAPIError(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "error_*.json"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(400, b)
	}
	f.Add(300, []byte(`["/a","/b"]`))
	f.Add(401, []byte(`{"error":"invalid_token"}`))
	f.Add(500, []byte(`<html>`))
	f.Add(400, []byte(`[{"statusCode":"X","duplicateResult":{"matchResults":[{"matchRecords":[{"record":{"Id":1}}]}]}}]`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			return
		}
		ae := decodeAPIError("GET", "/p", status, http.Header{}, body)
		if ae.Code() == "" {
			t.Fatal("empty code")
		}
		if ae.Permanent() == ae.Temporary() {
			t.Fatal("both or neither permanent and temporary")
		}
		_ = ae.Error()
		_ = ae.DuplicateResult().MatchedIDs()
		if ae.RetryAfter() < 0 {
			t.Fatal("negative RetryAfter")
		}
	})
}

// FuzzParseLimitInfo: parsed usage is never negative and max is positive.
func FuzzParseLimitInfo(f *testing.F) {
	for _, s := range []string{"api-usage=18/15000", "api-usage=25/5000; per-app-api-usage=17/250(appName=x)", "api-usage=/", "api-usage=1/-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, m, ok := parseLimitInfo(s)
		if ok && (u < 0 || m <= 0) {
			t.Fatalf("%q → %d/%d", s, u, m)
		}
		if !ok && (u != 0 || m != 0) {
			t.Fatalf("%q → values without ok", s)
		}
		if ok && !strings.Contains(strings.ToLower(s), "api-usage") {
			t.Fatalf("%q parsed without api-usage", s)
		}
	})
}
