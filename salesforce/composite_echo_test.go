package salesforce

import (
	"strings"
	"testing"
)

// TestCompositeErrorAllEchoes: when every failed subrequest is an echo code
// (PROCESSING_HALTED), the message still says what Salesforce said instead of
// ending in an empty list.
func TestCompositeErrorAllEchoes(t *testing.T) {
	halted := func(ref, msg string) *APIError {
		return &APIError{StatusCode: 400, Path: ref, Errors: []ErrorItem{{ErrorCode: "PROCESSING_HALTED", Message: msg}}}
	}
	e := &CompositeError{Failures: []*APIError{
		halted("case", "Invalid reference specified. No value for Id found in caseQuery."),
		halted("email", "The transaction was rolled back since another operation in the same transaction failed."),
	}}
	if msg := e.Error(); !strings.Contains(msg, "Invalid reference specified") || !strings.Contains(msg, "case: 400 PROCESSING_HALTED") {
		t.Errorf("message lacks the echoes: %q", msg)
	}
	// With a root cause, echoes stay out.
	e.Failures = append(e.Failures, &APIError{StatusCode: 400, Path: "contact", Errors: []ErrorItem{{ErrorCode: "STRING_TOO_LONG", Message: "too long"}}})
	if msg := e.Error(); strings.Contains(msg, "PROCESSING_HALTED") || !strings.Contains(msg, "STRING_TOO_LONG") {
		t.Errorf("with a root cause: %q", msg)
	}
}
