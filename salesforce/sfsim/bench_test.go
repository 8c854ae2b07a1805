package sfsim

import (
	"fmt"
	"net/url"
	"testing"
)

func BenchmarkUpsertCaseHTTP(b *testing.B) {
	e := benchEnv(b)
	i := 0
	for b.Loop() {
		r := e.do("PATCH", fmt.Sprintf("/sobjects/Case/Triage_Key__c/k%d", i%500), map[string]any{"Subject": "bench", "AI_Confidence__c": 80})
		if r.status != 201 && r.status != 200 {
			b.Fatal(r.status, r.body)
		}
		i++
	}
}

func BenchmarkQueryHTTP(b *testing.B) {
	e := benchEnv(b)
	for i := range 500 {
		e.mustCreate("Case", map[string]any{"Subject": fmt.Sprint("case ", i), "Priority": []string{"High", "Medium", "Low"}[i%3]})
	}
	q := "/query?q=" + url.QueryEscape("SELECT Id, CaseNumber, Subject FROM Case WHERE Priority = 'High' AND IsClosed = false ORDER BY CreatedDate DESC LIMIT 50")
	for b.Loop() {
		if r := e.do("GET", q, nil); r.status != 200 {
			b.Fatal(r.status)
		}
	}
}

func BenchmarkParseSOQL(b *testing.B) {
	const q = "SELECT Id, Name, Account.Name FROM Contact WHERE Email = 'ann@example.com' AND (LastName LIKE 'A%' OR Title != null) ORDER BY Name LIMIT 10"
	for b.Loop() {
		if _, err := parseSOQL(q); err != nil {
			b.Fatal(err)
		}
	}
}
