package salesforce

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestErrorClassificationFromGolden(t *testing.T) {
	for _, tc := range []struct {
		golden     string
		code       string
		kind       Kind
		retryAfter bool
	}{
		{"error_duplicates_detected", "DUPLICATES_DETECTED", KindPermanent, false},
		{"error_request_limit_exceeded", "REQUEST_LIMIT_EXCEEDED", KindRateLimited, true},
		{"error_malformed_query", "MALFORMED_QUERY", KindPermanent, false},
		{"error_invalid_field", "INVALID_FIELD", KindPermanent, false},
		{"error_required_field_missing", "REQUIRED_FIELD_MISSING", KindPermanent, false},
		{"error_duplicate_value", "DUPLICATE_VALUE", KindPermanent, false},
		{"error_entity_is_deleted", "ENTITY_IS_DELETED", KindPermanent, false},
		{"error_not_found", "NOT_FOUND", KindPermanent, false},
		{"error_unable_to_lock_row", "UNABLE_TO_LOCK_ROW", KindTransient, false},
		{"error_server_unavailable", "SERVER_UNAVAILABLE", KindTransient, false},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			g := loadGolden(t, tc.golden)
			h := http.Header{}
			for k, v := range g.Response.Headers {
				h.Set(k, v)
			}
			ae := decodeAPIError(g.Request.Method, g.Request.Path, g.Response.Status, h, g.Response.Body)
			if ae.Code() != tc.code || ae.Kind() != tc.kind {
				t.Errorf("code=%s kind=%v, want %s %v", ae.Code(), ae.Kind(), tc.code, tc.kind)
			}
			if ae.Permanent() != (tc.kind == KindPermanent) || ae.Temporary() == ae.Permanent() {
				t.Errorf("Permanent=%v Temporary=%v", ae.Permanent(), ae.Temporary())
			}
			if (ae.RetryAfter() > 0) != tc.retryAfter {
				t.Errorf("RetryAfter = %v", ae.RetryAfter())
			}
			if !strings.Contains(ae.Error(), tc.code) {
				t.Errorf("Error() = %q", ae.Error())
			}
		})
	}
}

func TestDuplicatesDetectedThroughCreate(t *testing.T) {
	f := newFakeOrg(t)
	f.replay("error_duplicates_detected")
	c := f.client()
	_, err := c.Create(context.Background(), "Contact", map[string]any{"LastName": "Smith", "Email": "jsmith@example.com"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 400 {
		t.Fatalf("err = %v", err)
	}
	dr := ae.DuplicateResult()
	if dr == nil || dr.DuplicateRule != "Standard_Contact_Duplicate_Rule" || dr.AllowSave {
		t.Fatalf("duplicateResult = %+v", dr)
	}
	if ids := dr.MatchedIDs(); len(ids) != 1 || ids[0] != "003R000000DDMlUIAX" {
		t.Errorf("matched = %v", ids)
	}
	// Retrying with the duplicate-rule header is the caller's choice.
	_, _ = c.Create(context.Background(), "Contact", map[string]any{"LastName": "Smith"}, AllowDuplicateSave(true))
	if h := f.requests()[1].Header.Get("Sforce-Duplicate-Rule-Header"); h != "allowSave=true" {
		t.Errorf("duplicate header = %q", h)
	}
}

func TestRetryAfterHeaderAndDailyLimit(t *testing.T) {
	ae := decodeAPIError("GET", "/x", 403, http.Header{"Retry-After": {"120"}}, []byte(`[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`))
	if ae.RetryAfter() != 2*time.Minute {
		t.Errorf("Retry-After header ignored: %v", ae.RetryAfter())
	}
	ae = decodeAPIError("GET", "/x", 403, http.Header{}, []byte(`[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`))
	if ae.RetryAfter() < time.Hour {
		t.Errorf("daily limit retry = %v, want ≥ 1h", ae.RetryAfter())
	}
	ae = decodeAPIError("GET", "/x", 403, http.Header{}, []byte(`[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`))
	if ae.RetryAfter() <= 0 || ae.RetryAfter() >= time.Hour {
		t.Errorf("concurrency retry = %v", ae.RetryAfter())
	}
}

func TestOddErrorBodies(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		code   string
		kind   Kind
	}{
		{502, `<html>Bad Gateway</html>`, "HTTP_502", KindTransient},
		{500, ``, "HTTP_500", KindTransient},
		{401, `{"error":"invalid_token","error_description":"expired"}`, "INVALID_TOKEN", KindAuth},
		{400, `{"errorCode":"INVALID_TYPE","message":"sObject type 'Foo' is not supported."}`, "INVALID_TYPE", KindPermanent},
		{429, `[]`, "HTTP_429", KindRateLimited},
		{300, `["/services/data/v62.0/sobjects/Account/001"]`, "MULTIPLE_CHOICES", KindPermanent},
	} {
		ae := decodeAPIError("GET", "/p", tc.status, http.Header{}, []byte(tc.body))
		if ae.Code() != tc.code || ae.Kind() != tc.kind {
			t.Errorf("%d %q: code=%s kind=%v, want %s %v", tc.status, tc.body, ae.Code(), ae.Kind(), tc.code, tc.kind)
		}
	}
}

// errDoer returns a fixed transport error.
type errDoer struct{ err error }

func (d errDoer) Do(*http.Request) (*http.Response, error) { return nil, d.err }

func TestTransportErrorsAreTransient(t *testing.T) {
	cfg := Config{LoginURL: "http://127.0.0.1:1", Auth: AuthConfig{Flow: FlowClientCredentials, ClientID: "a", ClientSecret: "b"}}
	for _, e := range []error{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, errors.New("connection reset by peer")} {
		c, err := New(context.Background(), cfg, WithHTTPClient(errDoer{e}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Limits(context.Background())
		var te *TransportError
		if !errors.As(err, &te) || !te.Temporary() || te.Permanent() || ErrorKind(err) != KindTransient {
			t.Errorf("err = %v, want transient *TransportError", err)
		}
	}
}

func TestTimeoutIsTransientAndCancelIsNot(t *testing.T) {
	f := newFakeOrg(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.handle("GET /services/data/v62.0/limits/", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c := f.client()
	if err := c.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A per-call timeout stands in for Config.Timeout; the handler never answers.
	_, err := c.do(context.Background(), request{method: "GET", path: "/services/data/v62.0/limits/", opts: []CallOption{Timeout(20 * time.Millisecond)}})
	var te *TransportError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout err = %v, want *TransportError wrapping DeadlineExceeded", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { cancel() }()
	_, err = c.do(ctx, request{method: "GET", path: "/services/data/v62.0/limits/"})
	if !errors.Is(err, context.Canceled) || errors.As(err, &te) {
		t.Errorf("cancel err = %v, want context.Canceled, not a transport error", err)
	}
}

func TestErrorsCarryNoQueryData(t *testing.T) {
	f := newFakeOrg(t)
	c := f.client()
	f.handle("GET /services/data/v62.0/query/", func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		_ = conn.Close() // connection reset mid-request
	})
	var out []map[string]any
	err := c.Query(context.Background(), "SELECT Id FROM Contact WHERE Email = "+QuoteSOQL("secret.person@example.com"), &out)
	if err == nil {
		t.Fatal("want an error")
	}
	if ErrorKind(err) != KindTransient {
		t.Errorf("reset: kind = %v", ErrorKind(err))
	}
	if strings.Contains(err.Error(), "secret.person") || strings.Contains(err.Error(), "Bearer") {
		t.Errorf("error leaks request data: %v", err)
	}
}
