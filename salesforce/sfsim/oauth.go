package sfsim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	out := make([]byte, n)
	for i, c := range b {
		out[i] = base62[int(c)%62]
	}
	return string(out)
}

func oauthErr(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, nil, newOmap().Set("error", code).Set("error_description", desc))
}

func secretEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// baseURL is the emulator's own URL as the client reached it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// handleToken implements POST /services/oauth2/token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthErr(w, http.StatusBadRequest, "invalid_request", "must use HTTP POST")
		return
	}
	if s.injectFault(w, r, false) {
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(w, http.StatusBadRequest, "invalid_request", "invalid form body")
		return
	}
	clientID, clientSecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		clientID, clientSecret = u, p
	}
	base := baseURL(r)
	switch grant := r.PostForm.Get("grant_type"); grant {
	case "client_credentials":
		if !secretEqual(clientID, s.opts.ClientID) {
			oauthErr(w, http.StatusBadRequest, "invalid_client_id", "client identifier invalid")
			return
		}
		if s.opts.ClientSecret == "" || !secretEqual(clientSecret, s.opts.ClientSecret) {
			oauthErr(w, http.StatusBadRequest, "invalid_grant", "authentication failure")
			return
		}
		s.issue(w, base, "", "api", true)
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if msg := s.verifyAssertion(r.PostForm.Get("assertion"), base); msg != "" {
			code := "invalid_grant"
			if msg == "client identifier invalid" {
				code = "invalid_client_id"
			}
			oauthErr(w, http.StatusBadRequest, code, msg)
			return
		}
		s.issue(w, base, "", "api", false)
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if !secretEqual(clientID, s.opts.ClientID) {
			oauthErr(w, http.StatusBadRequest, "invalid_client_id", "client identifier invalid")
			return
		}
		if clientSecret != "" && !secretEqual(clientSecret, s.opts.ClientSecret) {
			oauthErr(w, http.StatusBadRequest, "invalid_client", "invalid client credentials")
			return
		}
		s.mu.Lock()
		valid := s.refresh[rt]
		newRT := ""
		if valid && s.opts.RotateRefreshTokens {
			delete(s.refresh, rt)
			newRT = "5Aep861" + randomToken(40)
			s.refresh[newRT] = true
		}
		s.mu.Unlock()
		if !valid {
			oauthErr(w, http.StatusBadRequest, "invalid_grant", "expired access/refresh token")
			return
		}
		if newRT == "" {
			newRT = rt
			s.issueWith(w, base, rt, "", "refresh_token api offline_access", true)
			return
		}
		s.issueWith(w, base, newRT, newRT, "refresh_token api offline_access", true)
	case "":
		oauthErr(w, http.StatusBadRequest, "invalid_request", "grant type is missing")
	default:
		oauthErr(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
	}
}

func (s *Server) issue(w http.ResponseWriter, base, refresh, scope string, signed bool) {
	s.issueWith(w, base, refresh, "", scope, signed)
}

// issueWith answers with a new access token. sessionRefresh ties the session
// to its refresh token (so revoking one revokes the other); returnRefresh is
// included in the body when rotated.
func (s *Server) issueWith(w http.ResponseWriter, base, sessionRefresh, returnRefresh, scope string, signed bool) {
	now := s.now()
	tok := s.orgID[:15] + "!AQ" + randomToken(94)
	s.mu.Lock()
	s.sessions[tok] = &session{user: s.opts.Username, issued: now, refresh: sessionRefresh}
	s.stats.TokensIssued++
	s.mu.Unlock()
	id := base + "/id/" + s.orgID + "/" + s.userID
	issuedAt := strconv.FormatInt(now.UnixMilli(), 10)
	body := newOmap().Set("access_token", tok)
	if returnRefresh != "" {
		body.Set("refresh_token", returnRefresh)
	}
	if signed {
		mac := hmac.New(sha256.New, []byte(s.opts.ClientSecret))
		mac.Write([]byte(id + issuedAt))
		body.Set("signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	body.Set("scope", scope).Set("instance_url", base).Set("id", id).Set("token_type", "Bearer")
	if signed {
		body.Set("issued_at", issuedAt)
	}
	writeJSON(w, http.StatusOK, map[string]string{"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"}, body)
}

// maxAssertionLife is how far in the future a JWT's exp may be (Salesforce
// asks for at most 3 minutes; a minute of clock skew is tolerated).
const maxAssertionLife = 4 * time.Minute

// verifyAssertion checks a JWT bearer assertion; it returns the OAuth error
// description, or "" when valid.
func (s *Server) verifyAssertion(assertion, base string) string {
	if s.pubKey == nil {
		return "invalid assertion"
	}
	if assertion == "" {
		return "invalid assertion"
	}
	claims := jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(assertion, &claims, func(*jwt.Token) (any, error) { return s.pubKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired authorization code"
	case err != nil:
		return "invalid assertion"
	}
	if !secretEqual(claims.Issuer, s.opts.ClientID) {
		return "client identifier invalid"
	}
	if claims.ExpiresAt.Time.After(s.now().Add(maxAssertionLife)) {
		return "invalid assertion"
	}
	okAud := false
	accepted := append([]string{"https://login.salesforce.com", "https://test.salesforce.com", base}, s.opts.JWTAudiences...)
	for _, a := range claims.Audience {
		for _, want := range accepted {
			if strings.TrimSuffix(a, "/") == strings.TrimSuffix(want, "/") {
				okAud = true
			}
		}
	}
	if !okAud {
		return "audience is invalid"
	}
	if claims.Subject == "" || !strings.EqualFold(claims.Subject, s.opts.Username) {
		return "user hasn't approved this consumer"
	}
	return ""
}

// handleRevoke implements /services/oauth2/revoke for access and refresh
// tokens.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthErr(w, http.StatusBadRequest, "invalid_request", "invalid form body")
		return
	}
	tok := r.Form.Get("token")
	s.mu.Lock()
	found := false
	if _, ok := s.sessions[tok]; ok {
		delete(s.sessions, tok)
		found = true
	}
	if s.refresh[tok] {
		delete(s.refresh, tok)
		for k, ss := range s.sessions {
			if ss.refresh == tok {
				delete(s.sessions, k)
			}
		}
		found = true
	}
	s.mu.Unlock()
	if !found {
		oauthErr(w, http.StatusBadRequest, "unsupported_token_type", "this token type is not supported")
		return
	}
	w.WriteHeader(http.StatusOK)
}

// authenticate checks the bearer token and the session lifetime.
func (s *Server) authenticate(r *http.Request) (*session, bool) {
	h := r.Header.Get("Authorization")
	var tok string
	switch {
	case strings.HasPrefix(h, "Bearer "):
		tok = strings.TrimPrefix(h, "Bearer ")
	case strings.HasPrefix(h, "OAuth "):
		tok = strings.TrimPrefix(h, "OAuth ")
	default:
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[strings.TrimSpace(tok)]
	if !ok {
		return nil, false
	}
	if !s.now().Before(ss.issued.Add(s.opts.SessionLifetime)) {
		delete(s.sessions, tok)
		return nil, false
	}
	return ss, true
}

// handleIdentity serves the identity URL returned as "id" by the token
// endpoint.
func (s *Server) handleIdentity(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authenticate(r); !ok {
		writeJSON(w, http.StatusForbidden, nil, "Bad_OAuth_Token")
		return
	}
	base := baseURL(r)
	writeJSON(w, http.StatusOK, nil, newOmap().
		Set("id", base+"/id/"+s.orgID+"/"+s.userID).
		Set("user_id", s.userID).
		Set("organization_id", s.orgID).
		Set("username", s.opts.Username).
		Set("display_name", "Triage Integration").
		Set("active", true).
		Set("user_type", "STANDARD").
		Set("urls", newOmap().
			Set("rest", base+"/services/data/v{version}/").
			Set("sobjects", base+"/services/data/v{version}/sobjects/").
			Set("query", base+"/services/data/v{version}/query/")))
}
