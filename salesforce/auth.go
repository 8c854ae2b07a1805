package salesforce

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwtLifetime bounds the assertion's exp. Salesforce rejects assertions whose
// exp is more than 3 minutes away; staying below leaves room for clock skew.
const jwtLifetime = 2 * time.Minute

const tokenPath = "/services/oauth2/token"

// session is what a successful token call yields.
type session struct {
	accessToken string
	instanceURL string
	scope       string
	obtained    time.Time
}

// tokenResponse is Salesforce's token endpoint answer. There is no
// expires_in: the session lasts until the org's timeout and then REST calls
// answer 401 INVALID_SESSION_ID.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	InstanceURL  string `json:"instance_url"`
	ID           string `json:"id"`
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	IssuedAt     string `json:"issued_at"`
	Signature    string `json:"signature"`
}

// authenticator runs the configured OAuth flow. It is not safe for
// concurrent use: Client serialises calls under its token mutex.
type authenticator struct {
	cfg          AuthConfig
	tokenURL     string
	audience     string
	key          *rsa.PrivateKey
	refreshToken string
	onRotate     func(string)
	http         HTTPDoer
	now          func() time.Time
}

func newAuthenticator(cfg Config, doer HTTPDoer, now func() time.Time, onRotate func(string)) (*authenticator, error) {
	a := &authenticator{
		cfg:          cfg.Auth,
		tokenURL:     cfg.LoginURL + tokenPath,
		audience:     cfg.LoginURL,
		refreshToken: cfg.Auth.RefreshToken,
		onRotate:     onRotate,
		http:         doer,
		now:          now,
	}
	if cfg.Auth.Audience != "" {
		a.audience = strings.TrimRight(cfg.Auth.Audience, "/")
	}
	if cfg.Auth.Flow == FlowJWT {
		pemBytes, err := os.ReadFile(cfg.Auth.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("auth.private_key_file: %w", err)
		}
		key, err := jwt.ParseRSAPrivateKeyFromPEM(pemBytes)
		if err != nil {
			// The parse error never echoes key material.
			return nil, fmt.Errorf("auth.private_key_file: %s: not an RSA private key in PEM (PKCS#1 or PKCS#8): %w", cfg.Auth.PrivateKeyFile, err)
		}
		a.key = key
	}
	return a, nil
}

// assertion builds the RS256-signed JWT for the JWT bearer flow.
func (a *authenticator) assertion() (string, error) {
	claims := jwt.MapClaims{
		"iss": a.cfg.ClientID,
		"sub": a.cfg.Username,
		"aud": a.audience, // a plain string: Salesforce expects no array
		"exp": a.now().Add(jwtLifetime).Unix(),
	}
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(a.key)
}

// fetch runs the flow once and returns a fresh session.
func (a *authenticator) fetch(ctx context.Context) (*session, error) {
	form := url.Values{}
	switch a.cfg.Flow {
	case FlowJWT:
		as, err := a.assertion()
		if err != nil {
			return nil, fmt.Errorf("salesforce: signing JWT assertion: %w", err)
		}
		form.Set("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
		form.Set("assertion", as)
	case FlowClientCredentials:
		form.Set("grant_type", "client_credentials")
		form.Set("client_id", a.cfg.ClientID)
		form.Set("client_secret", a.cfg.ClientSecret)
	case FlowRefreshToken:
		form.Set("grant_type", "refresh_token")
		form.Set("client_id", a.cfg.ClientID)
		if a.cfg.ClientSecret != "" {
			form.Set("client_secret", a.cfg.ClientSecret)
		}
		form.Set("refresh_token", a.refreshToken)
	default:
		return nil, fmt.Errorf("salesforce: unknown auth flow %q", a.cfg.Flow)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("salesforce: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		// *url.Error from net/http carries the URL, never the form body.
		return nil, &TransportError{Method: http.MethodPost, Path: tokenPath, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, &TransportError{Method: http.MethodPost, Path: tokenPath, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		te := &TokenError{StatusCode: resp.StatusCode, Flow: a.cfg.Flow}
		var oe struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &oe) == nil {
			te.ErrorCode, te.Description = oe.Error, oe.Description
		}
		return nil, te
	}
	var tr tokenResponse
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&tr); err != nil {
		return nil, &TokenError{StatusCode: resp.StatusCode, Flow: a.cfg.Flow, ErrorCode: "invalid_response", Description: "token response is not JSON"}
	}
	if tr.AccessToken == "" {
		return nil, &TokenError{StatusCode: resp.StatusCode, Flow: a.cfg.Flow, ErrorCode: "invalid_response", Description: "token response has no access_token"}
	}
	inst := strings.TrimRight(tr.InstanceURL, "/")
	if err := checkBaseURL(inst); err != nil {
		// Refuse to send the bearer token to an unexpected place.
		return nil, &TokenError{StatusCode: resp.StatusCode, Flow: a.cfg.Flow, ErrorCode: "invalid_response", Description: "instance_url: " + err.Error()}
	}
	if a.cfg.Flow == FlowRefreshToken && tr.RefreshToken != "" && tr.RefreshToken != a.refreshToken {
		// Refresh token rotation: the old token is now dead, the caller
		// must persist the new one.
		a.refreshToken = tr.RefreshToken
		if a.onRotate != nil {
			a.onRotate(tr.RefreshToken)
		}
	}
	return &session{accessToken: tr.AccessToken, instanceURL: inst, scope: tr.Scope, obtained: a.now()}, nil
}
