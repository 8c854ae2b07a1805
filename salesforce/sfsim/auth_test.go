package sfsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestClientCredentials(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		name   string
		form   url.Values
		status int
		errKey string
	}{
		{"ok", url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {testClientSecret}}, 200, ""},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {"wrong"}}, 400, "invalid_grant"},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"nope"}, "client_secret": {testClientSecret}}, 400, "invalid_client_id"},
		{"no grant", url.Values{"client_id": {testClientID}}, 400, "invalid_request"},
		{"bad grant", url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.form("/services/oauth2/token", tt.form)
			m := obj(body)
			if status != tt.status {
				t.Fatalf("status %d: %v", status, body)
			}
			if tt.errKey != "" {
				if m["error"] != tt.errKey || m["error_description"] == "" {
					t.Errorf("error body %v", m)
				}
				return
			}
			for _, k := range []string{"access_token", "instance_url", "id", "token_type", "issued_at", "signature", "scope"} {
				if _, ok := m[k]; !ok {
					t.Errorf("token response lacks %s: %v", k, m)
				}
			}
			if _, ok := m["expires_in"]; ok {
				t.Error("Salesforce sends no expires_in")
			}
			if m["instance_url"] != e.hs.URL || !strings.HasPrefix(m["id"].(string), e.hs.URL+"/id/00D") {
				t.Errorf("instance_url %v id %v", m["instance_url"], m["id"])
			}
		})
	}
	// HTTP Basic client authentication works too.
	req, _ := http.NewRequest("POST", e.hs.URL+"/services/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testClientID, testClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("basic auth: %d", resp.StatusCode)
	}
}

func TestSessionLifetimeAndRevoke(t *testing.T) {
	e := newEnv(t, Options{SessionLifetime: 15 * time.Minute})
	if r := e.do("GET", "/limits", nil); r.status != 200 {
		t.Fatalf("fresh token: %d", r.status)
	}
	e.clock.Add(15 * time.Minute)
	r := e.do("GET", "/limits", nil)
	if r.status != 401 || errorCode(r.body) != "INVALID_SESSION_ID" || r.header.Get("WWW-Authenticate") != "Token" {
		t.Fatalf("expired: %d %v %v", r.status, r.body, r.header)
	}
	if r.header.Get("Sforce-Limit-Info") != "" {
		t.Error("an unauthenticated call reported API usage")
	}
	e.token = e.login()
	if r := e.do("GET", "/limits", nil); r.status != 200 {
		t.Fatalf("new token: %d", r.status)
	}
	if status, _ := e.form("/services/oauth2/revoke", url.Values{"token": {e.token}}); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	if r := e.do("GET", "/limits", nil); r.status != 401 {
		t.Errorf("revoked token: %d", r.status)
	}
	if status, body := e.form("/services/oauth2/revoke", url.Values{"token": {"nope"}}); status != 400 || obj(body)["error"] == nil {
		t.Errorf("revoke unknown: %d %v", status, body)
	}
	e.token = "garbage"
	if r := e.do("GET", "/limits", nil); r.status != 401 {
		t.Errorf("garbage token: %d", r.status)
	}
}

func TestRefreshTokenRotation(t *testing.T) {
	e := newEnv(t, Options{RotateRefreshTokens: true, RefreshTokens: []string{"5Aep861old"}})
	refresh := func(rt string) (int, map[string]any) {
		status, body := e.form("/services/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {testClientID}, "client_secret": {testClientSecret}, "refresh_token": {rt}})
		return status, obj(body)
	}
	status, body := refresh("5Aep861old")
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	newRT, _ := body["refresh_token"].(string)
	if newRT == "" || newRT == "5Aep861old" || body["access_token"] == nil || body["signature"] == nil {
		t.Fatalf("rotated response: %v", body)
	}
	if status, body := refresh("5Aep861old"); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("old refresh token after rotation: %d %v", status, body)
	}
	if status, _ := refresh(newRT); status != 200 {
		t.Errorf("rotated token: %d", status)
	}
	// Without rotation the same token keeps working and none is returned.
	e2 := newEnv(t, Options{})
	rt := e2.srv.IssueRefreshToken()
	for range 2 {
		status, body := e2.form("/services/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {testClientID}, "refresh_token": {rt}})
		if status != 200 || obj(body)["refresh_token"] != nil {
			t.Errorf("plain refresh: %d %v", status, body)
		}
	}
	// Revoking the refresh token ends its sessions.
	_, raw := e2.form("/services/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {testClientID}, "refresh_token": {rt}})
	e2.token = obj(raw)["access_token"].(string)
	e2.form("/services/oauth2/revoke", url.Values{"token": {rt}})
	if r := e2.do("GET", "/limits", nil); r.status != 401 {
		t.Errorf("session of a revoked refresh token: %d", r.status)
	}
}

func TestJWTBearer(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "triage"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Options{JWTCert: cert, Username: "integration@example.com"})
	now := e.clock.Now()
	sign := func(k *rsa.PrivateKey, method jwt.SigningMethod, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, c).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": testClientID, "sub": "integration@example.com", "aud": "https://login.salesforce.com", "exp": now.Add(3 * time.Minute).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	tests := []struct {
		name      string
		assertion string
		wantErr   string
	}{
		{"ok", sign(key, jwt.SigningMethodRS256, claims(nil)), ""},
		{"own url as aud", sign(key, jwt.SigningMethodRS256, claims(func(c jwt.MapClaims) { c["aud"] = e.hs.URL })), ""},
		{"wrong key", sign(other, jwt.SigningMethodRS256, claims(nil)), "invalid_grant"},
		{"wrong alg", sign(key, jwt.SigningMethodRS512, claims(nil)), "invalid_grant"},
		{"expired", sign(key, jwt.SigningMethodRS256, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })), "invalid_grant"},
		{"exp too far", sign(key, jwt.SigningMethodRS256, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(time.Hour).Unix() })), "invalid_grant"},
		{"no exp", sign(key, jwt.SigningMethodRS256, claims(func(c jwt.MapClaims) { delete(c, "exp") })), "invalid_grant"},
		{"wrong aud", sign(key, jwt.SigningMethodRS256, claims(func(c jwt.MapClaims) { c["aud"] = "https://evil.example" })), "invalid_grant"},
		{"wrong iss", sign(key, jwt.SigningMethodRS256, claims(func(c jwt.MapClaims) { c["iss"] = "someone" })), "invalid_client_id"},
		{"wrong sub", sign(key, jwt.SigningMethodRS256, claims(func(c jwt.MapClaims) { c["sub"] = "intruder@example.com" })), "invalid_grant"},
		{"garbage", "not.a.jwt", "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.form("/services/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {tt.assertion}})
			m := obj(body)
			if tt.wantErr != "" {
				if status != 400 || m["error"] != tt.wantErr {
					t.Fatalf("%d %v, want %s", status, m, tt.wantErr)
				}
				return
			}
			if status != 200 || m["access_token"] == nil || m["instance_url"] != e.hs.URL {
				t.Fatalf("%d %v", status, m)
			}
			e.token = m["access_token"].(string)
			if r := e.do("GET", "/limits", nil); r.status != 200 {
				t.Errorf("JWT session rejected: %d", r.status)
			}
		})
	}
	// Without a configured key the flow is refused.
	e2 := newEnv(t, Options{})
	if status, _ := e2.form("/services/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {tests[0].assertion}}); status != 400 {
		t.Errorf("JWT without a key: %d", status)
	}
}
