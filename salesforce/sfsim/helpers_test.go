package sfsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testClientID     = "3MVG9example"
	testClientSecret = "example-secret"
)

// fakeClock is an injected clock tests advance by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is an emulator behind a real HTTP server, with a session.
type env struct {
	t     testing.TB
	srv   *Server
	hs    *httptest.Server
	clock *fakeClock
	token string
}

func newEnv(t testing.TB, opts Options) *env {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC)}
	if opts.ClientID == "" {
		opts.ClientID, opts.ClientSecret = testClientID, testClientSecret
	}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e := &env{t: t, srv: srv, hs: hs, clock: clock}
	e.token = e.login()
	return e
}

// login runs the client credentials flow.
func (e *env) login() string {
	e.t.Helper()
	status, body := e.form("/services/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {testClientSecret}})
	if status != 200 {
		e.t.Fatalf("login: %d %v", status, body)
	}
	return body.(map[string]any)["access_token"].(string)
}

func (e *env) form(path string, v url.Values) (int, any) {
	e.t.Helper()
	resp, err := http.PostForm(e.hs.URL+path, v)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, decodeAny(e.t, resp.Body)
}

func decodeAny(t testing.TB, r io.Reader) any {
	t.Helper()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return string(data) // e.g. the HTML of a 502 from a proxy
	}
	return v
}

type result struct {
	status int
	header http.Header
	body   any
}

// do sends an authenticated data API request; path is relative to
// /services/data/v62.0 unless it starts with /services or /_sfsim.
func (e *env) do(method, path string, body any, headers ...string) result {
	e.t.Helper()
	if !strings.HasPrefix(path, "/services") && !strings.HasPrefix(path, "/_sfsim") {
		path = "/services/data/v62.0" + path
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.hs.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	return result{status: resp.StatusCode, header: resp.Header, body: decodeAny(e.t, resp.Body)}
}

// q runs a SOQL query and returns the decoded body.
func (e *env) q(soql string) result {
	e.t.Helper()
	return e.do("GET", "/query?q="+url.QueryEscape(soql), nil)
}

func (e *env) mustCreate(object string, fields map[string]any) string {
	e.t.Helper()
	r := e.do("POST", "/sobjects/"+object, fields)
	if r.status != 201 {
		e.t.Fatalf("create %s: %d %v", object, r.status, r.body)
	}
	return r.body.(map[string]any)["id"].(string)
}

// errorCode returns the first errorCode of a REST error body.
func errorCode(body any) string {
	arr, ok := body.([]any)
	if !ok || len(arr) == 0 {
		return ""
	}
	m, _ := arr[0].(map[string]any)
	code, _ := m["errorCode"].(string)
	return code
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func arr(v any) []any          { a, _ := v.([]any); return a }

func benchEnv(b *testing.B) *env {
	return newEnv(b, Options{DailyAPILimit: 1 << 30})
}

// raw sends an authenticated request to an absolute path on the emulator.
func (e *env) raw(method, path string) result {
	e.t.Helper()
	req, err := http.NewRequest(method, e.hs.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	return result{status: resp.StatusCode, header: resp.Header, body: decodeAny(e.t, resp.Body)}
}
