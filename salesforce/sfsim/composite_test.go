package sfsim

import (
	"fmt"
	"strings"
	"testing"
)

func sub(method, url, ref string, body any) map[string]any {
	m := map[string]any{"method": method, "url": "/services/data/v62.0" + url, "referenceId": ref}
	if body != nil {
		m["body"] = body
	}
	return m
}

func compositeResults(t *testing.T, r result) []map[string]any {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("composite: %d %v", r.status, r.body)
	}
	var out []map[string]any
	for _, x := range arr(obj(r.body)["compositeResponse"]) {
		out = append(out, obj(x))
	}
	return out
}

func TestCompositeReferences(t *testing.T) {
	e := newEnv(t, Options{})
	before := e.srv.Stats().APICalls
	r := e.do("POST", "/composite", map[string]any{"allOrNone": true, "compositeRequest": []any{
		sub("POST", "/sobjects/Account", "refAccount", map[string]any{"Name": "Sample Account"}),
		sub("POST", "/sobjects/Contact", "refContact", map[string]any{"LastName": "Sample Contact", "AccountId": "@{refAccount.id}"}),
		sub("PATCH", "/sobjects/Case/Triage_Key__c/thr-7f3a", "refCase", map[string]any{"Subject": "Printer on fire", "ContactId": "@{refContact.id}"}),
		sub("GET", "/sobjects/Case/@{refCase.id}?fields=CaseNumber", "refCaseNumber", nil),
		sub("GET", "/query?q=SELECT+Id,Contact.Account.Name+FROM+Case", "refQuery", nil),
		sub("POST", "/sobjects/Task", "refTask", map[string]any{"Subject": "Call @{refCaseNumber.CaseNumber}", "WhatId": "@{refQuery.records[0].Id}"}),
	}})
	res := compositeResults(t, r)
	if calls := e.srv.Stats().APICalls - before; calls != 1 {
		t.Errorf("composite counted %d calls, want 1", calls)
	}
	wantStatus := []float64{201, 201, 201, 200, 200, 201}
	for i, x := range res {
		if x["httpStatusCode"] != wantStatus[i] {
			t.Errorf("sub %d (%v): status %v, body %v", i, x["referenceId"], x["httpStatusCode"], x["body"])
		}
	}
	if loc := obj(res[0]["httpHeaders"])["Location"]; !strings.HasPrefix(fmt.Sprint(loc), "/services/data/v62.0/sobjects/Account/001") {
		t.Errorf("Location header: %v", res[0]["httpHeaders"])
	}
	cases := e.srv.Records("Case")
	contacts := e.srv.Records("Contact")
	if len(cases) != 1 || cases[0]["ContactId"] != contacts[0]["Id"] {
		t.Fatalf("case not linked: %v", cases)
	}
	tasks := e.srv.Records("Task")
	if len(tasks) != 1 || tasks[0]["Subject"] != "Call "+cases[0]["CaseNumber"].(string) || tasks[0]["WhatId"] != cases[0]["Id"] {
		t.Errorf("task from references: %v", tasks)
	}
	if q := obj(res[4]["body"]); obj(obj(obj(arr(q["records"])[0])["Contact"])["Account"])["Name"] != "Sample Account" {
		t.Errorf("two-level relationship: %v", q)
	}
}

func TestCompositeAllOrNone(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.do("POST", "/composite", map[string]any{"allOrNone": true, "compositeRequest": []any{
		sub("POST", "/sobjects/Account", "NewAccount", map[string]any{"Name": "Sample Account"}),
		sub("POST", "/sobjects/Contact", "NewContact", map[string]any{"LastName": "Sample", "Email": "Not a real email address", "AccountId": "@{NewAccount.id}"}),
		sub("POST", "/sobjects/Case", "NewCase", map[string]any{"Subject": "never"}),
	}})
	res := compositeResults(t, r)
	codes := []string{errorCode(res[0]["body"]), errorCode(res[1]["body"]), errorCode(res[2]["body"])}
	if fmt.Sprint(codes) != "[PROCESSING_HALTED INVALID_EMAIL_ADDRESS PROCESSING_HALTED]" {
		t.Errorf("codes %v", codes)
	}
	for _, x := range res {
		if x["httpStatusCode"] != 400.0 {
			t.Errorf("%v: %v", x["referenceId"], x["httpStatusCode"])
		}
	}
	if n := len(e.srv.Records("Account")) + len(e.srv.Records("Case")); n != 0 {
		t.Errorf("rollback left %d records", n)
	}

	// allOrNone false: earlier work stays; a dependent subrequest fails.
	r = e.do("POST", "/composite", map[string]any{"allOrNone": false, "compositeRequest": []any{
		sub("POST", "/sobjects/Account", "ok", map[string]any{"Name": "Kept"}),
		sub("POST", "/sobjects/Contact", "bad", map[string]any{"FirstName": "NoLast"}),
		sub("POST", "/sobjects/Case", "dep", map[string]any{"ContactId": "@{bad.id}"}),
		sub("POST", "/sobjects/Case", "indep", map[string]any{"Subject": "independent"}),
	}})
	res = compositeResults(t, r)
	got := []string{fmt.Sprint(res[0]["httpStatusCode"]), errorCode(res[1]["body"]), errorCode(res[2]["body"]), fmt.Sprint(res[3]["httpStatusCode"])}
	if fmt.Sprint(got) != "[201 REQUIRED_FIELD_MISSING PROCESSING_HALTED 201]" {
		t.Errorf("partial composite: %v", got)
	}
	if len(e.srv.Records("Account")) != 1 || len(e.srv.Records("Case")) != 1 {
		t.Errorf("partial composite stored %d accounts %d cases", len(e.srv.Records("Account")), len(e.srv.Records("Case")))
	}
}

func TestCompositeLimits(t *testing.T) {
	e := newEnv(t, Options{})
	var many []any
	for i := range 26 {
		many = append(many, sub("GET", "/limits", fmt.Sprintf("r%d", i), nil))
	}
	if r := e.do("POST", "/composite", map[string]any{"compositeRequest": many}); r.status != 400 {
		t.Errorf("26 subrequests: %d", r.status)
	}
	if r := e.do("POST", "/composite", map[string]any{"compositeRequest": many[:25]}); r.status != 200 {
		t.Errorf("25 subrequests: %d %v", r.status, r.body)
	}
	dup := []any{sub("GET", "/limits", "same", nil), sub("GET", "/limits", "same", nil)}
	if r := e.do("POST", "/composite", map[string]any{"compositeRequest": dup}); r.status != 400 {
		t.Errorf("duplicate referenceId: %d", r.status)
	}
	nested := []any{sub("POST", "/composite", "nested", map[string]any{"compositeRequest": []any{}})}
	if res := compositeResults(t, e.do("POST", "/composite", map[string]any{"compositeRequest": nested})); res[0]["httpStatusCode"] != 400.0 {
		t.Errorf("nested composite: %v", res[0])
	}
}

func TestCompositeGraph(t *testing.T) {
	e := newEnv(t, Options{})
	graph := func(id string, nodes ...any) map[string]any {
		return map[string]any{"graphId": id, "compositeRequest": nodes}
	}
	r := e.do("POST", "/composite/graph", map[string]any{"graphs": []any{
		graph("1",
			sub("POST", "/sobjects/Account/", "reference_id_account_1", map[string]any{"Name": "Cloudy Consulting"}),
			sub("POST", "/sobjects/Contact/", "reference_id_contact_1", map[string]any{"LastName": "Cashman", "AccountId": "@{reference_id_account_1.id}"})),
		graph("2",
			sub("POST", "/sobjects/Account/", "a2", map[string]any{"Name": "Doomed"}),
			sub("POST", "/sobjects/Contact/", "c2", map[string]any{"FirstName": "NoLastName", "AccountId": "@{a2.id}"})),
	}})
	if r.status != 200 {
		t.Fatalf("%d %v", r.status, r.body)
	}
	graphs := arr(obj(r.body)["graphs"])
	if len(graphs) != 2 || obj(graphs[0])["isSuccessful"] != true || obj(graphs[1])["isSuccessful"] != false {
		t.Fatalf("graphs: %v", r.body)
	}
	g2 := arr(obj(obj(graphs[1])["graphResponse"])["compositeResponse"])
	if errorCode(obj(g2[0])["body"]) != "PROCESSING_HALTED" || errorCode(obj(g2[1])["body"]) != "REQUIRED_FIELD_MISSING" {
		t.Errorf("failed graph: %v", g2)
	}
	if accts := e.srv.Records("Account"); len(accts) != 1 || accts[0]["Name"] != "Cloudy Consulting" {
		t.Errorf("accounts after graphs: %v", accts)
	}
	var nodes []any
	for i := range 501 {
		nodes = append(nodes, sub("GET", "/limits", fmt.Sprintf("n%d", i), nil))
	}
	if r := e.do("POST", "/composite/graph", map[string]any{"graphs": []any{graph("big", nodes...)}}); r.status != 400 {
		t.Errorf("501 nodes: %d", r.status)
	}
}

func saveResults(t *testing.T, r result) []map[string]any {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("collection: %d %v", r.status, r.body)
	}
	var out []map[string]any
	for _, x := range arr(r.body) {
		out = append(out, obj(x))
	}
	return out
}

func statusCode(m map[string]any) string {
	errs := arr(m["errors"])
	if len(errs) == 0 {
		return ""
	}
	return fmt.Sprint(obj(errs[0])["statusCode"])
}

func TestCollections(t *testing.T) {
	e := newEnv(t, Options{})
	rec := func(typ string, fields map[string]any) map[string]any {
		fields["attributes"] = map[string]any{"type": typ}
		return fields
	}
	// Partial success.
	res := saveResults(t, e.do("POST", "/composite/sobjects", map[string]any{"allOrNone": false, "records": []any{
		rec("Account", map[string]any{"Name": "example.com"}),
		rec("Contact", map[string]any{"FirstName": "Ann"}),
	}}))
	if res[0]["success"] != true || len(fmt.Sprint(res[0]["id"])) != 18 || res[1]["success"] != false || statusCode(res[1]) != "REQUIRED_FIELD_MISSING" {
		t.Errorf("partial: %v", res)
	}
	if _, hasID := res[1]["id"]; hasID {
		t.Error("failed SaveResult carries an id")
	}
	if f := fmt.Sprint(obj(arr(res[1]["errors"])[0])["fields"]); f != "[LastName]" {
		t.Errorf("fields: %s", f)
	}
	// All or none.
	res = saveResults(t, e.do("POST", "/composite/sobjects", map[string]any{"allOrNone": true, "records": []any{
		rec("Account", map[string]any{"Name": "rolled back"}),
		rec("Contact", map[string]any{"FirstName": "Ann"}),
		rec("Account", map[string]any{"Name": "also rolled back"}),
	}}))
	if got := []string{statusCode(res[0]), statusCode(res[1]), statusCode(res[2])}; fmt.Sprint(got) != "[ALL_OR_NONE_OPERATION_ROLLED_BACK REQUIRED_FIELD_MISSING ALL_OR_NONE_OPERATION_ROLLED_BACK]" {
		t.Errorf("allOrNone: %v", got)
	}
	if n := len(e.srv.Records("Account")); n != 1 {
		t.Errorf("%d accounts after rollback, want 1", n)
	}
	// Update, with a deleted record.
	c1 := e.mustCreate("Case", map[string]any{"Subject": "one"})
	c2 := e.mustCreate("Case", map[string]any{"Subject": "two"})
	e.do("DELETE", "/sobjects/Case/"+c2, nil)
	res = saveResults(t, e.do("PATCH", "/composite/sobjects", map[string]any{"allOrNone": false, "records": []any{
		rec("Case", map[string]any{"id": c1, "Priority": "High"}),
		rec("Case", map[string]any{"id": c2, "Priority": "High"}),
	}}))
	if res[0]["success"] != true || statusCode(res[1]) != "ENTITY_IS_DELETED" {
		t.Errorf("update: %v", res)
	}
	// Upsert by external ID.
	res = saveResults(t, e.do("PATCH", "/composite/sobjects/Case/Triage_Key__c", map[string]any{"allOrNone": false, "records": []any{
		rec("Case", map[string]any{"Subject": "a", "Triage_Key__c": "k1"}),
		rec("Case", map[string]any{"Subject": "b", "Triage_Key__c": "k2"}),
		rec("Case", map[string]any{"Subject": strings.Repeat("x", 300), "Triage_Key__c": "k3"}),
	}}))
	if res[0]["created"] != true || res[1]["created"] != true || statusCode(res[2]) != "STRING_TOO_LONG" || res[2]["created"] != false {
		t.Errorf("upsert create: %v", res)
	}
	res = saveResults(t, e.do("PATCH", "/composite/sobjects/Case/Triage_Key__c", map[string]any{"records": []any{
		rec("Case", map[string]any{"Subject": "a2", "Triage_Key__c": "k1"}),
	}}))
	if res[0]["created"] != false || res[0]["success"] != true {
		t.Errorf("upsert update: %v", res)
	}
	// Delete.
	res = saveResults(t, e.do("DELETE", "/composite/sobjects?ids="+c1+","+c2+"&allOrNone=false", nil))
	if res[0]["success"] != true || statusCode(res[1]) != "ENTITY_IS_DELETED" {
		t.Errorf("delete: %v", res)
	}
	// Limits and shape errors.
	var many []any
	for i := range 201 {
		many = append(many, rec("Account", map[string]any{"Name": fmt.Sprint(i)}))
	}
	if r := e.do("POST", "/composite/sobjects", map[string]any{"records": many}); r.status != 400 {
		t.Errorf("201 records: %d", r.status)
	}
	if r := e.do("POST", "/composite/sobjects", map[string]any{"records": many[:200]}); r.status != 200 {
		t.Errorf("200 records: %d", r.status)
	}
	res = saveResults(t, e.do("POST", "/composite/sobjects", map[string]any{"records": []any{map[string]any{"Name": "typeless"}}}))
	if statusCode(res[0]) != "INVALID_TYPE" {
		t.Errorf("no attributes.type: %v", res)
	}
}
