package salesforce

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Kind is the behavioural class of a Salesforce failure.
type Kind int

const (
	// KindPermanent: retrying the same request fails the same way.
	KindPermanent Kind = iota
	// KindTransient: a later retry may succeed (lock contention, 5xx,
	// timeouts, connection resets).
	KindTransient
	// KindRateLimited: the org's API allocation or the governor says wait.
	KindRateLimited
	// KindAuth: credentials or session rejected even after a token refresh.
	// Not the message's fault: retry later, do not dead-letter on it.
	KindAuth
)

func (k Kind) String() string {
	switch k {
	case KindTransient:
		return "transient"
	case KindRateLimited:
		return "rate_limited"
	case KindAuth:
		return "auth"
	default:
		return "permanent"
	}
}

// Back-off hints for callers' retry schedulers.
const (
	retryAfterAuth        = time.Minute
	retryAfterDailyLimit  = time.Hour
	retryAfterConcurrency = time.Minute
	retryAfterGovernor    = 15 * time.Minute
	// governorProbeAfter: a budget over the cap is re-checked by one real call
	// this long after the last report (as long as a governor wait).
	governorProbeAfter      = retryAfterGovernor
	retryAfterCodeTransient = 0
)

// ErrorItem is one Salesforce error. REST answers use errorCode; results
// inside sObject Collections use statusCode: both land in ErrorCode.
type ErrorItem struct {
	Message         string           `json:"message"`
	ErrorCode       string           `json:"errorCode"`
	Fields          []string         `json:"fields,omitempty"`
	DuplicateResult *DuplicateResult `json:"duplicateResult,omitempty"`
}

// UnmarshalJSON accepts both documented shapes.
func (e *ErrorItem) UnmarshalJSON(b []byte) error {
	var raw struct {
		Message         string           `json:"message"`
		ErrorCode       string           `json:"errorCode"`
		StatusCode      string           `json:"statusCode"`
		Fields          []string         `json:"fields"`
		DuplicateResult *DuplicateResult `json:"duplicateResult"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	e.Message, e.Fields, e.DuplicateResult = raw.Message, raw.Fields, raw.DuplicateResult
	e.ErrorCode = raw.ErrorCode
	if e.ErrorCode == "" {
		e.ErrorCode = raw.StatusCode
	}
	return nil
}

// DuplicateResult accompanies DUPLICATES_DETECTED.
type DuplicateResult struct {
	AllowSave               bool          `json:"allowSave"`
	DuplicateRule           string        `json:"duplicateRule"`
	DuplicateRuleEntityType string        `json:"duplicateRuleEntityType"`
	ErrorMessage            string        `json:"errorMessage"`
	MatchResults            []MatchResult `json:"matchResults"`
}

// MatchResult lists the records one matching rule found.
type MatchResult struct {
	EntityType   string        `json:"entityType"`
	MatchEngine  string        `json:"matchEngine"`
	Rule         string        `json:"rule"`
	Size         int           `json:"size"`
	Success      bool          `json:"success"`
	MatchRecords []MatchRecord `json:"matchRecords"`
}

// MatchRecord is one existing duplicate.
type MatchRecord struct {
	MatchConfidence float64         `json:"matchConfidence"`
	Record          json.RawMessage `json:"record"`
}

// MatchedIDs returns the IDs of the existing records a duplicate rule matched.
func (d *DuplicateResult) MatchedIDs() []string {
	if d == nil {
		return nil
	}
	var ids []string
	for _, mr := range d.MatchResults {
		for _, rec := range mr.MatchRecords {
			var r struct {
				ID string `json:"Id"`
			}
			if json.Unmarshal(rec.Record, &r) == nil && r.ID != "" {
				ids = append(ids, r.ID)
			}
		}
	}
	return ids
}

// APIError is a non-2xx answer from the REST API (or one failed entry of a
// composite/collection answer).
type APIError struct {
	StatusCode int
	Errors     []ErrorItem
	// Method and Path locate the call (path only: queries can carry data).
	Method, Path string
	// MultipleChoices holds the record URLs of a 300 answer to an upsert.
	MultipleChoices []string
	retryAfter      time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "salesforce: %s %s: %d", e.Method, e.Path, e.StatusCode)
	for i, it := range e.Errors {
		if i == 3 {
			fmt.Fprintf(&b, " (+%d more)", len(e.Errors)-3)
			break
		}
		fmt.Fprintf(&b, " %s: %s", it.ErrorCode, strings.TrimSpace(it.Message))
		if len(it.Fields) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(it.Fields, ","))
		}
	}
	if len(e.MultipleChoices) > 0 {
		fmt.Fprintf(&b, " external ID matches %d records", len(e.MultipleChoices))
	}
	return b.String()
}

// Code is the first meaningful error code: PROCESSING_HALTED and
// ALL_OR_NONE_OPERATION_ROLLED_BACK only echo another failure, so a real
// cause is preferred. With no body it is HTTP_<status>, or MULTIPLE_CHOICES
// for 300.
func (e *APIError) Code() string {
	for _, it := range e.Errors {
		if !isEchoCode(it.ErrorCode) && it.ErrorCode != "" {
			return it.ErrorCode
		}
	}
	if len(e.Errors) > 0 && e.Errors[0].ErrorCode != "" {
		return e.Errors[0].ErrorCode
	}
	if e.StatusCode == http.StatusMultipleChoices {
		return "MULTIPLE_CHOICES"
	}
	return "HTTP_" + strconv.Itoa(e.StatusCode)
}

// HasCode reports whether any error item carries code.
func (e *APIError) HasCode(code string) bool {
	for _, it := range e.Errors {
		if it.ErrorCode == code {
			return true
		}
	}
	return false
}

// DuplicateResult returns the duplicate-rule details of a
// DUPLICATES_DETECTED error, or nil.
func (e *APIError) DuplicateResult() *DuplicateResult {
	for _, it := range e.Errors {
		if it.DuplicateResult != nil {
			return it.DuplicateResult
		}
	}
	return nil
}

func isEchoCode(c string) bool {
	return c == "PROCESSING_HALTED" || c == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
}

// transientCodes are Salesforce error codes a later retry can clear.
var transientCodes = map[string]bool{
	"UNABLE_TO_LOCK_ROW":          true,
	"SERVER_UNAVAILABLE":          true,
	"QUERY_TIMEOUT":               true,
	"REQUEST_RUNNING_TOO_LONG":    true,
	"TXN_SECURITY_METERING_ERROR": true,
}

// Kind classifies the error.
func (e *APIError) Kind() Kind {
	code := e.Code()
	switch {
	case code == "REQUEST_LIMIT_EXCEEDED" || e.StatusCode == http.StatusTooManyRequests:
		return KindRateLimited
	case code == "INVALID_SESSION_ID" || e.StatusCode == http.StatusUnauthorized:
		return KindAuth
	case transientCodes[code]:
		return KindTransient
	case e.StatusCode >= 500:
		return KindTransient
	}
	return KindPermanent
}

// Permanent: do not retry.
func (e *APIError) Permanent() bool { return e.Kind() == KindPermanent }

// Temporary: a later retry may succeed.
func (e *APIError) Temporary() bool { return e.Kind() != KindPermanent }

// RetryAfter is the minimum wait before retrying (0: caller's own back-off).
func (e *APIError) RetryAfter() time.Duration {
	if e.retryAfter > 0 {
		return e.retryAfter
	}
	switch e.Kind() {
	case KindRateLimited:
		// TotalRequests is the rolling 24h allocation; other
		// REQUEST_LIMIT_EXCEEDED causes (concurrent long requests) clear fast.
		for _, it := range e.Errors {
			if strings.Contains(it.Message, "TotalRequests") {
				return retryAfterDailyLimit
			}
		}
		return retryAfterConcurrency
	case KindAuth:
		return retryAfterAuth
	}
	return retryAfterCodeTransient
}

// decodeAPIError builds an *APIError from a non-2xx REST answer.
func decodeAPIError(method, path string, status int, h http.Header, body []byte) *APIError {
	e := &APIError{StatusCode: status, Method: method, Path: path}
	if ra := h.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && secs > 0 {
			e.retryAfter = time.Duration(secs) * time.Second
		}
	}
	trimmed := strings.TrimSpace(string(body))
	if status == http.StatusMultipleChoices {
		var urls []string
		if json.Unmarshal(body, &urls) == nil {
			e.MultipleChoices = urls
			return e
		}
	}
	var items []ErrorItem
	if strings.HasPrefix(trimmed, "[") && json.Unmarshal(body, &items) == nil {
		e.Errors = items
		return e
	}
	var one ErrorItem
	if strings.HasPrefix(trimmed, "{") && json.Unmarshal(body, &one) == nil && (one.ErrorCode != "" || one.Message != "") {
		e.Errors = []ErrorItem{one}
		return e
	}
	// OAuth-shaped body on a REST path (seen on some 401s), or HTML from a
	// proxy: keep a short, secret-free description.
	var oauth struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &oauth) == nil && oauth.Error != "" {
		e.Errors = []ErrorItem{{ErrorCode: strings.ToUpper(oauth.Error), Message: oauth.Description}}
		return e
	}
	if trimmed != "" {
		msg := trimmed
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		e.Errors = []ErrorItem{{Message: msg}}
	}
	return e
}

// TokenError is a failed call to the OAuth token endpoint.
type TokenError struct {
	StatusCode  int
	Flow        string
	ErrorCode   string // OAuth "error", e.g. invalid_grant
	Description string // OAuth "error_description"
}

func (e *TokenError) Error() string {
	s := fmt.Sprintf("salesforce: %s token request: %d", e.Flow, e.StatusCode)
	if e.ErrorCode != "" {
		s += " " + e.ErrorCode
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Kind: 5xx from the token endpoint is transient, anything else is an auth
// failure (bad key, revoked token, unapproved user...).
func (e *TokenError) Kind() Kind {
	if e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests {
		return KindTransient
	}
	return KindAuth
}

func (e *TokenError) Permanent() bool { return false }
func (e *TokenError) Temporary() bool { return true }
func (e *TokenError) RetryAfter() time.Duration {
	if e.Kind() == KindAuth {
		return retryAfterAuth
	}
	return 0
}

// TransportError is a failure before an HTTP answer arrived: connection
// refused/reset, TLS, timeout. Always transient.
type TransportError struct {
	Method, Path string
	Err          error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("salesforce: %s %s: %v", e.Method, e.Path, e.Err)
}
func (e *TransportError) Unwrap() error             { return e.Err }
func (e *TransportError) Permanent() bool           { return false }
func (e *TransportError) Temporary() bool           { return true }
func (e *TransportError) RetryAfter() time.Duration { return 0 }
func (e *TransportError) Kind() Kind                { return KindTransient }

// GovernorError is returned, without any network call, when the API budget
// governor refuses a call.
type GovernorError struct {
	Used, Max int64
	Threshold float64 // the share that was crossed
	Critical  bool    // whether the refused call was marked critical
}

func (e *GovernorError) Error() string {
	which := "non-critical calls"
	if e.Critical {
		which = "all calls"
	}
	return fmt.Sprintf("salesforce: API budget governor refused call: %d of %d daily API requests used (%.1f%%), limit for %s is %.0f%%",
		e.Used, e.Max, 100*float64(e.Used)/float64(e.Max), which, 100*e.Threshold)
}
func (e *GovernorError) Permanent() bool           { return false }
func (e *GovernorError) Temporary() bool           { return true }
func (e *GovernorError) RetryAfter() time.Duration { return retryAfterGovernor }
func (e *GovernorError) Kind() Kind                { return KindRateLimited }

// RequestError is a request the client refuses to send because Salesforce
// would reject it (too many subrequests, bad referenceId, invalid name...).
type RequestError struct {
	Op     string
	Reason string
}

func (e *RequestError) Error() string             { return "salesforce: invalid " + e.Op + ": " + e.Reason }
func (e *RequestError) Permanent() bool           { return true }
func (e *RequestError) Temporary() bool           { return false }
func (e *RequestError) RetryAfter() time.Duration { return 0 }
func (e *RequestError) Kind() Kind                { return KindPermanent }

// ErrorKind classifies any error returned by this package; errors it does
// not know (including context cancellation) are transient, matching the
// project-wide rule for unclassified errors.
func ErrorKind(err error) Kind {
	var k interface{ Kind() Kind }
	if errors.As(err, &k) {
		return k.Kind()
	}
	return KindTransient
}

// IsNotFound reports a 404 NOT_FOUND / ENTITY_IS_DELETED answer.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound
}

// HasErrorCode reports whether err is an *APIError carrying code.
func HasErrorCode(err error, code string) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.HasCode(code)
}
