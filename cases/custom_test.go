package cases

import (
	"context"
	"errors"
	"testing"

	"github.com/triage-dev/triage/salesforce/sfdx"
)

func TestCustomObjectsReadAndWrite(t *testing.T) {
	e := newEnv(t, sfdx.Field{Object: "Account", FullName: "Tier__c", Label: "Tier", Type: "Text", Length: 40},
		sfdx.Field{Object: "Account", FullName: "Secret_Notes__c", Label: "Secret", Type: "Text", Length: 200},
		sfdx.Field{Object: "Account", FullName: "Last_Triage__c", Label: "Last triage", Type: "Text", Length: 80})
	ctx := context.Background()
	acct, err := e.sf.Create(ctx, "Account", map[string]any{"Name": "Acme", "Tier__c": "Platinum", "Secret_Notes__c": "do not read"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{CustomObjects: []CustomObject{{Object: "Account", Match: "account", MatchField: "Id",
		ReadFields: []string{"Name", "Tier__c"}, WriteFields: []string{"Last_Triage__c"}}}}
	if errs := ValidateFieldMap(ctx, cfg, e.sf); len(errs) != 0 {
		t.Fatal(errs)
	}
	s := e.stage(cfg)
	recs, err := s.ReadCustom(ctx, RecordIDs{AccountID: acct})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || len(recs[0].Records) != 1 || recs[0].Records[0]["Tier__c"] != "Platinum" {
		t.Fatalf("%+v", recs)
	}
	if _, leaked := recs[0].Records[0]["Secret_Notes__c"]; leaked {
		t.Fatal("a field outside read_fields was selected")
	}
	if err := s.WriteCustom(ctx, 7, "Account", acct, map[string]any{"Last_Triage__c": "REFUND"}); err != nil {
		t.Fatal(err)
	}
	if e.record("Account", acct)["Last_Triage__c"] != "REFUND" {
		t.Fatal("not written")
	}
	for _, f := range []map[string]any{{"Secret_Notes__c": "x"}, {"Name": "Evil"}} {
		if err := s.WriteCustom(ctx, 7, "Account", acct, f); !errors.Is(err, ErrFieldNotAllowed) {
			t.Errorf("write %v: %v", f, err)
		}
	}
	if err := s.WriteCustom(ctx, 7, "Device__c", acct, map[string]any{"X__c": 1}); !errors.Is(err, ErrFieldNotAllowed) {
		t.Errorf("unconfigured object: %v", err)
	}
}
