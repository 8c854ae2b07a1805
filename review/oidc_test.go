package review

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// fakeIdP is a minimal OAuth 2.0 / OIDC provider that enforces PKCE.
type fakeIdP struct {
	mu        sync.Mutex
	challenge map[string]string // code → S256 challenge
	groups    []string
	user      string
	tokens    map[string]bool
}

func (f *fakeIdP) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		defer f.mu.Unlock()
		want, ok := f.challenge[r.PostForm.Get("code")]
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != want || r.PostForm.Get("grant_type") != "authorization_code" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		delete(f.challenge, r.PostForm.Get("code"))
		tok := randomToken()
		f.tokens[tok] = true
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 300})
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		ok := f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"sub": "u-1", "preferred_username": f.user, "groups": f.groups})
	})
	return mux
}

func TestOIDC(t *testing.T) {
	idp := &fakeIdP{challenge: map[string]string{}, tokens: map[string]bool{}, user: "olga", groups: []string{"staff", "support-leads"}}
	ids := httptest.NewServer(idp.handler(t))
	defer ids.Close()
	e := newEnv(t, false, func(c *Config, _ *Deps) {
		c.OIDC = OIDCConfig{AuthURL: ids.URL + "/authorize", TokenURL: ids.URL + "/token", UserinfoURL: ids.URL + "/userinfo",
			ClientID: "triage", ClientSecret: "s3cret", RedirectURL: "http://127.0.0.1/auth/oidc/callback",
			Roles: map[string]Role{"support-leads": RoleManager, "staff": RoleViewer}}
	})
	// With OIDC configured and no users there is no local mode.
	anon := e.client()
	if r, _ := anon.get("/api/me"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous with OIDC: %s", r.Status)
	}
	signIn := func(c *client) (*http.Response, string) {
		t.Helper()
		resp, _ := c.get("/auth/oidc/login?next=/escalations")
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("oidc login: %s", resp.Status)
		}
		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || !strings.HasPrefix(u.String(), ids.URL+"/authorize") {
			t.Fatalf("redirect to %q", resp.Header.Get("Location"))
		}
		q := u.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("client_id") != "triage" {
			t.Fatalf("authorize request lacks PKCE/state: %v", q)
		}
		code := randomToken()
		idp.mu.Lock()
		idp.challenge[code] = q.Get("code_challenge")
		idp.mu.Unlock()
		return c.get("/auth/oidc/callback?" + url.Values{"state": {q.Get("state")}, "code": {code}}.Encode())
	}
	c := e.client()
	resp, body := signIn(c)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `href="/escalations"`) {
		t.Fatalf("callback: %s\n%s", resp.Status, body)
	}
	var me map[string]any
	_, body = c.get("/api/me")
	_ = json.Unmarshal([]byte(body), &me)
	if me["name"] != "olga" || me["role"] != "manager" || me["source"] != "oidc" {
		t.Fatalf("oidc identity: %v", me)
	}

	// A callback whose state does not match the browser's cookie is refused.
	other := e.client()
	if r, _ := other.get("/auth/oidc/callback?state=forged&code=x"); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged state: %s", r.Status)
	}
	// A stolen code without the verifier fails at the token endpoint.
	resp, _ = other.get("/auth/oidc/login")
	st := mustQuery(t, resp.Header.Get("Location")).Get("state")
	idp.mu.Lock()
	idp.challenge["stolen"] = "not-the-challenge"
	idp.mu.Unlock()
	if r, _ := other.get("/auth/oidc/callback?state=" + st + "&code=stolen"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong verifier: %s", r.Status)
	}
	// The state is single use.
	if r, _ := other.get("/auth/oidc/callback?state=" + st + "&code=stolen"); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("state reuse: %s", r.Status)
	}
	// No mapped group and no default role: refused.
	idp.groups = []string{"contractors"}
	if r, _ := signIn(e.client()); r.StatusCode != http.StatusForbidden {
		t.Fatalf("unmapped user: %s", r.Status)
	}
}

func mustQuery(t *testing.T, s string) url.Values {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func TestServeGracefulShutdown(t *testing.T) {
	e := newEnv(t, true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("served: %s", resp.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/login"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}
