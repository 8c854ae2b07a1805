package sfsim

import (
	"testing"
)

// With EnforcePermissionSet the API user has exactly what the project's
// Triage_Integration permission set grants.
func TestLeastPrivilege(t *testing.T) {
	e := newEnv(t, Options{Seed: "demo", EnforcePermissionSet: true})
	acct := e.srv.Records("Account")[0]["Id"].(string)
	contact := e.srv.Records("Contact")[0]["Id"].(string)
	tests := []struct {
		name, method, path string
		body               map[string]any
		status             int
		code               string
	}{
		{"read account", "GET", "/sobjects/Account/" + acct, nil, 200, ""},
		{"create account", "POST", "/sobjects/Account", map[string]any{"Name": "x"}, 400, "INSUFFICIENT_ACCESS_OR_READONLY"},
		{"edit account", "PATCH", "/sobjects/Account/" + acct, map[string]any{"Name": "x"}, 400, "INSUFFICIENT_ACCESS_OR_READONLY"},
		{"create contact", "POST", "/sobjects/Contact", map[string]any{"LastName": "New", "Email": "new@example.com"}, 201, ""},
		{"edit contact", "PATCH", "/sobjects/Contact/" + contact, map[string]any{"Title": "x"}, 400, "INSUFFICIENT_ACCESS_OR_READONLY"},
		{"upsert case with AI fields", "PATCH", "/sobjects/Case/Triage_Key__c/k1", map[string]any{"Subject": "s", "AI_Category__c": "billing", "AI_Confidence__c": 88}, 201, ""},
		{"delete account", "DELETE", "/sobjects/Account/" + acct, nil, 400, "INSUFFICIENT_ACCESS_OR_READONLY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != nil {
				body = tt.body
			}
			r := e.do(tt.method, tt.path, body)
			if r.status != tt.status || errorCode(r.body) != tt.code {
				t.Fatalf("%d %v, want %d %s", r.status, r.body, tt.status, tt.code)
			}
		})
	}
	caseID := e.srv.Records("Case")[0]["Id"].(string)
	if r := e.do("DELETE", "/sobjects/Case/"+caseID, nil); errorCode(r.body) != "INSUFFICIENT_ACCESS_OR_READONLY" {
		t.Errorf("delete case: %v", r.body)
	}
	if r := e.q("SELECT Id, AI_Category__c, Account.Name FROM Case"); r.status != 200 {
		t.Errorf("query with AI fields: %d %v", r.status, r.body)
	}
	// Without the flag, the same user can do anything.
	free := newEnv(t, Options{})
	if r := free.do("POST", "/sobjects/Account", map[string]any{"Name": "x"}); r.status != 201 {
		t.Errorf("unrestricted create: %d", r.status)
	}
}

func TestFieldLevelSecurity(t *testing.T) {
	e := newEnv(t, Options{EnforcePermissionSet: true})
	// An org where the permission set lacks one of the project's fields.
	delete(e.srv.access.fields, "Case.AI_Summary__c")
	r := e.do("POST", "/sobjects/Case", map[string]any{"Subject": "s", "AI_Summary__c": "x"})
	if errorCode(r.body) != "INVALID_FIELD_FOR_INSERT_UPDATE" {
		t.Errorf("write without FLS: %v", r.body)
	}
	id := e.mustCreate("Case", map[string]any{"Subject": "s"})
	if r := e.q("SELECT AI_Summary__c FROM Case"); errorCode(r.body) != "INVALID_FIELD" {
		t.Errorf("query without FLS: %v", r.body)
	}
	if _, ok := obj(e.do("GET", "/sobjects/Case/"+id, nil).body)["AI_Summary__c"]; ok {
		t.Error("GET returned a field the user cannot read")
	}
}
