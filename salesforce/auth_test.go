package salesforce

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
