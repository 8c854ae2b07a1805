package sfdx

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
)

func TestFieldsParse(t *testing.T) {
	fields, err := Fields()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Field{}
	for _, f := range fields {
		byName[f.Object+"."+f.FullName] = f
	}
	want := []struct {
		name, typ   string
		length      int
		ext, unique bool
	}{
		{"Case.AI_Confidence__c", "Percent", 0, false, false},
		{"Case.AI_Category__c", "Text", 80, false, false},
		{"Case.AI_Priority__c", "Text", 40, false, false},
		{"Case.AI_Sentiment__c", "Text", 40, false, false},
		{"Case.AI_Language__c", "Text", 20, false, false},
		{"Case.AI_Summary__c", "LongTextArea", 32768, false, false},
		{"Case.AI_Escalation_Reason__c", "Text", 255, false, false},
		{"Case.AI_Explanation__c", "LongTextArea", 32768, false, false},
		{"Case.Triage_Key__c", "Text", 255, true, true},
	}
	for _, w := range want {
		f, ok := byName[w.name]
		if !ok {
			t.Errorf("%s: missing", w.name)
			continue
		}
		if f.Type != w.typ || f.Length != w.length || f.ExternalID != w.ext || f.Unique != w.unique {
			t.Errorf("%s: got %+v", w.name, f)
		}
	}
	if f := byName["Case.AI_Confidence__c"]; f.Precision != 5 || f.Scale != 2 {
		t.Errorf("AI_Confidence__c precision/scale: %d/%d", f.Precision, f.Scale)
	}
}

// Least privilege: the permission set grants exactly what the app needs.
func TestPermissionSetLeastPrivilege(t *testing.T) {
	p, err := LoadPermissionSet()
	if err != nil {
		t.Fatal(err)
	}
	type access struct{ r, c, e bool }
	want := map[string]access{
		"Account":        {true, false, false},
		"Contact":        {true, true, false},
		"Knowledge__kav": {true, false, false},
		"Case":           {true, true, true},
		"EmailMessage":   {true, true, true},
		"Task":           {true, true, true},
	}
	if len(p.Objects) != len(want) {
		t.Errorf("permission set names %d objects, want %d", len(p.Objects), len(want))
	}
	for _, o := range p.Objects {
		w, ok := want[o.Object]
		if !ok {
			t.Errorf("unexpected object permission on %s", o.Object)
			continue
		}
		if (access{o.Read, o.Create, o.Edit}) != w {
			t.Errorf("%s: got read=%v create=%v edit=%v, want %+v", o.Object, o.Read, o.Create, o.Edit, w)
		}
		if o.Delete || o.ViewAllRecords || o.ModifyAllRecords {
			t.Errorf("%s: delete/view all/modify all must not be granted", o.Object)
		}
	}
	fields, err := Fields()
	if err != nil {
		t.Fatal(err)
	}
	granted := map[string]FieldPermission{}
	for _, f := range p.Fields {
		granted[f.Field] = f
	}
	for _, f := range fields {
		g, ok := granted[f.Object+"."+f.FullName]
		if !ok || !g.Readable || !g.Editable {
			t.Errorf("%s.%s: no read/edit field permission", f.Object, f.FullName)
		}
		delete(granted, f.Object+"."+f.FullName)
	}
	for name := range granted {
		t.Errorf("field permission for %s, which this project does not define", name)
	}
	if strings.Join(p.UserPermissions, ",") != "ApiEnabled" {
		t.Errorf("user permissions: %v", p.UserPermissions)
	}
}

func TestProjectFile(t *testing.T) {
	data, err := fs.ReadFile(Source, "sfdx-project.json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		PackageDirectories []struct {
			Path    string `json:"path"`
			Default bool   `json:"default"`
		} `json:"packageDirectories"`
		SourceAPIVersion string `json:"sourceApiVersion"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.PackageDirectories) != 1 || p.PackageDirectories[0].Path != "force-app" || !p.PackageDirectories[0].Default {
		t.Errorf("packageDirectories: %+v", p.PackageDirectories)
	}
	if p.SourceAPIVersion == "" {
		t.Error("sourceApiVersion missing")
	}
}

func TestParseFieldRejects(t *testing.T) {
	const head = `<?xml version="1.0" encoding="UTF-8"?><CustomField xmlns="http://soap.sforce.com/2006/04/metadata">`
	tests := []struct {
		name, body, wantErr string
	}{
		{"no __c", `<fullName>Foo</fullName><label>Foo</label><type>Text</type><length>10</length>`, "__c"},
		{"text too long", `<fullName>Foo__c</fullName><label>Foo</label><type>Text</type><length>256</length>`, "length"},
		{"long text too short", `<fullName>Foo__c</fullName><label>Foo</label><type>LongTextArea</type><length>100</length>`, "length"},
		{"bad scale", `<fullName>Foo__c</fullName><label>Foo</label><type>Number</type><precision>3</precision><scale>4</scale>`, "scale"},
		{"unknown type", `<fullName>Foo__c</fullName><label>Foo</label><type>Hologram</type>`, "unsupported"},
		{"external long text", `<fullName>Foo__c</fullName><label>Foo</label><type>LongTextArea</type><length>1000</length><externalId>true</externalId>`, "external"},
		{"empty picklist", `<fullName>Foo__c</fullName><label>Foo</label><type>Picklist</type>`, "picklist"},
		{"not xml", `<fullName>`, "parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseField([]byte(head + tt.body + `</CustomField>`))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
	f, err := ParseField([]byte(head + `<fullName>Mood__c</fullName><label>Mood</label><type>Picklist</type><valueSet><restricted>true</restricted><valueSetDefinition><value><fullName>Happy</fullName></value><value><fullName>Sad</fullName></value></valueSetDefinition></valueSet></CustomField>`))
	if err != nil || strings.Join(f.Picklist, ",") != "Happy,Sad" || !f.Restricted {
		t.Fatalf("picklist: %+v %v", f, err)
	}
}
