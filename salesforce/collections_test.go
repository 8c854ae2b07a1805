package salesforce

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCollectionsCreatePartial(t *testing.T) {
	f := newFakeOrg(t)
	g := f.replay("collections_create_partial")
	c := f.client()
	res, err := c.CreateRecords(context.Background(), false, []Record{
		{Type: "Account", Fields: map[string]any{"Name": "example.com", "BillingCity": "San Francisco"}},
		{Type: "Contact", Fields: map[string]any{"FirstName": "Ann"}},
	})
	checkRequest(t, f.requests()[0], g)
	if len(res) != 2 || !res[0].Success || res[0].ID != "001RM000003oLnnYAE" || res[1].Success {
		t.Fatalf("results = %+v", res)
	}
	var ce *CollectionError
	if !errors.As(err, &ce) || len(ce.Failures) != 1 || ce.Failures[0].Index != 1 {
		t.Fatalf("err = %v", err)
	}
	if ce.Failures[0].Err.Code() != "REQUIRED_FIELD_MISSING" || ce.Failures[0].Err.Errors[0].Fields[0] != "LastName" {
		t.Errorf("failure = %+v (statusCode must decode into ErrorCode)", ce.Failures[0].Err)
	}
	if !ce.Permanent() {
		t.Error("REQUIRED_FIELD_MISSING must be permanent")
	}
}

func TestCollectionsAllOrNoneRootCause(t *testing.T) {
	f := newFakeOrg(t)
	f.replay("collections_create_allornone_failure")
	c := f.client()
	_, err := c.CreateRecords(context.Background(), true, []Record{
		{Type: "Account", Fields: map[string]any{"Name": "example.com"}},
		{Type: "Contact", Fields: map[string]any{"FirstName": "Ann"}},
	})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code() != "REQUIRED_FIELD_MISSING" {
		t.Fatalf("root = %v, want REQUIRED_FIELD_MISSING not ALL_OR_NONE_OPERATION_ROLLED_BACK", err)
	}
	if strings.Contains(err.Error(), "ALL_OR_NONE") {
		t.Errorf("message shows the rollback echo: %s", err)
	}
}

func TestCollectionsUpsertAndUpdate(t *testing.T) {
	f := newFakeOrg(t)
	gu := f.replay("collections_upsert")
	gp := f.replay("collections_update")
	c := f.client()
	res, err := c.UpsertRecords(context.Background(), "Account", "MyExtId__c", false, []Record{
		{Type: "Account", Fields: map[string]any{"Name": "Company One", "MyExtId__c": "AAA"}},
		{Type: "Account", Fields: map[string]any{"Name": "Company Two", "MyExtId__c": "BBB"}},
		{Type: "Account", Fields: map[string]any{"Name": "Company Three, a name far too long", "MyExtId__c": "CCC"}},
	})
	checkRequest(t, f.requests()[0], gu)
	if len(res) != 3 || !res[0].Created || res[1].Created || res[2].Success {
		t.Errorf("upsert results = %+v", res)
	}
	if !HasErrorCode(err, "STRING_TOO_LONG") {
		t.Errorf("err = %v", err)
	}
	res, err = c.UpdateRecords(context.Background(), false, []Record{
		{Type: "Case", ID: "500R0000004dBJ8IAM", Fields: map[string]any{"Priority": "High"}},
		{Type: "Case", ID: "500R0000004dBJ9IAM", Fields: map[string]any{"Priority": "High"}},
	})
	checkRequest(t, f.requests()[1], gp)
	if len(res) != 2 || !res[0].Success || !HasErrorCode(err, "ENTITY_IS_DELETED") {
		t.Errorf("update = %+v, %v", res, err)
	}
}

func TestCollectionsRefuseInvalid(t *testing.T) {
	cfg := Config{LoginURL: "http://127.0.0.1:1", Auth: AuthConfig{Flow: FlowClientCredentials, ClientID: "a", ClientSecret: "b"}}
	c, err := New(context.Background(), cfg, WithHTTPClient(failDoer{t}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	many := make([]Record, MaxCollectionRecords+1)
	for i := range many {
		many[i] = Record{Type: "Account", Fields: map[string]any{"Name": "x"}}
	}
	alternating := make([]Record, 11)
	for i := range alternating {
		alternating[i] = Record{Type: []string{"Account", "Contact"}[i%2], Fields: map[string]any{"Name": "x"}}
	}
	ext := func(v any) Record { return Record{Type: "Case", Fields: map[string]any{"Key__c": v}} }
	for name, call := range map[string]func() error{
		"201 creates": func() error { _, err := c.CreateRecords(ctx, false, many); return err },
		"no records":  func() error { _, err := c.CreateRecords(ctx, false, nil); return err },
		"create with id": func() error {
			_, err := c.CreateRecords(ctx, false, []Record{{Type: "Case", ID: "500R0000004dBJ8IAM"}})
			return err
		},
		"11 chunks": func() error { _, err := c.CreateRecords(ctx, false, alternating); return err },
		"field named Id": func() error {
			_, err := c.CreateRecords(ctx, false, []Record{{Type: "Case", Fields: map[string]any{"Id": "x"}}})
			return err
		},
		"update without id": func() error { _, err := c.UpdateRecords(ctx, false, []Record{{Type: "Case"}}); return err },
		"upsert wrong type": func() error {
			_, err := c.UpsertRecords(ctx, "Case", "Key__c", false, []Record{{Type: "Account", Fields: map[string]any{"Key__c": "a"}}})
			return err
		},
		"upsert missing ext": func() error {
			_, err := c.UpsertRecords(ctx, "Case", "Key__c", false, []Record{{Type: "Case", Fields: map[string]any{"Subject": "a"}}})
			return err
		},
		"upsert duplicate ext": func() error {
			_, err := c.UpsertRecords(ctx, "Case", "Key__c", false, []Record{ext("a"), ext("a")})
			return err
		},
		"delete 0 ids":  func() error { _, err := c.DeleteRecords(ctx, false, nil); return err },
		"delete bad id": func() error { _, err := c.DeleteRecords(ctx, false, []string{"x,y"}); return err },
	} {
		var re *RequestError
		if err := call(); !errors.As(err, &re) {
			t.Errorf("%s: err = %v, want *RequestError", name, err)
		}
	}
	// 200 records of one type with distinct keys is the accepted boundary.
	ok := make([]Record, MaxCollectionRecords)
	for i := range ok {
		ok[i] = ext(fmt.Sprint(i))
	}
	if err := checkRecords("x", ok, false); err != nil {
		t.Errorf("200 records refused: %v", err)
	}
}
