package sfsim

import (
	"fmt"
	"sort"
	"strings"

	"github.com/triage-dev/triage/salesforce/sfdx"
)

// Field types, as describe reports them.
const (
	tID        = "id"
	tString    = "string"
	tTextarea  = "textarea"
	tEmail     = "email"
	tPhone     = "phone"
	tURL       = "url"
	tPicklist  = "picklist"
	tCombobox  = "combobox"
	tBoolean   = "boolean"
	tDouble    = "double"
	tPercent   = "percent"
	tCurrency  = "currency"
	tInt       = "int"
	tDate      = "date"
	tDatetime  = "datetime"
	tReference = "reference"
)

// field is one field of an sObject, with the properties describe reports and
// the emulator enforces.
type field struct {
	Name, Label string
	Type        string
	Length      int
	Precision   int
	Scale       int
	Createable  bool
	Updateable  bool
	Nillable    bool
	Defaulted   bool // defaultedOnCreate: not required even if not nillable
	Picklist    []string
	Default     string // default picklist value
	Restricted  bool
	ExternalID  bool
	Unique      bool
	IDLookup    bool
	AutoNumber  bool
	Calculated  bool
	Custom      bool
	ReferenceTo []string
	RelName     string // relationship name for parent lookups (Account for AccountId)
}

// required reports whether a create must supply a value.
func (f *field) required() bool { return f.Createable && !f.Nillable && !f.Defaulted }

// filterable: long text areas cannot be filtered or sorted in SOQL.
func (f *field) filterable() bool { return f.Type != tTextarea || f.Length <= 255 }

func (f *field) isText() bool {
	switch f.Type {
	case tString, tTextarea, tEmail, tPhone, tURL, tPicklist, tCombobox, tID, tReference:
		return true
	}
	return false
}

// sobject is one object's schema.
type sobject struct {
	Name, Label, LabelPlural, KeyPrefix string
	Custom                              bool
	Createable, Updateable, Deletable   bool
	Searchable                          bool
	Fields                              []*field
	byName                              map[string]*field // canonical names: the fast path
	byLower                             map[string]*field
	relations                           map[string]*field // lower-case relationship name → reference field
}

func (o *sobject) field(name string) *field {
	if f := o.byName[name]; f != nil {
		return f
	}
	return o.byLower[strings.ToLower(name)]
}

func (o *sobject) index() {
	o.byLower = map[string]*field{}
	o.byName = map[string]*field{}
	o.relations = map[string]*field{}
	for _, f := range o.Fields {
		o.byName[f.Name] = f
		o.byLower[strings.ToLower(f.Name)] = f
		if f.RelName != "" {
			o.relations[strings.ToLower(f.RelName)] = f
		}
	}
}

// schema is the org's set of objects.
type schema struct {
	objects  map[string]*sobject // by lower-case name
	byPrefix map[string]*sobject
	names    []string // canonical names, sorted
}

func (s *schema) object(name string) *sobject { return s.objects[strings.ToLower(name)] }

// The audit fields every object carries.
func auditFields() []*field {
	return []*field{
		{Name: "IsDeleted", Label: "Deleted", Type: tBoolean, Defaulted: true},
		{Name: "CreatedDate", Label: "Created Date", Type: tDatetime, Defaulted: true},
		{Name: "CreatedById", Label: "Created By ID", Type: tReference, Length: 18, Defaulted: true, ReferenceTo: []string{"User"}},
		{Name: "LastModifiedDate", Label: "Last Modified Date", Type: tDatetime, Defaulted: true},
		{Name: "LastModifiedById", Label: "Last Modified By ID", Type: tReference, Length: 18, Defaulted: true, ReferenceTo: []string{"User"}},
		{Name: "SystemModstamp", Label: "System Modstamp", Type: tDatetime, Defaulted: true},
	}
}

func idField(label string) *field {
	return &field{Name: "Id", Label: label + " ID", Type: tID, Length: 18, Defaulted: true, IDLookup: true}
}

func ownerField() *field {
	return &field{Name: "OwnerId", Label: "Owner ID", Type: tReference, Length: 18, Createable: true, Updateable: true, Defaulted: true, ReferenceTo: []string{"User"}}
}

// str, text, pick... are shorthands for the standard-object tables below.
func str(name, label string, n int) *field {
	return &field{Name: name, Label: label, Type: tString, Length: n, Createable: true, Updateable: true, Nillable: true}
}

func typed(typ, name, label string, n int) *field {
	f := str(name, label, n)
	f.Type = typ
	return f
}

func pick(name, label string, restricted bool, def string, values ...string) *field {
	return &field{Name: name, Label: label, Type: tPicklist, Length: 40, Createable: true, Updateable: true,
		Nillable: true, Picklist: values, Restricted: restricted, Default: def, Defaulted: def != ""}
}

func boolean(name, label string) *field {
	return &field{Name: name, Label: label, Type: tBoolean, Createable: true, Updateable: true, Defaulted: true}
}

func ref(name, label, rel string, to ...string) *field {
	return &field{Name: name, Label: label, Type: tReference, Length: 18, Createable: true, Updateable: true, Nillable: true, ReferenceTo: to, RelName: rel}
}

func readOnly(f *field) *field   { f.Createable, f.Updateable = false, false; return f }
func createOnly(f *field) *field { f.Updateable = false; return f }
func requiredF(f *field) *field  { f.Nillable = false; return f }

// KnowledgeBodyField is the article body field of the emulated org's
// Knowledge__kav. The body field of a Knowledge article type is defined by
// each org's admin (it is not part of this project's metadata), so the app
// reads its name from configuration; the emulator's org calls it Body__c.
const KnowledgeBodyField = "Body__c"

func standardObjects() []*sobject {
	account := &sobject{Name: "Account", Label: "Account", LabelPlural: "Accounts", KeyPrefix: "001", Searchable: true, Fields: []*field{
		idField("Account"),
		func() *field { f := requiredF(str("Name", "Account Name", 255)); f.IDLookup = true; return f }(),
		str("AccountNumber", "Account Number", 40),
		pick("Type", "Account Type", false, "", "Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller", "Installation Partner", "Technology Partner", "Other"),
		pick("Industry", "Industry", false, "", "Agriculture", "Banking", "Communications", "Education", "Electronics", "Energy", "Finance", "Healthcare", "Hospitality", "Manufacturing", "Retail", "Technology", "Transportation", "Other"),
		typed(tURL, "Website", "Website", 255),
		typed(tPhone, "Phone", "Account Phone", 40),
		&field{Name: "AnnualRevenue", Label: "Annual Revenue", Type: tCurrency, Precision: 18, Scale: 0, Createable: true, Updateable: true, Nillable: true},
		&field{Name: "NumberOfEmployees", Label: "Employees", Type: tInt, Precision: 8, Createable: true, Updateable: true, Nillable: true},
		str("BillingCity", "Billing City", 40),
		str("BillingPostalCode", "Billing Zip/Postal Code", 20),
		str("BillingCountry", "Billing Country", 80),
		typed(tTextarea, "Description", "Account Description", 32000),
		ownerField(),
	}}
	contact := &sobject{Name: "Contact", Label: "Contact", LabelPlural: "Contacts", KeyPrefix: "003", Searchable: true, Fields: []*field{
		idField("Contact"),
		ref("AccountId", "Account ID", "Account", "Account"),
		str("FirstName", "First Name", 40),
		requiredF(str("LastName", "Last Name", 80)),
		readOnly(&field{Name: "Name", Label: "Full Name", Type: tString, Length: 121, Calculated: true}),
		func() *field { f := typed(tEmail, "Email", "Email", 80); f.IDLookup = true; return f }(),
		typed(tPhone, "Phone", "Business Phone", 40),
		typed(tPhone, "MobilePhone", "Mobile Phone", 40),
		str("Title", "Title", 128),
		str("Department", "Department", 80),
		typed(tTextarea, "Description", "Contact Description", 32000),
		ownerField(),
	}}
	caseObj := &sobject{Name: "Case", Label: "Case", LabelPlural: "Cases", KeyPrefix: "500", Searchable: true, Fields: []*field{
		idField("Case"),
		func() *field {
			f := readOnly(str("CaseNumber", "Case Number", 30))
			f.Nillable, f.AutoNumber, f.IDLookup, f.Defaulted = false, true, true, true
			return f
		}(),
		ref("ContactId", "Contact ID", "Contact", "Contact"),
		ref("AccountId", "Account ID", "Account", "Account"),
		ref("ParentId", "Parent Case ID", "Parent", "Case"),
		createOnly(str("SuppliedName", "Web Name", 80)),
		createOnly(typed(tEmail, "SuppliedEmail", "Web Email", 80)),
		createOnly(typed(tPhone, "SuppliedPhone", "Web Phone", 40)),
		createOnly(str("SuppliedCompany", "Web Company", 80)),
		pick("Type", "Case Type", false, "", "Mechanical", "Electrical", "Electronic", "Structural", "Other"),
		pick("Status", "Status", true, "New", "New", "Working", "Escalated", "Closed"),
		pick("Reason", "Case Reason", false, "", "Installation", "Equipment Complexity", "Performance", "Breakdown", "Equipment Design", "Feedback", "Other"),
		pick("Origin", "Case Origin", true, "", "Phone", "Email", "Web"),
		pick("Priority", "Priority", true, "Medium", "High", "Medium", "Low"),
		str("Subject", "Subject", 255),
		typed(tTextarea, "Description", "Description", 32000),
		readOnly(&field{Name: "IsClosed", Label: "Closed", Type: tBoolean, Defaulted: true}),
		readOnly(&field{Name: "ClosedDate", Label: "Closed Date", Type: tDatetime, Nillable: true}),
		boolean("IsEscalated", "Escalated"),
		createOnly(typed(tTextarea, "Comments", "Internal Comments", 4000)),
		ownerField(),
	}}
	email := &sobject{Name: "EmailMessage", Label: "Email Message", LabelPlural: "Email Messages", KeyPrefix: "02s", Searchable: true, Fields: []*field{
		idField("Email Message"),
		createOnly(ref("ParentId", "Case ID", "Parent", "Case")),
		ref("RelatedToId", "Related To ID", "", "Case", "Account"),
		ref("ActivityId", "Activity ID", "Activity", "Task"),
		ref("ReplyToEmailMessageId", "Email Message ID", "ReplyToEmailMessage", "EmailMessage"),
		func() *field { f := createOnly(boolean("Incoming", "Is Incoming")); return f }(),
		typed(tEmail, "FromAddress", "From Address", 1000),
		str("FromName", "From Name", 1000),
		str("ToAddress", "To Address", 4000),
		str("CcAddress", "CC Address", 4000),
		str("BccAddress", "BCC Address", 4000),
		str("Subject", "Subject", 3000),
		typed(tTextarea, "TextBody", "Text Body", 131072),
		typed(tTextarea, "HtmlBody", "HTML Body", 131072),
		typed(tTextarea, "Headers", "Headers", 32000),
		typed(tDatetime, "MessageDate", "Message Date", 0),
		str("MessageIdentifier", "Message ID", 255),
		str("ThreadIdentifier", "Thread ID", 255),
		// Status is stored as the picklist value "0".."5": New, Read, Replied, Sent, Forwarded, Draft.
		requiredF(pick("Status", "Status", true, "", "0", "1", "2", "3", "4", "5")),
		readOnly(&field{Name: "HasAttachment", Label: "Has Attachment", Type: tBoolean, Defaulted: true}),
	}}
	task := &sobject{Name: "Task", Label: "Task", LabelPlural: "Tasks", KeyPrefix: "00T", Searchable: true, Fields: []*field{
		idField("Activity"),
		ref("WhoId", "Name ID", "Who", "Contact"),
		ref("WhatId", "Related To ID", "What", "Case", "Account"),
		typed(tCombobox, "Subject", "Subject", 255),
		typed(tDate, "ActivityDate", "Due Date Only", 0),
		requiredF(pick("Status", "Status", true, "Not Started", "Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")),
		requiredF(pick("Priority", "Priority", true, "Normal", "High", "Normal", "Low")),
		createOnly(pick("TaskSubtype", "Task Subtype", true, "Task", "Task", "Email", "ListEmail", "Cadence", "Call")),
		typed(tTextarea, "Description", "Description", 32000),
		readOnly(&field{Name: "IsClosed", Label: "Closed", Type: tBoolean, Defaulted: true}),
		ownerField(),
	}}
	comment := &sobject{Name: "CaseComment", Label: "Case Comment", LabelPlural: "Case Comments", KeyPrefix: "00a", Fields: []*field{
		idField("Case Comment"),
		requiredF(createOnly(ref("ParentId", "Parent Case ID", "Parent", "Case"))),
		boolean("IsPublished", "Published"),
		typed(tTextarea, "CommentBody", "Body", 4000),
	}}
	kav := &sobject{Name: "Knowledge__kav", Label: "Knowledge", LabelPlural: "Knowledge", KeyPrefix: "ka0", Custom: true, Searchable: true, Fields: []*field{
		idField("Knowledge"),
		readOnly(&field{Name: "KnowledgeArticleId", Label: "Knowledge Article ID", Type: tReference, Length: 18, Defaulted: true, ReferenceTo: []string{"KnowledgeArticle"}}),
		requiredF(str("Title", "Title", 255)),
		requiredF(str("UrlName", "URL Name", 255)),
		typed(tTextarea, "Summary", "Summary", 1000),
		func() *field {
			f := typed(tTextarea, KnowledgeBodyField, "Body", 131072)
			f.Custom = true
			return f
		}(),
		func() *field {
			f := readOnly(str("ArticleNumber", "Article Number", 30))
			f.Nillable, f.AutoNumber, f.IDLookup, f.Defaulted = false, true, true, true
			return f
		}(),
		readOnly(pick("PublishStatus", "Publication Status", true, "Draft", "Online", "Draft", "Archived")),
		createOnly(pick("Language", "Language", true, "en_US", "en_US", "fr", "de", "es", "it", "ja", "pt_BR", "nl_NL")),
		readOnly(&field{Name: "IsLatestVersion", Label: "Is Latest Version", Type: tBoolean, Defaulted: true}),
		readOnly(&field{Name: "VersionNumber", Label: "Version Number", Type: tInt, Precision: 9, Defaulted: true}),
		readOnly(&field{Name: "LastPublishedDate", Label: "Last Published Date", Type: tDatetime, Nillable: true}),
		boolean("IsVisibleInPkb", "Visible in Public Knowledge Base"),
		ownerField(),
	}}
	// CaseArticle cannot be updated; creating a duplicate link returns the
	// existing record (documented quirk).
	caseArticle := &sobject{Name: "CaseArticle", Label: "Case Article", LabelPlural: "Case Articles", KeyPrefix: "1CA", Fields: []*field{
		idField("Case Article"),
		requiredF(createOnly(ref("CaseId", "Case ID", "Case", "Case"))),
		requiredF(createOnly(ref("KnowledgeArticleId", "Knowledge Article ID", "", "KnowledgeArticle"))),
		readOnly(pick("ArticleLanguage", "Article Language", true, "", "en_US", "fr", "de", "es", "it", "ja", "pt_BR", "nl_NL")),
		createOnly(&field{Name: "ArticleVersionNumber", Label: "Article Version Number", Type: tInt, Precision: 9, Createable: true, Nillable: true}),
		createOnly(&field{Name: "IsSharedByEmail", Label: "Is Shared By Email", Type: tInt, Precision: 9, Createable: true, Nillable: true}),
	}}
	objs := []*sobject{account, contact, caseObj, email, task, comment, kav, caseArticle}
	for _, o := range objs {
		o.Createable, o.Updateable, o.Deletable = true, o.Name != "CaseArticle", true
		o.Fields = append(o.Fields, auditFields()...)
	}
	for _, o := range contentObjects() {
		o.Createable, o.Updateable, o.Deletable = o.Name != "ContentDocument", o.Name != "ContentDocumentLink", true
		o.Fields = append(o.Fields, auditFields()...)
		objs = append(objs, o)
	}
	return objs
}

// buildSchema assembles the standard objects, then adds the project's custom
// fields parsed from the DX source (and any extra fields a test org needs).
func buildSchema(custom []sfdx.Field) (*schema, error) {
	s := &schema{objects: map[string]*sobject{}, byPrefix: map[string]*sobject{}}
	for _, o := range standardObjects() {
		s.objects[strings.ToLower(o.Name)] = o
		s.byPrefix[o.KeyPrefix] = o
		s.names = append(s.names, o.Name)
	}
	for _, cf := range custom {
		o := s.object(cf.Object)
		if o == nil {
			return nil, fmt.Errorf("sfsim: custom field %s.%s: unknown object", cf.Object, cf.FullName)
		}
		f, err := fieldFromMetadata(cf)
		if err != nil {
			return nil, err
		}
		if o.field(f.Name) != nil {
			return nil, fmt.Errorf("sfsim: custom field %s.%s defined twice", cf.Object, cf.FullName)
		}
		o.Fields = append(o.Fields, f)
	}
	for _, o := range s.objects {
		o.index()
	}
	sort.Strings(s.names)
	return s, nil
}

// fieldFromMetadata maps a Metadata API field definition onto what describe
// reports for it.
func fieldFromMetadata(cf sfdx.Field) (*field, error) {
	f := &field{Name: cf.FullName, Label: cf.Label, Createable: true, Updateable: true, Nillable: !cf.Required,
		ExternalID: cf.ExternalID, Unique: cf.Unique, IDLookup: cf.ExternalID, Custom: true, Length: cf.Length}
	switch cf.Type {
	case "Text":
		f.Type = tString
	case "TextArea", "LongTextArea", "Html":
		f.Type = tTextarea
		if cf.Type == "TextArea" {
			f.Length = 255
		}
	case "Email":
		f.Type, f.Length = tEmail, 80
	case "Phone":
		f.Type, f.Length = tPhone, 40
	case "Url":
		f.Type, f.Length = tURL, 255
	case "Number":
		f.Type, f.Precision, f.Scale = tDouble, cf.Precision, cf.Scale
	case "Currency":
		f.Type, f.Precision, f.Scale = tCurrency, cf.Precision, cf.Scale
	case "Percent":
		f.Type, f.Precision, f.Scale = tPercent, cf.Precision, cf.Scale
	case "Checkbox":
		f.Type, f.Nillable, f.Defaulted = tBoolean, false, true
	case "Date":
		f.Type = tDate
	case "DateTime":
		f.Type = tDatetime
	case "Picklist":
		f.Type, f.Length, f.Picklist, f.Restricted = tPicklist, 255, cf.Picklist, cf.Restricted
	default:
		return nil, fmt.Errorf("sfsim: custom field %s.%s: type %s not emulated", cf.Object, cf.FullName, cf.Type)
	}
	return f, nil
}
