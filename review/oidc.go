package review

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/triage-dev/triage/store"
)

const (
	oidcCookie   = "triage_oidc"
	oidcStateTTL = 10 * time.Minute
)

// oidcFlow runs the authorization code flow with PKCE against the configured
// provider and maps userinfo claims to a role.
type oidcFlow struct {
	cfg   OIDCConfig
	oauth *oauth2.Config
	now   func() time.Time

	mu      sync.Mutex
	pending map[string]oidcPending // by state
}

type oidcPending struct {
	verifier string
	next     string
	expires  time.Time
}

func newOIDCFlow(cfg OIDCConfig, now func() time.Time) *oidcFlow {
	return &oidcFlow{cfg: cfg, now: now, pending: map[string]oidcPending{}, oauth: &oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: cfg.AuthURL, TokenURL: cfg.TokenURL},
		RedirectURL:  cfg.RedirectURL,
		Scopes:       cfg.Scopes,
	}}
}

func (f *oidcFlow) begin(next string) (state, authURL string) {
	state = randomToken()
	verifier := oauth2.GenerateVerifier()
	now := f.now()
	f.mu.Lock()
	for k, p := range f.pending {
		if now.After(p.expires) {
			delete(f.pending, k)
		}
	}
	f.pending[state] = oidcPending{verifier: verifier, next: next, expires: now.Add(oidcStateTTL)}
	f.mu.Unlock()
	return state, f.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
}

func (f *oidcFlow) take(state string) (oidcPending, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pending[state]
	delete(f.pending, state) // single use
	if !ok || f.now().After(p.expires) {
		return oidcPending{}, false
	}
	return p, true
}

// finish exchanges the code and returns the user's name and role from userinfo.
func (f *oidcFlow) finish(ctx context.Context, code, verifier string) (string, Role, error) {
	tok, err := f.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return "", "", fmt.Errorf("oidc: token exchange: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.cfg.UserinfoURL, nil)
	if err != nil {
		return "", "", err
	}
	resp, err := f.oauth.Client(ctx, tok).Do(req)
	if err != nil {
		return "", "", fmt.Errorf("oidc: userinfo: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("oidc: userinfo: HTTP %d", resp.StatusCode)
	}
	var claims map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&claims); err != nil {
		return "", "", fmt.Errorf("oidc: userinfo: %w", err)
	}
	name := ""
	for _, k := range []string{f.cfg.NameClaim, "preferred_username", "email", "sub"} {
		if v, ok := claims[k].(string); ok && k != "" && v != "" {
			name = v
			break
		}
	}
	if name == "" {
		return "", "", fmt.Errorf("oidc: userinfo has no user name")
	}
	return name, f.role(claims), nil
}

// role picks the strongest role any of the user's groups maps to.
func (f *oidcFlow) role(claims map[string]any) Role {
	var groups []string
	switch v := claims[f.cfg.RoleClaim].(type) {
	case string:
		groups = []string{v}
	case []any:
		for _, g := range v {
			if s, ok := g.(string); ok {
				groups = append(groups, s)
			}
		}
	}
	best := f.cfg.DefaultRole
	for _, g := range groups {
		if r, ok := f.cfg.Roles[g]; ok && r.rank() > best.rank() {
			best = r
		}
	}
	return best
}

func (s *Server) oidcLogin(w http.ResponseWriter, r *http.Request, _ *identity) {
	if s.oidc == nil {
		s.fail(w, r, errUnavailable, false)
		return
	}
	state, u := s.oidc.begin(safeNext(r.URL.Query().Get("next")))
	// Lax, not Strict: the provider's redirect back is a cross-site navigation.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: state, Path: oidcCallbackPath, HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(oidcStateTTL.Seconds())})
	http.Redirect(w, r, u, http.StatusFound)
}

func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request, _ *identity) {
	if s.oidc == nil {
		s.fail(w, r, errUnavailable, false)
		return
	}
	q := r.URL.Query()
	c, err := r.Cookie(oidcCookie)
	state := q.Get("state")
	if err != nil || state == "" || c.Value != state {
		s.fail(w, r, badRequest("sign-in state mismatch; start again"), false)
		return
	}
	p, ok := s.oidc.take(state)
	if !ok {
		s.fail(w, r, badRequest("sign-in expired; start again"), false)
		return
	}
	if e := q.Get("error"); e != "" {
		s.fail(w, r, &httpError{code: http.StatusUnauthorized, msg: "the identity provider refused the sign-in: " + e}, false)
		return
	}
	name, role, err := s.oidc.finish(r.Context(), q.Get("code"), p.verifier)
	if err != nil {
		s.log.Warn("oidc sign-in failed", "err", err)
		s.fail(w, r, &httpError{code: http.StatusUnauthorized, msg: "sign-in with the identity provider failed"}, false)
		return
	}
	if !role.Valid() {
		_ = s.st.RecordReview(r.Context(), store.ReviewRecord{Action: store.ReviewAction{Actor: name, Action: "login_denied", Detail: "oidc: no role mapped"}})
		s.fail(w, r, &httpError{code: http.StatusForbidden, msg: "your account has no role in triage; ask an administrator"}, false)
		return
	}
	if _, err := s.startSession(w, r, name, role, "oidc"); err != nil {
		s.fail(w, r, err, false)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: oidcCallbackPath, MaxAge: -1, HttpOnly: true, Secure: s.secure})
	_ = s.st.RecordReview(r.Context(), store.ReviewRecord{Action: store.ReviewAction{Actor: name, Role: string(role), Action: "login", Detail: "oidc", OK: true}})
	// A Strict session cookie is not sent on the rest of a redirect chain that
	// began on another site, so continue with a same-site navigation instead.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = s.tmpl.render(w, "continue", &page{Title: "Signed in", Data: map[string]any{"Next": p.next}})
}
