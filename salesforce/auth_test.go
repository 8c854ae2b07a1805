package salesforce

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func writeKey(t *testing.T) (string, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "sf.key")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, key
}

func TestJWTBearerAssertion(t *testing.T) {
	f := newFakeOrg(t)
	f.token = f.goldenToken("token_jwt_bearer")
	f.replay("limits")
	keyFile, key := writeKey(t)
	cfg := f.config()
	cfg.Auth = AuthConfig{Flow: FlowJWT, ClientID: "3MVG9consumerkey", Username: "integration@example.com", PrivateKeyFile: keyFile}
	c := f.clientWith(cfg, WithNow(fixedNow))
	if _, err := c.Limits(context.Background()); err != nil {
		t.Fatal(err)
	}
	toks := f.tokenRequests()
	if len(toks) != 1 {
		t.Fatalf("token requests = %d, want 1", len(toks))
	}
	form := toks[0].Form
	if got := form.Get("grant_type"); got != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		t.Errorf("grant_type = %q", got)
	}
	if form.Has("client_secret") {
		t.Error("jwt flow must not send a client secret")
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(form.Get("assertion"), claims, func(tk *jwt.Token) (any, error) {
		return &key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(fixedNow))
	if err != nil || !tok.Valid {
		t.Fatalf("assertion does not verify with the public key: %v", err)
	}
	if claims["iss"] != "3MVG9consumerkey" || claims["sub"] != "integration@example.com" {
		t.Errorf("iss/sub = %v/%v", claims["iss"], claims["sub"])
	}
	if aud, ok := claims["aud"].(string); !ok || aud != f.srv.URL {
		t.Errorf("aud = %#v, want the login URL as a plain string", claims["aud"])
	}
	exp, _ := claims.GetExpirationTime()
	if d := exp.Sub(fixedNow()); d <= 0 || d > 3*time.Minute {
		t.Errorf("exp is %v after now, want within (0, 3m]", d)
	}
	// The REST call went to instance_url with the bearer token.
	reqs := f.requests()
	if len(reqs) != 1 || !strings.HasPrefix(reqs[0].Header.Get("Authorization"), "Bearer 00DR00000008oBT!") {
		t.Fatalf("REST requests = %+v", reqs)
	}
	// A different key must not verify: the check above can fail.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	if _, err := jwt.Parse(form.Get("assertion"), func(*jwt.Token) (any, error) { return &other.PublicKey, nil }, jwt.WithTimeFunc(fixedNow)); err == nil {
		t.Error("assertion verified with an unrelated key")
	}
}

func TestJWTAudienceOverrideAndBadKey(t *testing.T) {
	f := newFakeOrg(t)
	f.token = f.goldenToken("token_jwt_bearer")
	keyFile, _ := writeKey(t)
	cfg := f.config()
	cfg.Auth = AuthConfig{Flow: FlowJWT, ClientID: "id", Username: "u@example.com", PrivateKeyFile: keyFile, Audience: "https://test.salesforce.com"}
	c := f.clientWith(cfg, WithNow(fixedNow))
	if err := c.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(f.tokenRequests()[0].Form.Get("assertion"), claims); err != nil {
		t.Fatal(err)
	}
	if claims["aud"] != "https://test.salesforce.com" {
		t.Errorf("aud = %v", claims["aud"])
	}

	bad := filepath.Join(t.TempDir(), "bad.key")
	_ = os.WriteFile(bad, []byte("-----BEGIN PRIVATE KEY-----\nnotakey\n-----END PRIVATE KEY-----\n"), 0o600)
	cfg.Auth.PrivateKeyFile = bad
	if _, err := New(context.Background(), cfg); err == nil || !strings.HasPrefix(err.Error(), "auth.private_key_file:") {
		t.Errorf("bad key: err = %v", err)
	}
}

func TestClientCredentialsFlow(t *testing.T) {
	f := newFakeOrg(t)
	f.replay("limits")
	c := f.client()
	if _, err := c.Limits(context.Background()); err != nil {
		t.Fatal(err)
	}
	form := f.tokenRequests()[0].Form
	for k, want := range map[string]string{"grant_type": "client_credentials", "client_id": "3MVG9example", "client_secret": "example-secret"} {
		if got := form.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if c.InstanceURL() != f.srv.URL {
		t.Errorf("InstanceURL = %q", c.InstanceURL())
	}
}

func TestTokenErrorIsAuthKind(t *testing.T) {
	f := newFakeOrg(t)
	f.token = f.goldenToken("token_invalid_grant")
	c := f.client()
	_, err := c.Limits(context.Background())
	var te *TokenError
	if !errors.As(err, &te) || te.ErrorCode != "invalid_grant" || te.Description != "authentication failure" {
		t.Fatalf("err = %v", err)
	}
	if ErrorKind(err) != KindAuth || te.Permanent() || !te.Temporary() || te.RetryAfter() <= 0 {
		t.Errorf("classification: kind=%v perm=%v temp=%v ra=%v", ErrorKind(err), te.Permanent(), te.Temporary(), te.RetryAfter())
	}
	if strings.Contains(err.Error(), "example-secret") {
		t.Error("error leaks the client secret")
	}
	if len(f.requests()) != 0 {
		t.Error("REST call made without a token")
	}
}

func TestInstanceURLMustBeSafe(t *testing.T) {
	f := newFakeOrg(t)
	f.token = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"tok","instance_url":"http://evil.example.com","token_type":"Bearer"}`))
	}
	c := f.client()
	err := c.Authenticate(context.Background())
	var te *TokenError
	if !errors.As(err, &te) || !strings.Contains(te.Description, "instance_url") {
		t.Fatalf("err = %v, want instance_url refusal", err)
	}
}

func TestRefreshTokenRotationAndRetryOnce(t *testing.T) {
	f := newFakeOrg(t)
	f.token = f.goldenToken("token_refresh_rotated")
	limits := loadGolden(t, "limits")
	expired := loadGolden(t, "error_invalid_session_id")
	calls := 0
	f.handle("GET /services/data/v62.0/limits/", func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			writeGolden(expired)(w, r)
			return
		}
		writeGolden(limits)(w, r)
	})
	var mu sync.Mutex
	var rotated []string
	cfg := f.config()
	cfg.Auth = AuthConfig{Flow: FlowRefreshToken, ClientID: "3MVG9example", ClientSecret: "example-secret", RefreshToken: "5Aep861old"}
	logger, logs := logBuffer()
	c := f.clientWith(cfg, WithLogger(logger), WithOnRefreshToken(func(s string) {
		mu.Lock()
		rotated = append(rotated, s)
		mu.Unlock()
	}))
	got, err := c.Limits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got["DailyApiRequests"].Max != 15000 {
		t.Errorf("limits = %+v", got)
	}
	toks := f.tokenRequests()
	if len(toks) != 2 {
		t.Fatalf("token requests = %d, want 2 (initial + after 401)", len(toks))
	}
	if toks[0].Form.Get("refresh_token") != "5Aep861old" || toks[0].Form.Get("grant_type") != "refresh_token" {
		t.Errorf("first refresh form = %v", toks[0].Form)
	}
	if toks[1].Form.Get("refresh_token") != "5Aep861new.rotated" {
		t.Errorf("second refresh used %q, want the rotated token", toks[1].Form.Get("refresh_token"))
	}
	if len(rotated) != 1 || rotated[0] != "5Aep861new.rotated" {
		t.Errorf("OnRefreshToken calls = %v, want exactly one with the new token", rotated)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[0].Header.Get("Authorization") == reqs[1].Header.Get("Authorization") {
		t.Errorf("retry must carry the new token; requests = %d", len(reqs))
	}
	for _, secret := range []string{"5Aep861old", "5Aep861new.rotated", "example-secret", "00DR00000008oBT!"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs leak %q", secret)
		}
	}
}

func TestPersistent401RetriedOnlyOnce(t *testing.T) {
	f := newFakeOrg(t)
	g := loadGolden(t, "error_invalid_session_id")
	f.handle("GET /services/data/v62.0/limits/", writeGolden(g))
	c := f.client()
	_, err := c.Limits(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code() != "INVALID_SESSION_ID" || ae.StatusCode != 401 {
		t.Fatalf("err = %v", err)
	}
	if ae.Kind() != KindAuth || ae.Permanent() || !ae.Temporary() {
		t.Errorf("INVALID_SESSION_ID classification: %v", ae.Kind())
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("REST requests = %d, want 2 (original + one retry)", n)
	}
	if n := len(f.tokenRequests()); n != 2 {
		t.Errorf("token requests = %d, want 2", n)
	}
}

func TestConcurrent401sShareOneRefresh(t *testing.T) {
	f := newFakeOrg(t)
	limits := loadGolden(t, "limits")
	expired := loadGolden(t, "error_invalid_session_id")
	f.handle("GET /services/data/v62.0/limits/", func(w http.ResponseWriter, r *http.Request) {
		// Only the first token is expired.
		if strings.HasSuffix(r.Header.Get("Authorization"), "#1") {
			writeGolden(expired)(w, r)
			return
		}
		writeGolden(limits)(w, r)
	})
	c := f.client()
	if err := c.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := c.Limits(context.Background())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(f.tokenRequests()); n != 2 {
		t.Errorf("token requests = %d, want 2 (initial + one shared refresh)", n)
	}
}

// refreshCfg is a refresh_token flow config against the fake org.
func refreshCfg(f *fakeOrg, file string) Config {
	cfg := f.config()
	cfg.Auth = AuthConfig{Flow: FlowRefreshToken, ClientID: "3MVG9example", ClientSecret: "example-secret", RefreshToken: "5Aep861old", RefreshTokenFile: file}
	return cfg
}

func TestRefreshTokenFileStoresRotation(t *testing.T) {
	f := newFakeOrg(t)
	f.token = f.goldenToken("token_refresh_rotated")
	dir := t.TempDir()
	file := filepath.Join(dir, "sf.refresh")
	var hooked []string
	logger, logs := logBuffer()
	c := f.clientWith(refreshCfg(f, file), WithLogger(logger), WithOnRefreshToken(func(s string) { hooked = append(hooked, s) }))
	if err := c.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("rotated token not stored: %v", err)
	}
	if strings.TrimSpace(string(b)) != "5Aep861new.rotated" {
		t.Errorf("file holds %q, want the rotated token", b)
	}
	fi, _ := os.Stat(file)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, want 0600", fi.Mode().Perm())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temp files left behind: %d entries", len(ents))
	}
	if len(hooked) != 1 || hooked[0] != "5Aep861new.rotated" {
		t.Errorf("WithOnRefreshToken calls = %v", hooked)
	}

	// A restart: the file wins over the (now revoked) configured token.
	c2 := f.clientWith(refreshCfg(f, file))
	if err := c2.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	toks := f.tokenRequests()
	if got := toks[len(toks)-1].Form.Get("refresh_token"); got != "5Aep861new.rotated" {
		t.Errorf("restarted client sent refresh_token %q, want the stored one", got)
	}
	for _, secret := range []string{"5Aep861old", "5Aep861new.rotated", "example-secret"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs leak %q", secret)
		}
	}
}

func TestRefreshTokenFileOverwritesAtomically(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tok")
	if err := os.WriteFile(file, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeRefreshTokenFile(file, "new"); err != nil {
		t.Fatal(err)
	}
	got, err := readRefreshTokenFile(file, slog.New(slog.DiscardHandler))
	if err != nil || got != "new" {
		t.Fatalf("read back %q, %v", got, err)
	}
	// The rename replaced the inode: the looser mode of the old file is gone.
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	if err := writeRefreshTokenFile(filepath.Join(dir, "missing", "tok"), "x"); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	if got, err := readRefreshTokenFile(filepath.Join(dir, "absent"), slog.New(slog.DiscardHandler)); err != nil || got != "" {
		t.Errorf("absent file: %q, %v; want \"\", nil", got, err)
	}
}

func TestRefreshTokenFileUnwritableKeepsSession(t *testing.T) {
	f := newFakeOrg(t)
	f.token = f.goldenToken("token_refresh_rotated")
	f.replay("limits")
	file := filepath.Join(t.TempDir(), "no-such-dir", "sf.refresh")
	logger, logs := logBuffer()
	var hooked []string
	c := f.clientWith(refreshCfg(f, file), WithLogger(logger), WithOnRefreshToken(func(s string) { hooked = append(hooked, s) }))
	if _, err := c.Limits(context.Background()); err != nil {
		t.Fatalf("a failed token write must not fail the call: %v", err)
	}
	if !strings.Contains(logs.String(), "NOT persisted") {
		t.Errorf("no error logged for the failed write; logs:\n%s", logs)
	}
	if strings.Contains(logs.String(), "5Aep861new.rotated") {
		t.Error("logs leak the rotated token")
	}
	if len(hooked) != 1 {
		t.Errorf("hook calls = %d, want 1 even when the file write fails", len(hooked))
	}
}

func TestRefreshTokenFileConfig(t *testing.T) {
	f := newFakeOrg(t)
	dir := t.TempDir()
	// Only the file: valid config, token taken from the file.
	file := filepath.Join(dir, "sf.refresh")
	if err := os.WriteFile(file, []byte("5Aep861fromfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := refreshCfg(f, file)
	cfg.Auth.RefreshToken = ""
	if errs := cfg.Validate(); len(errs) != 0 {
		t.Fatalf("file-only config: %v", errs)
	}
	f.token = f.goldenToken("token_refresh_rotated")
	if err := f.clientWith(cfg).Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.tokenRequests()[0].Form.Get("refresh_token"); got != "5Aep861fromfile" {
		t.Errorf("sent %q, want the file's token", got)
	}
	// Neither a token nor an existing file: New refuses, naming the key.
	cfg.Auth.RefreshTokenFile = filepath.Join(dir, "absent")
	if _, err := New(context.Background(), cfg); err == nil || !strings.HasPrefix(err.Error(), "auth.refresh_token:") {
		t.Errorf("missing token and file: err = %v", err)
	}
	cfg.Auth.RefreshTokenFile = ""
	if errs := cfg.Validate(); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "auth.refresh_token:") {
		t.Errorf("no token, no file: %v", errs)
	}
	// Like the other per-flow keys (README's block lists them all), the
	// file is ignored by the other flows: not read, not written.
	cc := f.config()
	cc.Auth.RefreshTokenFile = filepath.Join(dir, "cc.refresh")
	f.token = f.goldenToken("token_refresh_rotated") // carries a refresh_token
	if err := f.clientWith(cc).Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cc.Auth.RefreshTokenFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("client_credentials flow wrote the refresh token file: %v", err)
	}
	if s := cfg.Auth.String(); strings.Contains(s, "5Aep861") {
		t.Errorf("String leaks a token: %s", s)
	}
}

func TestTokenErrorsClassified(t *testing.T) {
	f := newFakeOrg(t)
	for _, tc := range []struct {
		name  string
		token http.HandlerFunc
		doer  HTTPDoer
		check func(t *testing.T, err error)
	}{
		{name: "connection reset", doer: errDoer{syscall.ECONNRESET}, check: func(t *testing.T, err error) {
			var tr *TransportError
			if !errors.As(err, &tr) || !errors.Is(err, syscall.ECONNRESET) || ErrorKind(err) != KindTransient {
				t.Errorf("err = %v (%T), want a transient *TransportError wrapping ECONNRESET", err, err)
			}
		}},
		{name: "error body as text/plain", token: func(w http.ResponseWriter, r *http.Request) {
			// Not JSON by Content-Type, yet Salesforce's shape: still decoded.
			w.Header().Set("Content-Type", "text/plain") // x/oauth2 parses this as a form
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_client_id","error_description":"client identifier invalid"}`))
		}, check: func(t *testing.T, err error) {
			var te *TokenError
			if !errors.As(err, &te) || te.StatusCode != 400 || te.ErrorCode != "invalid_client_id" || ErrorKind(err) != KindAuth {
				t.Errorf("err = %v", err)
			}
		}},
		{name: "server unavailable", token: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`<html>maintenance</html>`))
		}, check: func(t *testing.T, err error) {
			var te *TokenError
			if !errors.As(err, &te) || te.StatusCode != 503 || ErrorKind(err) != KindTransient || strings.Contains(err.Error(), "maintenance") {
				t.Errorf("err = %v, want a transient TokenError without the body", err)
			}
		}},
		{name: "not json", token: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`<xml/>`))
		}, check: func(t *testing.T, err error) {
			var te *TokenError
			if !errors.As(err, &te) || te.ErrorCode != "invalid_response" {
				t.Errorf("err = %v", err)
			}
		}},
		{name: "no access token", token: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"instance_url":"` + f.srv.URL + `","token_type":"Bearer"}`))
		}, check: func(t *testing.T, err error) {
			var te *TokenError
			if !errors.As(err, &te) || te.ErrorCode != "invalid_response" || !strings.Contains(te.Description, "access_token") {
				t.Errorf("err = %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []Option
			if tc.doer != nil {
				opts = append(opts, WithHTTPClient(tc.doer))
			}
			if tc.token != nil {
				f.token = tc.token
			}
			err := f.client(opts...).Authenticate(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "example-secret") {
				t.Error("error leaks the client secret")
			}
			tc.check(t, err)
		})
	}
}

func TestTokenCallCanceled(t *testing.T) {
	f := newFakeOrg(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := f.client().Authenticate(ctx)
	if !errors.Is(err, context.Canceled) || ErrorKind(err) != KindTransient {
		t.Errorf("err = %v, want a transient error wrapping context.Canceled", err)
	}
}

func TestTokenRequestShape(t *testing.T) {
	f := newFakeOrg(t)
	c := f.client()
	if err := c.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := f.tokenRequests()[0]
	if r.Method != http.MethodPost || r.Header.Get("Accept") != "application/json" || r.Header.Get("Authorization") != "" {
		t.Errorf("token request: %s Accept=%q Authorization=%q; want POST, JSON, credentials in the form only", r.Method, r.Header.Get("Accept"), r.Header.Get("Authorization"))
	}
	if r.Form.Has("scope") {
		t.Errorf("scope sent: %q (the connected app's policy decides)", r.Form.Get("scope"))
	}
}
