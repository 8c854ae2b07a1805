package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// golden is one testdata/golden exchange.
type golden struct {
	Description string `json:"description"`
	Request     struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Query   string            `json:"query"`
		Headers map[string]string `json:"headers"`
		Form    map[string]string `json:"form"`
		Body    json.RawMessage   `json:"body"`
	} `json:"request"`
	Response struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"response"`
}

func loadGolden(t testing.TB, name string) golden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return g
}

// recorded is a request the fake org received.
type recorded struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
	Form                   url.Values
}

// fakeOrg is an httptest server that answers the token endpoint and REST
// paths from handlers, recording every request.
type fakeOrg struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	reqs     []recorded
	token    http.HandlerFunc
	handlers map[string]http.HandlerFunc // "METHOD /path"
	tokens   int
}

func newFakeOrg(t testing.TB) *fakeOrg {
	f := &fakeOrg{t: t, handlers: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.token = f.goldenToken("token_client_credentials")
	return f
}

func (f *fakeOrg) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := recorded{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		rec.Form, _ = url.ParseQuery(string(body))
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, rec)
	var h http.HandlerFunc
	if r.URL.Path == tokenPath {
		f.tokens++
		h = f.token
	} else {
		h = f.handlers[r.Method+" "+r.URL.EscapedPath()]
	}
	f.mu.Unlock()
	if h == nil {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h(w, r)
}

// handle routes "METHOD /path" to h.
func (f *fakeOrg) handle(route string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[route] = h
}

// replay answers with a golden response; the route is the golden request's.
func (f *fakeOrg) replay(name string) golden {
	g := loadGolden(f.t, name)
	f.handle(g.Request.Method+" "+g.Request.Path, writeGolden(g))
	return g
}

func writeGolden(g golden) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range g.Response.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(g.Response.Status)
		if len(g.Response.Body) > 0 && string(g.Response.Body) != "null" {
			_, _ = w.Write(g.Response.Body)
		}
	}
}

// goldenToken serves a golden token response with instance_url pointed at
// this server and a per-call access token ("…#1", "…#2").
func (f *fakeOrg) goldenToken(name string) http.HandlerFunc {
	g := loadGolden(f.t, name)
	return func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.Unmarshal(g.Response.Body, &m)
		if g.Response.Status == http.StatusOK {
			m["instance_url"] = f.srv.URL
			f.mu.Lock()
			m["access_token"] = m["access_token"].(string) + "#" + itoa(f.tokens)
			f.mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(g.Response.Status)
		_ = json.NewEncoder(w).Encode(m)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// requests returns the recorded requests except token calls.
func (f *fakeOrg) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recorded
	for _, r := range f.reqs {
		if r.Path != tokenPath {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeOrg) tokenRequests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recorded
	for _, r := range f.reqs {
		if r.Path == tokenPath {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeOrg) config() Config {
	cfg := Config{
		LoginURL: f.srv.URL,
		Auth:     AuthConfig{Flow: FlowClientCredentials, ClientID: "3MVG9example", ClientSecret: "example-secret"},
	}
	cfg.SetDefaults()
	return cfg
}

func (f *fakeOrg) client(opts ...Option) *Client {
	return f.clientWith(f.config(), opts...)
}

func (f *fakeOrg) clientWith(cfg Config, opts ...Option) *Client {
	f.t.Helper()
	c, err := New(context.Background(), cfg, opts...)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// jsonEqual compares two JSON documents structurally.
func jsonEqual(t testing.TB, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("JSON differs\n got: %s\nwant: %s", gb, wb)
	}
}

// logBuffer captures debug logs for secret-leak checks.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&syncWriter{w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func fixedNow() time.Time { return time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC) }

// failDoer fails the test if the client tries the network.
type failDoer struct{ t testing.TB }

func (d failDoer) Do(r *http.Request) (*http.Response, error) {
	d.t.Errorf("unexpected network call %s %s", r.Method, r.URL.Path)
	return nil, io.ErrUnexpectedEOF
}

// TestGoldenFixturesWellFormed keeps the shared fixtures usable by both the
// client and the emulator tests: every file parses, names a documented page,
// has a request and a status, and the required set is present.
func TestGoldenFixturesWellFormed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, p := range files {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		have[name] = true
		g := loadGolden(t, name)
		if g.Description == "" || g.Request.Method == "" || !strings.HasPrefix(g.Request.Path, "/services/") || g.Response.Status == 0 {
			t.Errorf("%s: incomplete fixture", name)
		}
		if g.Response.Status >= 400 && !strings.HasPrefix(name, "token_") {
			ae := decodeAPIError(g.Request.Method, g.Request.Path, g.Response.Status, http.Header{}, g.Response.Body)
			if strings.HasPrefix(ae.Code(), "HTTP_") {
				t.Errorf("%s: error body has no errorCode", name)
			}
		}
	}
	for _, want := range []string{
		"token_jwt_bearer", "token_client_credentials", "token_refresh_rotated", "token_invalid_grant",
		"create_201", "upsert_201_created", "upsert_200_updated", "upsert_204_updated_legacy", "upsert_300_multiple",
		"query_page1", "query_page2", "query_page3", "composite_success", "composite_allornone_failure",
		"composite_graph_success", "collections_create_partial", "collections_create_allornone_failure",
		"error_duplicates_detected", "error_invalid_session_id", "error_request_limit_exceeded",
	} {
		if !have[want] {
			t.Errorf("missing fixture %s", want)
		}
	}
}
