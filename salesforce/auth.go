package salesforce

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// jwtLifetime bounds the assertion's exp. Salesforce rejects assertions whose
// exp is more than 3 minutes away; staying below leaves room for clock skew.
const jwtLifetime = 2 * time.Minute

const (
	tokenPath      = "/services/oauth2/token"
	jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// session is what a successful token call yields.
type session struct {
	accessToken string
	instanceURL string
	scope       string
	obtained    time.Time
}

// authenticator runs the configured OAuth flow through golang.org/x/oauth2.
// It is not safe for concurrent use: Client serialises calls under its
// token mutex.
//
// Salesforce's token response has no expires_in, so an x/oauth2 token never
// looks expired and a reusing TokenSource would hand out a dead session
// forever. Every fetch therefore runs the flow afresh; the Client decides
// when (first call, or after 401 INVALID_SESSION_ID).
type authenticator struct {
	cfg          AuthConfig
	tokenURL     string
	audience     string
	key          *rsa.PrivateKey
	refreshToken string
	rtFile       string // AuthConfig.RefreshTokenFile: where rotated tokens go
	onRotate     func(string)
	hc           *http.Client // the HTTPDoer seam, as x/oauth2 wants it
	now          func() time.Time
	log          *slog.Logger
}

func newAuthenticator(cfg Config, doer HTTPDoer, now func() time.Time, onRotate func(string), log *slog.Logger) (*authenticator, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &authenticator{
		cfg:          cfg.Auth,
		tokenURL:     cfg.LoginURL + tokenPath,
		audience:     cfg.LoginURL,
		refreshToken: cfg.Auth.RefreshToken,
		rtFile:       cfg.Auth.RefreshTokenFile,
		onRotate:     onRotate,
		hc:           &http.Client{Transport: doerTransport{doer}},
		now:          now,
		log:          log,
	}
	if cfg.Auth.Audience != "" {
		a.audience = strings.TrimRight(cfg.Auth.Audience, "/")
	}
	switch cfg.Auth.Flow {
	case FlowJWT:
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
	case FlowRefreshToken:
		if a.rtFile != "" {
			rt, err := readRefreshTokenFile(a.rtFile, a.log)
			if err != nil {
				return nil, err
			}
			if rt != "" {
				// The file holds the latest rotation; the configured token
				// may already be revoked.
				a.refreshToken = rt
			}
		}
		if a.refreshToken == "" {
			return nil, fmt.Errorf("auth.refresh_token: required: auth.refresh_token_file %s does not exist or is empty", a.rtFile)
		}
	}
	return a, nil
}

// assertion builds the RS256-signed JWT for the JWT bearer flow.
//
// golang.org/x/oauth2/jwt is not used for this. Its claims would do for
// Salesforce (Email→iss, Subject→sub, Audience→aud as a string, Expires→exp;
// Salesforce checks those four and clients that also send iat and prn, the
// JWT bearer draft's old name for sub, authenticate), but it stamps exp/iat
// with time.Now, out of reach of the injected clock, and formats transport
// and decode errors with %v, which loses the *url.Error/context error a
// caller classifies on. So the assertion is signed here with golang-jwt
// (exactly iss, sub, aud, exp) and only the token exchange goes through
// x/oauth2.
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
	ctx = context.WithValue(ctx, oauth2.HTTPClient, a.hc)
	tok, err := a.token(ctx)
	if err != nil && a.cfg.Flow == FlowRefreshToken && a.rtFile != "" && isInvalidGrant(err) {
		// Another process (or client) sharing the file may have rotated
		// the token since we read it: the one we hold is then revoked.
		if rt, rerr := readRefreshTokenFile(a.rtFile, a.log); rerr == nil && rt != "" && rt != a.refreshToken {
			a.log.Info("salesforce refresh token rejected; retrying with the one in auth.refresh_token_file", "file", a.rtFile)
			a.refreshToken = rt
			tok, err = a.token(ctx)
		}
	}
	if err != nil {
		return nil, a.classify(err)
	}
	if tok.AccessToken == "" {
		return nil, &TokenError{StatusCode: http.StatusOK, Flow: a.cfg.Flow, ErrorCode: "invalid_response", Description: "token response has no access_token"}
	}
	inst, _ := tok.Extra("instance_url").(string)
	inst = strings.TrimRight(inst, "/")
	if err := checkBaseURL(inst); err != nil {
		// Refuse to send the bearer token to an unexpected place.
		return nil, &TokenError{StatusCode: http.StatusOK, Flow: a.cfg.Flow, ErrorCode: "invalid_response", Description: "instance_url: " + err.Error()}
	}
	scope, _ := tok.Extra("scope").(string)
	if a.cfg.Flow == FlowRefreshToken && tok.RefreshToken != "" && tok.RefreshToken != a.refreshToken {
		// Refresh token rotation: the old token is now dead. x/oauth2
		// copies the old token into the answer when none came back, so a
		// difference is a rotation.
		a.refreshToken = tok.RefreshToken
		if a.rtFile != "" {
			if err := writeRefreshTokenFile(a.rtFile, tok.RefreshToken); err != nil {
				// The session is good and the new token is held in
				// memory: keep working, but a restart will need a new
				// refresh token. The error names the file, never the token.
				a.log.Error("salesforce rotated refresh token NOT persisted; a restart will fail to authenticate", "file", a.rtFile, "err", err)
			}
		}
		if a.onRotate != nil {
			a.onRotate(tok.RefreshToken)
		}
	}
	return &session{accessToken: tok.AccessToken, instanceURL: inst, scope: scope, obtained: a.now()}, nil
}

// token makes one token request for the configured flow. Client
// credentials go in the form (AuthStyleInParams): Salesforce does not
// document HTTP Basic for its token endpoint, and probing both styles would
// cost a failed call.
func (a *authenticator) token(ctx context.Context) (*oauth2.Token, error) {
	switch a.cfg.Flow {
	case FlowJWT:
		as, err := a.assertion()
		if err != nil {
			return nil, localError{fmt.Errorf("salesforce: signing JWT assertion: %w", err)}
		}
		// clientcredentials.Config lets EndpointParams override grant_type
		// (documented, for non-client-credentials grants): the bearer
		// grant then goes through x/oauth2's request and error handling.
		// No client_id/secret: the assertion's iss names the app.
		cc := clientcredentials.Config{
			TokenURL:       a.tokenURL,
			AuthStyle:      oauth2.AuthStyleInParams,
			EndpointParams: url.Values{"grant_type": {jwtBearerGrant}, "assertion": {as}},
		}
		return cc.Token(ctx)
	case FlowClientCredentials:
		cc := clientcredentials.Config{
			ClientID:     a.cfg.ClientID,
			ClientSecret: a.cfg.ClientSecret,
			TokenURL:     a.tokenURL,
			AuthStyle:    oauth2.AuthStyleInParams,
		}
		return cc.Token(ctx)
	case FlowRefreshToken:
		conf := oauth2.Config{
			ClientID:     a.cfg.ClientID,
			ClientSecret: a.cfg.ClientSecret, // optional; omitted by x/oauth2 when empty
			Endpoint:     oauth2.Endpoint{TokenURL: a.tokenURL, AuthStyle: oauth2.AuthStyleInParams},
		}
		// A token without an access token is invalid, so this source
		// refreshes at once; a new source per fetch forces the refresh.
		return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: a.refreshToken}).Token()
	default:
		return nil, localError{fmt.Errorf("salesforce: unknown auth flow %q", a.cfg.Flow)}
	}
}

// localError marks a failure before any token request was sent.
type localError struct{ err error }

func (e localError) Error() string { return e.err.Error() }
func (e localError) Unwrap() error { return e.err }

// classify turns x/oauth2's errors into the package's typed errors. The
// RetrieveError's body is decoded but never copied into the error text.
func (a *authenticator) classify(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		te := &TokenError{Flow: a.cfg.Flow, ErrorCode: re.ErrorCode, Description: re.ErrorDescription}
		if re.Response != nil {
			te.StatusCode = re.Response.StatusCode
		}
		if te.ErrorCode == "" {
			// x/oauth2 only parses the body when the Content-Type looks
			// like JSON or a form; Salesforce's shape is known, try it.
			var oe struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if json.Unmarshal(re.Body, &oe) == nil {
				te.ErrorCode, te.Description = oe.Error, oe.Description
			}
		}
		return te
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// From net/http: carries the URL, never the form body.
		return &TransportError{Method: http.MethodPost, Path: tokenPath, Err: ue}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &TransportError{Method: http.MethodPost, Path: tokenPath, Err: err}
	}
	var le localError
	if errors.As(err, &le) {
		return le.err
	}
	// x/oauth2's remaining errors are about an unreadable 2xx answer
	// (not JSON, no access_token, body cut short).
	desc := "token response is not a valid token"
	if strings.Contains(err.Error(), "access_token") {
		desc = "token response has no access_token"
	}
	return &TokenError{StatusCode: http.StatusOK, Flow: a.cfg.Flow, ErrorCode: "invalid_response", Description: desc}
}

func isInvalidGrant(err error) bool {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode == "invalid_grant" || strings.Contains(string(re.Body), `"invalid_grant"`)
	}
	return false
}

// doerTransport lets x/oauth2, which takes an *http.Client from the context,
// send through the package's HTTPDoer seam.
type doerTransport struct{ d HTTPDoer }

func (t doerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Accept") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("Accept", "application/json")
	}
	resp, err := t.d.Do(req)
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		// The outer http.Client wraps the error in *url.Error again.
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, ue.Err
		}
		return nil, err
	}
	return resp, nil
}

// readRefreshTokenFile returns the stored refresh token, or "" if the file
// does not exist.
func readRefreshTokenFile(path string, log *slog.Logger) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("auth.refresh_token_file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("salesforce auth.refresh_token_file is readable by group or others; it holds a credential", "file", path, "mode", fi.Mode().Perm().String())
	}
	return strings.TrimSpace(string(b)), nil
}

// writeRefreshTokenFile replaces path atomically (temp file in the same
// directory, fsync, rename) so a crash leaves either the old or the new
// token, never a torn one. The file is created 0600.
func writeRefreshTokenFile(path, token string) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*") // CreateTemp uses 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err = f.WriteString(token + "\n"); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename durable; best effort (not every platform can sync a
	// directory).
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
