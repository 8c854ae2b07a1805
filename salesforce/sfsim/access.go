package sfsim

import (
	"github.com/triage-dev/triage/salesforce/sfdx"
)

// access is the integration user's access when Options.EnforcePermissionSet
// is on: exactly what the Triage_Integration permission set grants, so tests
// prove the app works with least privilege.
type access struct {
	ps     sfdx.PermissionSet
	fields map[string]sfdx.FieldPermission // "Object.Field"
	custom map[string]bool                 // fields defined by the project's metadata
}

func newAccess(custom []sfdx.Field) (*access, error) {
	ps, err := sfdx.LoadPermissionSet()
	if err != nil {
		return nil, err
	}
	a := &access{ps: ps, fields: map[string]sfdx.FieldPermission{}, custom: map[string]bool{}}
	for _, f := range ps.Fields {
		a.fields[f.Field] = f
	}
	for _, f := range custom {
		a.custom[f.Object+"."+f.FullName] = true
	}
	return a, nil
}

// objAllowed reports whether the user may read, create, edit or delete
// records of an object.
func (s *Server) objAllowed(o *sobject, op string) bool {
	a := s.access
	if a == nil {
		return true
	}
	if o.Name == "CaseArticle" {
		// No permissions of its own: the parent Case and the article decide.
		cs, kav := a.ps.Object("Case"), a.ps.Object("Knowledge__kav")
		switch op {
		case "read":
			return cs.Read
		case "create", "delete":
			return cs.Edit && kav.Read
		}
		return false
	}
	switch o.Name {
	case "ContentVersion", "ContentDocument", "ContentDocumentLink":
		// Files need no object permission: sharing with the record decides.
		return true
	}
	p := a.ps.Object(o.Name)
	switch op {
	case "read":
		return p.Read
	case "create":
		return p.Create
	case "edit":
		return p.Edit
	case "delete":
		return p.Delete
	}
	return false
}

// fieldAllowed applies field-level security to the project's own custom
// fields (standard fields and the org's other fields stay visible, as the
// profile would decide them).
func (s *Server) fieldAllowed(o *sobject, f *field, edit bool) bool {
	a := s.access
	if a == nil || !a.custom[o.Name+"."+f.Name] {
		return true
	}
	p := a.fields[o.Name+"."+f.Name]
	if edit {
		return p.Editable
	}
	return p.Readable
}

func insufficientAccess() *apiError {
	return recordErr("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
}
