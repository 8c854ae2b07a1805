package sfsim

import (
	"fmt"
	"net/http"
	"strings"
)

// apiError is one Salesforce error. REST answers render it as
// {"message","errorCode","fields"}; sObject Collections as
// {"statusCode","message","fields"}.
type apiError struct {
	Status    int
	Code      string
	Message   string
	Fields    []string
	hasFields bool
	Dup       *omap // duplicateResult, for DUPLICATES_DETECTED
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// recordErr is a record-level error, which carries "fields" (possibly empty).
func recordErr(code, msg string, fields ...string) *apiError {
	if fields == nil {
		fields = []string{}
	}
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: msg, Fields: fields, hasFields: true}
}

// plainErr is a request-level error without "fields".
func plainErr(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

func notFound() *apiError {
	return plainErr(http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
}

func entityDeleted() *apiError {
	e := recordErr("ENTITY_IS_DELETED", "entity is deleted")
	e.Status = http.StatusNotFound
	return e
}

func invalidField(name, object string) *apiError {
	return plainErr(http.StatusBadRequest, "INVALID_FIELD", fmt.Sprintf("No such column '%s' on sobject of type %s", name, object))
}

func malformedQuery(msg string) *apiError {
	return plainErr(http.StatusBadRequest, "MALFORMED_QUERY", msg)
}

func invalidType(name string) *apiError {
	return plainErr(http.StatusBadRequest, "INVALID_TYPE", fmt.Sprintf("sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", name))
}

func processingHalted() *apiError {
	return plainErr(http.StatusBadRequest, "PROCESSING_HALTED", "The transaction was rolled back since another operation in the same transaction failed.")
}

// restBody renders errors the way the REST resources do.
func restBody(errs []*apiError) []any {
	out := make([]any, 0, len(errs))
	for _, e := range errs {
		m := newOmap()
		if e.Dup != nil {
			m.Set("duplicateResult", e.Dup).Set("errorCode", e.Code).Set("message", e.Message)
		} else {
			m.Set("message", e.Message).Set("errorCode", e.Code)
			if e.hasFields {
				m.Set("fields", e.Fields)
			}
		}
		out = append(out, m)
	}
	return out
}

// collectionBody renders errors the way sObject Collections results do.
func collectionBody(errs []*apiError) []any {
	out := make([]any, 0, len(errs))
	for _, e := range errs {
		m := newOmap().Set("statusCode", e.Code).Set("message", e.Message)
		f := e.Fields
		if f == nil {
			f = []string{}
		}
		m.Set("fields", f)
		if e.Dup != nil {
			m.Set("duplicateResult", e.Dup)
		}
		out = append(out, m)
	}
	return out
}

// statusOf is the HTTP status of a list of errors (the first one's).
func statusOf(errs []*apiError) int {
	if len(errs) == 0 || errs[0].Status == 0 {
		return http.StatusBadRequest
	}
	return errs[0].Status
}

func joinFields(names []string) string { return strings.Join(names, ", ") }
