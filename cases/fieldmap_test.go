package cases

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

func TestValidateFieldMapAgainstEmulator(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if errs := ValidateFieldMap(ctx, Config{}, e.sf, "REFUND", "ORDER"); len(errs) != 0 {
		t.Fatalf("default map against the shipped metadata: %v", errs)
	}
	tests := []struct {
		name string
		cfg  Config
		cats []string
		want []string
	}{
		{"missing field", Config{FieldMap: FieldMap{Sentiment: "Mood__c"}}, nil,
			[]string{"field_map.sentiment: Case has no field Mood__c"}},
		{"read-only field", Config{FieldMap: FieldMap{Summary: "CaseNumber"}}, nil,
			[]string{"field_map.summary: Case.CaseNumber is not writable by the integration user"}},
		{"wrong type", Config{FieldMap: FieldMap{Explanation: "IsEscalated"}}, nil,
			[]string{"field_map.explanation: Case.IsEscalated has type boolean, want one of textarea, string"}},
		{"bad picklist value", Config{FieldMap: FieldMap{Category: "Type"}}, []string{"Electrical", "REFUND"},
			[]string{`field_map.category_values.REFUND: "REFUND" is not an active value of the Case.Type picklist`}},
		{"category value map", Config{FieldMap: FieldMap{Category: "Type", CategoryValues: map[string]string{"REFUND": "Other"}}}, []string{"REFUND"}, nil},
		{"priority values", Config{FieldMap: FieldMap{PriorityValues: map[string]string{"urgent": "Critical"}}}, nil,
			[]string{`field_map.priority_values.urgent: "Critical" is not an active value of the Case.Priority picklist (have High, Medium, Low)`}},
		{"status value", Config{Status: StatusValues{WaitingOnCustomer: "Waiting on Customer"}}, nil,
			[]string{`status.waiting_on_customer: "Waiting on Customer" is not an active value of the Case.Status picklist`}},
		{"external id not external", Config{FieldMap: FieldMap{ExternalID: "AI_Category__c", Category: "Type"}}, nil,
			[]string{"field_map.external_id: Case.AI_Category__c is not an External ID field"}},
		{"confidence scale", Config{FieldMap: FieldMap{ConfidencePercent: boolp(false)}}, nil,
			[]string{"field_map.confidence_percent: Case.AI_Confidence__c is a Percent field"}},
		{"every problem listed", Config{FieldMap: FieldMap{Sentiment: "Mood__c", Summary: "CaseNumber", Explanation: "IsEscalated"}}, nil,
			[]string{"field_map.sentiment:", "field_map.summary:", "field_map.explanation:"}},
		{"custom objects", Config{CustomObjects: []CustomObject{
			{Object: "Device__c", ReadFields: []string{"Serial__c"}},
			{Object: "Account", MatchField: "Id", ReadFields: []string{"Name", "Tier__c"}, WriteFields: []string{"CreatedDate"}},
		}}, nil, []string{"custom_objects[0].object: Device__c does not exist", "custom_objects[1].read_fields[1]: Account has no field Tier__c",
			"custom_objects[1].write_fields[0]: Account.CreatedDate is not writable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := ValidateFieldMap(ctx, tt.cfg, e.sf, tt.cats...)
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors %v, want %d", len(errs), errs, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want prefix %q", i, errs[i], w)
				}
			}
		})
	}
}

func TestAuditVerifyDetectsTampering(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	for _, mid := range []string{"a1@x.example", "a2@x.example"} {
		if _, err := s.Process(ctx, e.msg(mid), newEmail("jo@x.example", mid, "Hi "+mid)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("untouched trail: %v", err)
	}
	// The table refuses updates through SQL...
	db, err := sql.Open("sqlite", e.st.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `UPDATE cases_audit SET result='ok' WHERE seq=1`); err == nil {
		t.Fatal("append-only trigger did not fire")
	}
	// A tamperer drops the trigger first: the hash chain still tells.
	for _, q := range []string{`DROP TRIGGER cases_audit_no_update`, `UPDATE cases_audit SET fields = replace(fields, 'REFUND', 'ORDER') WHERE seq = 2`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	err = s.Verify(ctx)
	var te *store.AuditTamperError
	if !errors.As(err, &te) || te.Seq != 2 {
		t.Fatalf("verify after a changed row: %v", err)
	}
}

func TestAuditVerifyDetectsDeletedRow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{DryRun: true})
	for _, mid := range []string{"b1@x.example", "b2@x.example"} {
		if _, err := s.Process(ctx, e.msg(mid), newEmail("jo@x.example", mid, "Hi")); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", e.st.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DROP TRIGGER cases_audit_no_delete`, `DELETE FROM cases_audit WHERE seq = (SELECT max(seq) FROM cases_audit)`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var te *store.AuditTamperError
	if err := s.Verify(ctx); !errors.As(err, &te) {
		t.Fatalf("verify after removing the last row: %v", err)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM cases_audit WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(ctx); !errors.As(err, &te) || te.Seq != 2 {
		t.Fatalf("verify after removing row 2: %v", err)
	}
}

// shrunkOrg alters a real describe: a smaller Subject, Headers without
// create access, Task not createable.
type shrunkOrg struct{ d Describer }

func (s shrunkOrg) Describe(ctx context.Context, o string) (*salesforce.DescribeResult, error) {
	r, err := s.d.Describe(ctx, o)
	if err != nil {
		return nil, err
	}
	c := *r
	c.Fields = append([]salesforce.FieldDescribe(nil), r.Fields...)
	for i := range c.Fields {
		switch o + "." + c.Fields[i].Name {
		case "Case.Subject":
			c.Fields[i].Length = 100
		case "EmailMessage.Headers":
			c.Fields[i].Createable = false
		}
	}
	if o == "Task" {
		c.Createable = false
	}
	return &c, nil
}

func TestValidateStandardAccess(t *testing.T) {
	e := newEnv(t)
	errs := ValidateFieldMap(context.Background(), Config{}, shrunkOrg{e.sf})
	want := []string{
		"objects.EmailMessage.Headers: not createable by the integration user",
		"objects.Task: the integration user cannot create Task records",
		"truncate.subject: 255 exceeds Case.Subject's length 100 in this org",
	}
	if len(errs) != len(want) {
		t.Fatalf("got %v", errs)
	}
	for i, w := range want {
		if errs[i].Error() != w {
			t.Errorf("error %d = %q, want %q", i, errs[i], w)
		}
	}
}
