// Package sfdx holds the project's Salesforce DX source folder (custom fields
// and the Triage_Integration permission set an admin deploys with
// `sf project deploy start`) and parses it, so that the emulator's schema for
// the project's custom fields is read from the very files an admin deploys:
// the two cannot drift.
package sfdx

import (
	"embed"
	"encoding/xml"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Source is the DX project: sfdx-project.json and force-app/.
//
//go:embed sfdx-project.json force-app
var Source embed.FS

const objectsDir = "force-app/main/default/objects"

// Field is one custom field definition (a CustomField .field-meta.xml file).
type Field struct {
	Object        string // API name of the object, e.g. "Case"
	FullName      string // API name of the field, e.g. "Triage_Key__c"
	Label         string
	Description   string
	Type          string // Metadata API type: Text, LongTextArea, Number, Percent, Checkbox, Picklist, Email, Date, DateTime, ...
	Length        int    // characters, for text types
	Precision     int    // total digits, for numeric types
	Scale         int    // digits right of the decimal point
	Required      bool
	ExternalID    bool
	Unique        bool
	CaseSensitive bool
	DefaultValue  string
	Picklist      []string // values, in order, for Picklist types
	Restricted    bool     // restricted picklist
}

type xmlField struct {
	FullName      string `xml:"fullName"`
	Label         string `xml:"label"`
	Description   string `xml:"description"`
	Type          string `xml:"type"`
	Length        int    `xml:"length"`
	Precision     int    `xml:"precision"`
	Scale         int    `xml:"scale"`
	Required      bool   `xml:"required"`
	ExternalID    bool   `xml:"externalId"`
	Unique        bool   `xml:"unique"`
	CaseSensitive bool   `xml:"caseSensitive"`
	DefaultValue  string `xml:"defaultValue"`
	ValueSet      struct {
		Restricted bool `xml:"restricted"`
		Definition struct {
			Values []struct {
				FullName string `xml:"fullName"`
			} `xml:"value"`
		} `xml:"valueSetDefinition"`
	} `xml:"valueSet"`
}

// Fields parses every objects/<Object>/fields/*.field-meta.xml, sorted by
// object then field name.
func Fields() ([]Field, error) {
	return parseFields(Source)
}

func parseFields(fsys fs.FS) ([]Field, error) {
	files, err := fs.Glob(fsys, objectsDir+"/*/fields/*.field-meta.xml")
	if err != nil {
		return nil, fmt.Errorf("sfdx: list fields: %w", err)
	}
	var out []Field
	for _, name := range files {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("sfdx: %w", err)
		}
		f, err := ParseField(data)
		if err != nil {
			return nil, fmt.Errorf("sfdx: %s: %w", name, err)
		}
		f.Object = path.Base(path.Dir(path.Dir(name)))
		if want := strings.TrimSuffix(path.Base(name), ".field-meta.xml"); f.FullName != want {
			return nil, fmt.Errorf("sfdx: %s: fullName %q does not match the file name", name, f.FullName)
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Object != out[j].Object {
			return out[i].Object < out[j].Object
		}
		return out[i].FullName < out[j].FullName
	})
	return out, nil
}

// ParseField parses one CustomField document and checks what the Metadata API
// would reject at deploy time.
func ParseField(data []byte) (Field, error) {
	var x xmlField
	if err := xml.Unmarshal(data, &x); err != nil {
		return Field{}, fmt.Errorf("parse CustomField: %w", err)
	}
	f := Field{
		FullName: x.FullName, Label: x.Label, Description: x.Description, Type: x.Type,
		Length: x.Length, Precision: x.Precision, Scale: x.Scale, Required: x.Required,
		ExternalID: x.ExternalID, Unique: x.Unique, CaseSensitive: x.CaseSensitive,
		DefaultValue: x.DefaultValue, Restricted: x.ValueSet.Restricted,
	}
	for _, v := range x.ValueSet.Definition.Values {
		f.Picklist = append(f.Picklist, v.FullName)
	}
	if !strings.HasSuffix(f.FullName, "__c") {
		return Field{}, fmt.Errorf("custom field %q: name must end in __c", f.FullName)
	}
	if f.Label == "" || len(f.Label) > 40 {
		return Field{}, fmt.Errorf("%s: label must be 1 to 40 characters", f.FullName)
	}
	switch f.Type {
	case "Text":
		if f.Length < 1 || f.Length > 255 {
			return Field{}, fmt.Errorf("%s: Text length must be 1..255, got %d", f.FullName, f.Length)
		}
	case "LongTextArea", "Html":
		if f.Length < 256 || f.Length > 131072 {
			return Field{}, fmt.Errorf("%s: %s length must be 256..131072, got %d", f.FullName, f.Type, f.Length)
		}
	case "Number", "Percent", "Currency":
		if f.Precision < 1 || f.Precision > 18 || f.Scale < 0 || f.Scale > f.Precision {
			return Field{}, fmt.Errorf("%s: bad precision %d / scale %d", f.FullName, f.Precision, f.Scale)
		}
	case "Picklist", "MultiselectPicklist":
		if len(f.Picklist) == 0 {
			return Field{}, fmt.Errorf("%s: picklist without values", f.FullName)
		}
	case "Checkbox", "Email", "Phone", "Url", "Date", "DateTime", "TextArea":
	default:
		return Field{}, fmt.Errorf("%s: unsupported field type %q", f.FullName, f.Type)
	}
	if (f.ExternalID || f.Unique) && f.Type != "Text" && f.Type != "Number" && f.Type != "Email" {
		return Field{}, fmt.Errorf("%s: only Text, Number and Email fields can be external IDs or unique", f.FullName)
	}
	return f, nil
}

// ObjectPermission is one objectPermissions entry of a permission set.
type ObjectPermission struct {
	Object                           string
	Read, Create, Edit, Delete       bool
	ViewAllRecords, ModifyAllRecords bool
}

// FieldPermission is one fieldPermissions entry ("Object.Field").
type FieldPermission struct {
	Field              string
	Readable, Editable bool
}

// PermissionSet is the parsed Triage_Integration permission set.
type PermissionSet struct {
	Label           string
	Description     string
	Objects         []ObjectPermission
	Fields          []FieldPermission
	UserPermissions []string
}

// Object returns the permission entry for an object (zero value when absent:
// no access).
func (p PermissionSet) Object(name string) ObjectPermission {
	for _, o := range p.Objects {
		if o.Object == name {
			return o
		}
	}
	return ObjectPermission{Object: name}
}

// PermissionSetFile is the permission set's path inside Source.
const PermissionSetFile = "force-app/main/default/permissionsets/Triage_Integration.permissionset-meta.xml"

// LoadPermissionSet parses the embedded Triage_Integration permission set.
func LoadPermissionSet() (PermissionSet, error) {
	data, err := fs.ReadFile(Source, PermissionSetFile)
	if err != nil {
		return PermissionSet{}, fmt.Errorf("sfdx: %w", err)
	}
	var x struct {
		Label       string `xml:"label"`
		Description string `xml:"description"`
		Objects     []struct {
			Object           string `xml:"object"`
			AllowRead        bool   `xml:"allowRead"`
			AllowCreate      bool   `xml:"allowCreate"`
			AllowEdit        bool   `xml:"allowEdit"`
			AllowDelete      bool   `xml:"allowDelete"`
			ViewAllRecords   bool   `xml:"viewAllRecords"`
			ModifyAllRecords bool   `xml:"modifyAllRecords"`
		} `xml:"objectPermissions"`
		Fields []struct {
			Field    string `xml:"field"`
			Readable bool   `xml:"readable"`
			Editable bool   `xml:"editable"`
		} `xml:"fieldPermissions"`
		User []struct {
			Name    string `xml:"name"`
			Enabled bool   `xml:"enabled"`
		} `xml:"userPermissions"`
	}
	if err := xml.Unmarshal(data, &x); err != nil {
		return PermissionSet{}, fmt.Errorf("sfdx: parse permission set: %w", err)
	}
	p := PermissionSet{Label: x.Label, Description: x.Description}
	for _, o := range x.Objects {
		p.Objects = append(p.Objects, ObjectPermission{Object: o.Object, Read: o.AllowRead, Create: o.AllowCreate,
			Edit: o.AllowEdit, Delete: o.AllowDelete, ViewAllRecords: o.ViewAllRecords, ModifyAllRecords: o.ModifyAllRecords})
	}
	for _, f := range x.Fields {
		p.Fields = append(p.Fields, FieldPermission{Field: f.Field, Readable: f.Readable, Editable: f.Editable})
	}
	for _, u := range x.User {
		if u.Enabled {
			p.UserPermissions = append(p.UserPermissions, u.Name)
		}
	}
	return p, nil
}
