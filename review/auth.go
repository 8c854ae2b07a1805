package review

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/triage-dev/triage/store"
)

const (
	sessionCookie  = "triage_session"
	loginCookie    = "triage_login" // pre-session CSRF token for the login form (double submit)
	localUser      = "local"
	bcryptCost     = 12
	minPasswordLen = 10
	maxPasswordLen = 72 // bcrypt ignores what follows
	userCountCache = 2 * time.Second
)

// identity is the signed-in user of a request.
type identity struct {
	Name      string
	Role      Role
	Source    string // password, oidc, local
	CSRF      string
	tokenHash string
}

var userName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$`)

// AddUser creates a review UI user with a bcrypt-hashed password (`triage
// user add`); it fails with store.ErrReviewUserExists when the name is taken.
func AddUser(ctx context.Context, st *store.Store, name string, role Role, password string) error {
	return saveUser(ctx, st, name, role, password, false)
}

// ReplaceUser creates a user or gives an existing one a new role and password
// (`triage user add --replace`), re-enabling it if it was removed.
func ReplaceUser(ctx context.Context, st *store.Store, name string, role Role, password string) error {
	return saveUser(ctx, st, name, role, password, true)
}

func saveUser(ctx context.Context, st *store.Store, name string, role Role, password string, replace bool) error {
	if !userName.MatchString(name) {
		return fmt.Errorf("user name %q: use 1-64 letters, digits and . _ @ + -", name)
	}
	if !role.Valid() {
		return fmt.Errorf("role %q: must be one of viewer, manager, admin", role)
	}
	if n := len(password); n < minPasswordLen || n > maxPasswordLen {
		return fmt.Errorf("password: must be %d to %d bytes long", minPasswordLen, maxPasswordLen)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return st.AddReviewUser(ctx, store.ReviewUser{Name: name, Role: string(role), PasswordHash: string(hash)}, replace)
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// localMode reports whether the UI runs without users: then a browser on this
// machine is signed in as "local" (admin). It is never true off loopback:
// New refuses such an address, and requests must come from and name loopback.
func (s *Server) localMode(ctx context.Context) (bool, error) {
	if s.cfg.OIDC.Enabled() {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := s.now(); s.countAt.IsZero() || now.Sub(s.countAt) > userCountCache || now.Before(s.countAt) {
		n, err := s.st.ReviewUserCount(ctx)
		if err != nil {
			return false, err
		}
		s.userCount, s.countAt = n, now
	}
	return s.userCount == 0, nil
}

func (s *Server) invalidateUserCount() {
	s.mu.Lock()
	s.countAt = time.Time{}
	s.mu.Unlock()
}

// isLocalRequest checks both ends: the client connects from loopback and the
// Host names loopback (a DNS-rebinding page cannot claim a loopback Host).
func isLocalRequest(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || !isLoopbackHost(host) {
		return false
	}
	h := r.Host
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	return isLoopbackHost(h)
}

// authenticate returns the request's identity, or nil when not signed in.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*identity, error) {
	ctx := r.Context()
	local, err := s.localMode(ctx)
	if err != nil {
		return nil, err
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		rs, err := s.st.ReviewSessionByHash(ctx, hashToken(c.Value))
		switch {
		case err == nil && (rs.Source != "local" || local):
			return &identity{Name: rs.User, Role: Role(rs.Role), Source: rs.Source, CSRF: rs.CSRF, tokenHash: rs.TokenHash}, nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	if local && isLocalRequest(r) {
		return s.startSession(w, r, localUser, RoleAdmin, "local")
	}
	return nil, nil
}

// startSession creates a session and sets its cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, name string, role Role, source string) (*identity, error) {
	tok := randomToken()
	now := s.now()
	rs := store.ReviewSession{TokenHash: hashToken(tok), User: name, Role: string(role), Source: source,
		CSRF: randomToken(), CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionLifetime)}
	if err := s.st.CreateReviewSession(r.Context(), rs); err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.cfg.SessionLifetime.Seconds())})
	return &identity{Name: name, Role: role, Source: source, CSRF: rs.CSRF, tokenHash: rs.TokenHash}, nil
}

var errCSRF = &httpError{code: http.StatusForbidden, msg: "invalid or missing CSRF token; reload the page and try again"}

// checkCSRF accepts the session's token in the form field "csrf" or the
// X-CSRF-Token header, and refuses cross-site requests outright.
func (s *Server) checkCSRF(r *http.Request, id *identity) error {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return errCSRF
	}
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" {
		tok = r.PostFormValue("csrf")
	}
	if tok == "" || id.CSRF == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(id.CSRF)) != 1 {
		return errCSRF
	}
	return nil
}

// dummyHash makes a login for an unknown user cost the same bcrypt time as a
// wrong password, so timing does not reveal which names exist.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password, only a timing decoy"), bcryptCost)
	return h
})

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, _ *identity) {
	s.renderLogin(w, r, http.StatusOK, "")
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, code int, msg string) {
	// Reuse the browser's login token: a parallel request (a favicon fetch
	// redirected here) must not rotate it under the form being filled in.
	tok := randomToken()
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == len(tok) {
		tok = c.Value
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/login", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	local, _ := s.localMode(r.Context())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = s.tmpl.render(w, "login", &page{Title: "Sign in", Data: map[string]any{
		"CSRF": tok, "Next": safeNext(r.FormValue("next")), "Error": msg, "OIDC": s.oidc != nil, "Local": local,
	}})
}

// safeNext keeps redirects on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

func (s *Server) loginPost(w http.ResponseWriter, r *http.Request, _ *identity) {
	c, err := r.Cookie(loginCookie)
	form := r.PostFormValue("csrf")
	if err != nil || c.Value == "" || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		s.fail(w, r, errCSRF, false)
		return
	}
	if _, err := s.passwordLogin(w, r, r.PostFormValue("username"), r.PostFormValue("password")); err != nil {
		var he *httpError
		if errors.As(err, &he) && (he.code == http.StatusUnauthorized || he.code == http.StatusTooManyRequests) {
			s.renderLogin(w, r, he.code, he.msg)
			return
		}
		s.fail(w, r, err, false)
		return
	}
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// apiLogin is the scripting sign-in: POST /api/login with a JSON body
// {"username": …, "password": …}. Requiring application/json keeps it out of
// reach of cross-site forms (login CSRF) without a token: browsers cannot
// send that type cross-site without a CORS preflight, which this server never
// grants. It answers with the session cookie and the CSRF token.
func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request, _ *identity) {
	if mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(strings.ToLower(mt)) != "application/json" {
		s.fail(w, r, &httpError{code: http.StatusUnsupportedMediaType, msg: "send the credentials as application/json"}, true)
		return
	}
	var body struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		s.fail(w, r, badRequest("bad JSON body"), true)
		return
	}
	id, err := s.passwordLogin(w, r, body.Username, body.Password)
	if err != nil {
		s.fail(w, r, err, true)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": id.Name, "role": id.Role, "csrf_token": id.CSRF})
}

// passwordLogin checks a user name and password under the rate limit and starts a session.
func (s *Server) passwordLogin(w http.ResponseWriter, r *http.Request, name, password string) (*identity, error) {
	ctx := r.Context()
	name = strings.TrimSpace(name)
	keys := []string{"user:" + strings.ToLower(name), "ip:" + clientIP(r)}
	if wait := s.limiter.blocked(keys...); wait > 0 {
		_ = s.st.RecordReview(ctx, store.ReviewRecord{Action: store.ReviewAction{Actor: name, Action: "login_throttled", Detail: "from " + clientIP(r)}})
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		return nil, &httpError{code: http.StatusTooManyRequests, msg: "Too many failed sign-ins. Try again later."}
	}
	u, err := s.st.ReviewUser(ctx, name)
	hash := []byte(nil)
	if err == nil {
		hash = []byte(u.PasswordHash)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if hash == nil {
		hash = dummyHash()
	}
	if len(password) > maxPasswordLen {
		password = password[:maxPasswordLen]
	}
	cmpErr := bcrypt.CompareHashAndPassword(hash, []byte(password))
	if err != nil || cmpErr != nil || u.Disabled || !Role(u.Role).Valid() {
		s.limiter.fail(keys...)
		_ = s.st.RecordReview(ctx, store.ReviewRecord{Action: store.ReviewAction{Actor: name, Action: "login_failed", Detail: "from " + clientIP(r)}})
		return nil, &httpError{code: http.StatusUnauthorized, msg: "Wrong user name or password."}
	}
	s.limiter.reset(keys[0])
	id, err := s.startSession(w, r, u.Name, Role(u.Role), "password")
	if err != nil {
		return nil, err
	}
	_ = s.st.RecordReview(ctx, store.ReviewRecord{Action: store.ReviewAction{Actor: u.Name, Role: u.Role, Action: "login", Detail: "password, from " + clientIP(r), OK: true}})
	return id, nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, id *identity) {
	if err := s.st.DeleteReviewSession(r.Context(), id.tokenHash); err != nil {
		s.fail(w, r, err, false)
		return
	}
	_ = s.st.RecordReview(r.Context(), store.ReviewRecord{Action: store.ReviewAction{Actor: id.Name, Role: string(id.Role), Action: "logout", OK: true}})
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// rateLimiter counts failed logins per key in a sliding window. It lives in
// memory: a restart forgets it, which only gives an attacker a fresh window
// as often as they can restart the server.
type rateLimiter struct {
	mu      sync.Mutex
	max     int
	window  time.Duration
	now     func() time.Time
	entries map[string][]time.Time
}

func newRateLimiter(max int, window time.Duration, now func() time.Time) *rateLimiter {
	return &rateLimiter{max: max, window: window, now: now, entries: map[string][]time.Time{}}
}

func (l *rateLimiter) prune(key string, now time.Time) []time.Time {
	ts := l.entries[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.entries, key)
	} else {
		l.entries[key] = ts
	}
	return ts
}

// blocked returns how long until any of the keys may try again (0: allowed).
func (l *rateLimiter) blocked(keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for _, k := range keys {
		if ts := l.prune(k, now); len(ts) >= l.max {
			if w := ts[len(ts)-l.max].Add(l.window).Sub(now); w > wait {
				wait = w
			}
		}
	}
	return wait
}

func (l *rateLimiter) fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.entries) > 100000 { // bound memory under a spray of names
		for k := range l.entries {
			l.prune(k, now)
		}
	}
	for _, k := range keys {
		l.entries[k] = append(l.prune(k, now), now)
	}
}

func (l *rateLimiter) reset(key string) {
	l.mu.Lock()
	delete(l.entries, key)
	l.mu.Unlock()
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
