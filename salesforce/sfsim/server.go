// Package sfsim is a local emulator of the Salesforce REST API for tests, the
// demo and benchmarks: OAuth 2.0 token endpoint (client credentials, JWT
// bearer, refresh token), sObject CRUD and upsert by external ID, describe,
// a SOQL subset with pagination, SOSL and parameterizedSearch over Knowledge,
// composite, composite graph and sObject Collections, enforced like a real
// org (types, lengths, required fields, picklists, field access, unique
// external IDs, the standard Contact duplicate rule), with Salesforce's
// status codes, bodies and Sforce-Limit-Info header, a daily API limit,
// fault injection and optional persistence.
//
// The schema of the project's custom fields is read from the DX source in
// package sfdx, the same files an admin deploys, so the two cannot drift.
package sfsim

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/triage-dev/triage/salesforce/sfdx"
)

// Options configure an emulated org.
type Options struct {
	// ClientID and ClientSecret are the connected app's consumer key and
	// secret (client credentials and refresh token flows; ClientID is also the
	// JWT issuer).
	ClientID, ClientSecret string
	// JWTCert or JWTPublicKey verifies JWT bearer assertions (RS256); without
	// either, the JWT bearer flow is refused.
	JWTCert      *x509.Certificate
	JWTPublicKey crypto.PublicKey
	// JWTAudiences are accepted "aud" values besides https://login.salesforce.com,
	// https://test.salesforce.com and the emulator's own URL.
	JWTAudiences []string
	// Username is the integration user's name (JWT "sub" must match when set).
	Username string
	// RefreshTokens are pre-issued refresh tokens (as if from a web server
	// flow); RotateRefreshTokens makes each refresh return a new one and
	// revoke the old.
	RefreshTokens       []string
	RotateRefreshTokens bool
	// Seed is "" or "empty" for an empty org, "demo" for the demo org.
	Seed string
	// DataFile, when set, persists the org as JSON (loaded at start when it
	// exists, instead of the seed; written atomically after every change).
	DataFile string
	// PageSize is the query batch size (default 2000).
	PageSize int
	// DailyAPILimit is the DailyApiRequests allocation (default 15000).
	DailyAPILimit int
	// SessionLifetime is how long an access token stays valid after it is
	// issued (default 2h); then calls get 401 INVALID_SESSION_ID. Salesforce
	// times sessions out on inactivity; a fixed lifetime keeps tests
	// deterministic and still exercises the client's re-authentication.
	SessionLifetime time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default: discard).
	Logger *slog.Logger
	// APIVersions lists the supported versions, e.g. "62.0" (default 31.0–66.0).
	APIVersions []string
	// ExtraFields adds custom fields (tests that need an org with more fields).
	ExtraFields []sfdx.Field
	// Faults are active from the start.
	Faults Faults
	// RandSeed seeds fault injection (0: fixed default).
	RandSeed uint64
	// EnforcePermissionSet limits the API user to what the project's
	// Triage_Integration permission set grants (object CRUD and field-level
	// security on the project's custom fields).
	EnforcePermissionSet bool
	// MaxHang bounds a "timeout" fault when the client never gives up
	// (default 60s).
	MaxHang time.Duration
}

// Faults configure injected failures on the data API and token endpoint.
type Faults struct {
	ErrorRate     float64  `json:"error_rate"`
	Errors        []string `json:"errors,omitempty"`
	LatencyMS     int      `json:"latency_ms"`
	OutageSeconds int      `json:"outage_seconds"`
}

// FaultKinds are the values accepted in Faults.Errors.
var FaultKinds = []string{"SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "timeout", "INVALID_SESSION_ID", "UNKNOWN_EXCEPTION", "BAD_GATEWAY"}

// Stats count what the org has served.
type Stats struct {
	APICalls        int64            `json:"api_calls"`   // calls counted against the daily limit
	ByEndpoint      map[string]int64 `json:"by_endpoint"` // "POST /composite", "GET /sobjects/Case/{id}", ...
	LimitRejections int64            `json:"limit_rejections"`
	FaultsInjected  int64            `json:"faults_injected"`
	AuthFailures    int64            `json:"auth_failures"`
	TokensIssued    int64            `json:"tokens_issued"`
	DailyAPIUsed    int              `json:"daily_api_used"`
	DailyAPILimit   int              `json:"daily_api_limit"`
}

type session struct {
	user    string
	issued  time.Time
	refresh string
}

// Server is an emulated org; it implements http.Handler.
type Server struct {
	opts           Options
	schema         *schema
	versions       []string
	defaultVersion string
	now            func() time.Time
	log            *slog.Logger
	pubKey         crypto.PublicKey
	orgID, userID  string
	access         *access // nil: no permission enforcement

	saveMu  sync.Mutex // orders snapshots so the newest lands last
	orgMu   sync.Mutex // guards data and cursors
	data    *orgData
	cursors map[string]*cursor
	curSeq  int64

	mu          sync.Mutex // guards everything below
	sessions    map[string]*session
	refresh     map[string]bool
	faults      Faults
	outageUntil time.Time
	rng         *rand.Rand
	usedToday   int
	usageDay    string
	stats       Stats
}

// New creates an org from options: schema, seed or data file.
func New(opts Options) (*Server, error) {
	if opts.PageSize <= 0 {
		opts.PageSize = 2000
	}
	if opts.DailyAPILimit <= 0 {
		opts.DailyAPILimit = 15000
	}
	if opts.SessionLifetime <= 0 {
		opts.SessionLifetime = 2 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.MaxHang <= 0 {
		opts.MaxHang = time.Minute
	}
	if opts.Username == "" {
		opts.Username = "integration@triage.example"
	}
	if len(opts.APIVersions) == 0 {
		for v := 31; v <= 66; v++ {
			opts.APIVersions = append(opts.APIVersions, fmt.Sprintf("%d.0", v))
		}
	}
	custom, err := sfdx.Fields()
	if err != nil {
		return nil, err
	}
	sch, err := buildSchema(append(custom, opts.ExtraFields...))
	if err != nil {
		return nil, err
	}
	var acc *access
	if opts.EnforcePermissionSet {
		if acc, err = newAccess(custom); err != nil {
			return nil, err
		}
	}
	s := &Server{
		opts: opts, schema: sch, now: opts.Now, log: opts.Logger,
		orgID: makeID("00D", 7), userID: makeID("005", 7),
		cursors: map[string]*cursor{}, sessions: map[string]*session{}, refresh: map[string]bool{},
		rng:    rand.New(rand.NewPCG(opts.RandSeed, 0x5f5)),
		access: acc,
	}
	s.stats.ByEndpoint = map[string]int64{}
	for _, v := range opts.APIVersions {
		if _, err := strconv.ParseFloat(v, 64); err != nil || !strings.Contains(v, ".") {
			return nil, fmt.Errorf("sfsim: bad API version %q (want e.g. 62.0)", v)
		}
		s.versions = append(s.versions, v)
	}
	sort.Slice(s.versions, func(i, j int) bool { return versionNum(s.versions[i]) < versionNum(s.versions[j]) })
	s.defaultVersion = s.versions[len(s.versions)-1]
	switch {
	case opts.JWTPublicKey != nil:
		s.pubKey = opts.JWTPublicKey
	case opts.JWTCert != nil:
		s.pubKey = opts.JWTCert.PublicKey
	}
	for _, rt := range opts.RefreshTokens {
		s.refresh[rt] = true
	}
	if err := s.SetFaultsChecked(opts.Faults); err != nil {
		return nil, err
	}
	if err := s.loadInitial(); err != nil {
		return nil, err
	}
	return s, nil
}

func versionNum(v string) float64 { f, _ := strconv.ParseFloat(v, 64); return f }

// loadInitial loads the data file when it exists, else the seed.
func (s *Server) loadInitial() error {
	if s.opts.DataFile != "" {
		raw, err := os.ReadFile(s.opts.DataFile)
		switch {
		case err == nil:
			d := newOrgData()
			if err := decodeJSON(raw, d); err != nil {
				return fmt.Errorf("sfsim: data file %s: %w", s.opts.DataFile, err)
			}
			for _, m := range []map[string]map[string]record{d.Records, d.Deleted} {
				for obj, rs := range m {
					if s.schema.object(obj) == nil {
						return fmt.Errorf("sfsim: data file %s: unknown object %s", s.opts.DataFile, obj)
					}
					for _, r := range rs {
						normalizeNumbers(r)
					}
				}
			}
			s.data = d
			return nil
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("sfsim: %w", err)
		}
	}
	s.data = newOrgData()
	switch s.opts.Seed {
	case "", "empty":
	case "demo":
		if err := s.loadSeed(demoSeed, "seed/demo"); err != nil {
			return err
		}
	default:
		return fmt.Errorf("sfsim: unknown seed %q (want empty or demo)", s.opts.Seed)
	}
	if s.opts.DataFile != "" {
		return s.Save()
	}
	return nil
}

// SetFaults replaces the injected faults (invalid error names are dropped;
// use SetFaultsChecked to get an error instead).
func (s *Server) SetFaults(f Faults) {
	var kinds []string
	for _, e := range f.Errors {
		if validFault(e) {
			kinds = append(kinds, e)
		}
	}
	f.Errors = kinds
	_ = s.SetFaultsChecked(f)
}

// SetFaultsChecked validates and replaces the injected faults. A positive
// OutageSeconds starts an outage now.
func (s *Server) SetFaultsChecked(f Faults) error {
	if f.ErrorRate < 0 || f.ErrorRate > 1 {
		return fmt.Errorf("sfsim: error_rate must be within 0..1, got %v", f.ErrorRate)
	}
	if f.LatencyMS < 0 || f.OutageSeconds < 0 {
		return errors.New("sfsim: latency_ms and outage_seconds must not be negative")
	}
	for _, e := range f.Errors {
		if !validFault(e) {
			return fmt.Errorf("sfsim: unknown fault %q (want one of %s)", e, strings.Join(FaultKinds, ", "))
		}
	}
	if f.ErrorRate > 0 && len(f.Errors) == 0 {
		f.Errors = []string{"SERVER_UNAVAILABLE"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.outageUntil = time.Time{}
	if f.OutageSeconds > 0 {
		s.outageUntil = s.now().Add(time.Duration(f.OutageSeconds) * time.Second)
	}
	return nil
}

func validFault(e string) bool {
	for _, k := range FaultKinds {
		if k == e {
			return true
		}
	}
	return false
}

// Faults returns the active fault configuration.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByEndpoint = make(map[string]int64, len(s.stats.ByEndpoint))
	for k, v := range s.stats.ByEndpoint {
		st.ByEndpoint[k] = v
	}
	s.rollDay()
	st.DailyAPIUsed, st.DailyAPILimit = s.usedToday, s.opts.DailyAPILimit
	return st
}

// Records returns copies of the live records of an object, in creation
// order (a test helper to inspect the org).
func (s *Server) Records(sobject string) []map[string]any {
	s.orgMu.Lock()
	defer s.orgMu.Unlock()
	o := s.schema.object(sobject)
	if o == nil {
		return nil
	}
	t := &txn{s: s, d: s.data}
	var out []map[string]any
	for _, r := range t.sortedRecords(o.Name) {
		out = append(out, map[string]any(r.clone()))
	}
	return out
}

// IssueRefreshToken mints a refresh token, as a web server flow would.
func (s *Server) IssueRefreshToken() string {
	tok := "5Aep861" + randomToken(40)
	s.mu.Lock()
	s.refresh[tok] = true
	s.mu.Unlock()
	return tok
}

// ExpireSessions invalidates every access token (as a session timeout or an
// admin would), leaving refresh tokens valid.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	s.sessions = map[string]*session{}
	s.mu.Unlock()
}

// rollDay resets the daily counter at the UTC day boundary; s.mu held.
func (s *Server) rollDay() {
	day := s.now().UTC().Format(sfDate)
	if day != s.usageDay {
		s.usageDay, s.usedToday = day, 0
	}
}

// ServeHTTP routes OAuth, the data API, and the /_sfsim admin endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/services/oauth2/token":
		s.handleToken(w, r)
	case p == "/services/oauth2/revoke":
		s.handleRevoke(w, r)
	case strings.HasPrefix(p, "/id/"):
		s.handleIdentity(w, r)
	case p == "/services/data" || p == "/services/data/":
		s.handleVersions(w, r)
	case strings.HasPrefix(p, "/services/data/v"):
		s.handleData(w, r)
	case strings.HasPrefix(p, "/_sfsim/"):
		s.handleAdmin(w, r)
	default:
		writeJSON(w, http.StatusNotFound, nil, restBody([]*apiError{notFound()}))
	}
}

func writeJSON(w http.ResponseWriter, status int, hdr map[string]string, body any) {
	for k, v := range hdr {
		w.Header().Set(k, v)
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	data, err := marshal(body)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`[{"message":"encoding failed","errorCode":"UNKNOWN_EXCEPTION"}]`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// versionLabel names the release of an API version (62.0 is Winter '25).
func versionLabel(v string) string {
	n := int(versionNum(v))
	i := n - 59 // 59.0 is Winter '24
	season := ((i % 3) + 3) % 3
	year := 24 + floorDiv(i, 3)
	return fmt.Sprintf("%s '%02d", []string{"Winter", "Spring", "Summer"}[season], ((year%100)+100)%100)
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (s *Server) handleVersions(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeJSON(w, http.StatusMethodNotAllowed, nil, restBody([]*apiError{methodNotAllowed(r.Method, "GET, HEAD")}))
		return
	}
	var out []any
	for _, v := range s.versions {
		out = append(out, newOmap().Set("label", versionLabel(v)).Set("url", "/services/data/v"+v).Set("version", v))
	}
	writeJSON(w, http.StatusOK, nil, out)
}

func methodNotAllowed(method, allowed string) *apiError {
	return plainErr(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", fmt.Sprintf("HTTP Method '%s' not allowed. Allowed are %s", method, allowed))
}

// request is one data API call (top-level or a composite subrequest).
type request struct {
	method  string
	path    string // after /services/data/vXX.X, without trailing slash
	query   url.Values
	body    []byte
	header  http.Header
	version string
	sub     bool      // inside a composite
	blob    *blobInfo // the binary part of a multipart insert
}

// response is what a handler answers.
type response struct {
	status int
	body   any // nil: no body
	header map[string]string
}

func errResp(errs ...*apiError) response {
	return response{status: statusOf(errs), body: restBody(errs)}
}

// splitVersion parses "/services/data/v62.0/rest" into "62.0" and "/rest".
func splitVersion(p string) (string, string, bool) {
	rest := strings.TrimPrefix(p, "/services/data/v")
	v, tail, _ := strings.Cut(rest, "/")
	if _, err := strconv.ParseFloat(v, 64); err != nil || !strings.Contains(v, ".") {
		return "", "", false
	}
	tail = "/" + strings.TrimSuffix(tail, "/")
	if tail == "/" {
		tail = ""
	}
	return v, tail, true
}

func (s *Server) supported(v string) bool {
	for _, x := range s.versions {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Server) handleData(w http.ResponseWriter, r *http.Request) {
	version, rest, ok := splitVersion(r.URL.EscapedPath()) // route unescapes each segment once
	if !ok || !s.supported(version) {
		writeJSON(w, http.StatusNotFound, nil, restBody([]*apiError{notFound()}))
		return
	}
	if _, ok := s.authenticate(r); !ok {
		s.mu.Lock()
		s.stats.AuthFailures++
		s.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, map[string]string{"WWW-Authenticate": "Token"},
			restBody([]*apiError{plainErr(http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")}))
		return
	}
	fault, done := s.pickFault(r, true)
	if done {
		return
	}
	if fault != "" && fault != "UNABLE_TO_LOCK_ROW" {
		s.writeFault(w, r, fault, nil)
		return
	}
	key := endpointKey(r.Method, rest)
	used, limit, allowed := s.countCall(key)
	limitHdr := map[string]string{"Sforce-Limit-Info": fmt.Sprintf("api-usage=%d/%d", used, limit)}
	if allowed && fault != "" {
		// Lock contention happens inside the org: the call is counted.
		s.writeFault(w, r, fault, limitHdr)
		return
	}
	if !allowed {
		writeJSON(w, http.StatusForbidden, limitHdr, restBody([]*apiError{plainErr(http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")}))
		return
	}
	var blob *blobInfo
	var body []byte
	if r.Method == http.MethodPost && isMultipartUpload(r) {
		var aerr *apiError
		if body, blob, aerr = readUpload(r); aerr != nil {
			writeJSON(w, aerr.Status, limitHdr, restBody([]*apiError{aerr}))
			return
		}
	} else {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, limitHdr, restBody([]*apiError{plainErr(400, "JSON_PARSER_ERROR", "could not read the request body")}))
			return
		}
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet // net/http drops the body of a HEAD answer
	}
	req := &request{method: method, path: rest, query: r.URL.Query(), body: body, header: r.Header, version: version, blob: blob}
	resp := s.run(req)
	s.log.Debug("sfsim: call", "method", r.Method, "endpoint", key, "status", resp.status)
	for k, v := range resp.header {
		limitHdr[k] = v
	}
	writeJSON(w, resp.status, limitHdr, resp.body)
}

// run executes a request under the org lock and persists changes.
func (s *Server) run(req *request) response {
	s.orgMu.Lock()
	t := &txn{s: s, d: s.data, userID: s.userID, now: s.now(), allowDup: allowSave(req.header)}
	resp := s.route(t, req)
	dirty := t.dirty
	s.orgMu.Unlock()
	if dirty && s.opts.DataFile != "" {
		if err := s.Save(); err != nil {
			s.log.Error("sfsim: persist org", "file", s.opts.DataFile, "err", err)
		}
	}
	return resp
}

// allowSave reads Sforce-Duplicate-Rule-Header: allowSave=true.
func allowSave(h http.Header) bool {
	for _, part := range strings.Split(h.Get("Sforce-Duplicate-Rule-Header"), ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if strings.EqualFold(k, "allowSave") && strings.EqualFold(strings.TrimSpace(v), "true") {
			return true
		}
	}
	return false
}

// countCall charges one API call; allowed is false past the daily limit.
func (s *Server) countCall(key string) (used, limit int, allowed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rollDay()
	limit = s.opts.DailyAPILimit
	if s.usedToday >= limit {
		s.stats.LimitRejections++
		return s.usedToday + 1, limit, false
	}
	s.usedToday++
	s.stats.APICalls++
	s.stats.ByEndpoint[key]++
	return s.usedToday, limit, true
}

// endpointKey names an endpoint for stats, with IDs and values elided.
func endpointKey(method, rest string) string {
	seg := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	switch seg[0] {
	case "sobjects":
		switch len(seg) {
		case 3:
			if seg[2] != "describe" {
				seg[2] = "{id}"
			}
		case 4:
			seg[3] = "{value}"
		}
	case "query", "queryAll":
		if len(seg) > 1 {
			seg[1] = "{locator}"
		}
	}
	return method + " /" + strings.Join(seg, "/")
}

// injectFault applies the configured faults; true when it answered.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, data bool) bool {
	kind, done := s.pickFault(r, data)
	if done {
		return true
	}
	if kind == "" {
		return false
	}
	s.writeFault(w, r, kind, nil)
	return true
}

// pickFault decides which fault (if any) a request gets, after the injected
// latency; done is true when the client went away meanwhile.
func (s *Server) pickFault(r *http.Request, data bool) (kind string, done bool) {
	s.mu.Lock()
	f := s.faults
	outage := s.now().Before(s.outageUntil)
	if !outage && f.ErrorRate > 0 && s.rng.Float64() < f.ErrorRate {
		kind = f.Errors[s.rng.IntN(len(f.Errors))]
	}
	if outage {
		kind = "SERVER_UNAVAILABLE"
	}
	if kind == "UNABLE_TO_LOCK_ROW" && (r.Method == http.MethodGet || !data) {
		kind = "" // only writes contend for row locks
	}
	if kind != "" {
		s.stats.FaultsInjected++
	}
	s.mu.Unlock()
	if f.LatencyMS > 0 {
		select {
		case <-time.After(time.Duration(f.LatencyMS) * time.Millisecond):
		case <-r.Context().Done():
			return "", true
		}
	}
	return kind, false
}

func (s *Server) writeFault(w http.ResponseWriter, r *http.Request, kind string, hdr map[string]string) {
	switch kind {
	case "SERVER_UNAVAILABLE":
		writeJSON(w, http.StatusServiceUnavailable, nil, restBody([]*apiError{plainErr(503, "SERVER_UNAVAILABLE", "Server is unavailable")}))
	case "UNABLE_TO_LOCK_ROW":
		writeJSON(w, http.StatusBadRequest, hdr, restBody([]*apiError{recordErr("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records: "+lastIDIn(r.URL.Path))}))
	case "REQUEST_LIMIT_EXCEEDED":
		writeJSON(w, http.StatusForbidden, nil, restBody([]*apiError{plainErr(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")}))
	case "INVALID_SESSION_ID":
		writeJSON(w, http.StatusUnauthorized, map[string]string{"WWW-Authenticate": "Token"}, restBody([]*apiError{plainErr(401, "INVALID_SESSION_ID", "Session expired or invalid")}))
	case "UNKNOWN_EXCEPTION":
		writeJSON(w, http.StatusInternalServerError, nil, restBody([]*apiError{plainErr(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)")}))
	case "BAD_GATEWAY":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
	case "timeout":
		// Hang until the client gives up, as an overloaded instance does.
		select {
		case <-r.Context().Done():
		case <-time.After(s.opts.MaxHang):
			writeJSON(w, http.StatusGatewayTimeout, nil, nil)
		}
	}
}

func lastIDIn(p string) string {
	seg := strings.Split(strings.TrimSuffix(p, "/"), "/")
	if last := seg[len(seg)-1]; len(last) == 15 || len(last) == 18 {
		return last
	}
	return makeID("500", 1)
}
