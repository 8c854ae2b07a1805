package cases

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/triage-dev/triage/salesforce"
)

// Describer reads sObject metadata; *salesforce.Client has it.
type Describer interface {
	Describe(ctx context.Context, sobject string) (*salesforce.DescribeResult, error)
}

// Field type groups by what the app writes into them.
var (
	textTypes     = []string{"string", "textarea", "picklist", "combobox"}
	longTextTypes = []string{"textarea", "string"}
	numberTypes   = []string{"double", "percent", "currency"}
)

// ValidateFieldMap checks the field map, status values and custom objects
// against the org's describe: every field exists, the app's user may write it
// (create and update), its type can hold what is written, and every value the
// app writes into a picklist (categories, priorities, statuses) is an active
// picklist value. categories are the classifier's Salesforce category values
// (classify.Config.SalesforceValue of each taxonomy entry); they are checked
// when the category field is a picklist. Every problem is listed; messages
// start with the key path inside the `cases` section.
func ValidateFieldMap(ctx context.Context, cfg Config, d Describer, categories ...string) []error {
	cfg.SetDefaults()
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	cs, err := d.Describe(ctx, "Case")
	if err != nil {
		return []error{fmt.Errorf("field_map: describe Case: %w", err)}
	}
	fm := cfg.FieldMap
	checks := []struct {
		intent, field string
		types         []string
	}{
		{"confidence", fm.Confidence, append(slices.Clone(numberTypes), "string")},
		{"category", fm.Category, textTypes},
		{"priority", fm.Priority, textTypes},
		{"ai_priority", fm.AIPriority, textTypes},
		{"sentiment", fm.Sentiment, textTypes},
		{"language", fm.Language, textTypes},
		{"summary", fm.Summary, longTextTypes},
		{"escalation_reason", fm.EscalationReason, textTypes},
		{"explanation", fm.Explanation, longTextTypes},
	}
	used := map[string]string{}
	for _, c := range checks {
		if c.field == "" {
			continue
		}
		key := "field_map." + c.intent
		if prev, dup := used[strings.ToLower(c.field)]; dup {
			add("%s: %s is already mapped by field_map.%s", key, c.field, prev)
		}
		used[strings.ToLower(c.field)] = c.intent
		f, ok := cs.Field(c.field)
		if !ok {
			add("%s: Case has no field %s (deploy salesforce/sfdx or fix the name)", key, c.field)
			continue
		}
		if !f.Createable || !f.Updateable {
			add("%s: Case.%s is not writable by the integration user (createable=%t, updateable=%t); grant edit access in the Triage_Integration permission set", key, f.Name, f.Createable, f.Updateable)
		}
		if !slices.Contains(c.types, f.Type) {
			add("%s: Case.%s has type %s, want one of %s", key, f.Name, f.Type, strings.Join(c.types, ", "))
			continue
		}
		if c.intent == "confidence" && f.Type == "percent" && !*fm.ConfidencePercent {
			add("field_map.confidence_percent: Case.%s is a Percent field; set confidence_percent: true", f.Name)
		}
		if c.intent == "confidence" && f.Type == "double" && *fm.ConfidencePercent {
			add("field_map.confidence_percent: Case.%s is a Number field; set confidence_percent: false (or use a Percent field)", f.Name)
		}
		if f.Type != "picklist" {
			continue
		}
		switch c.intent {
		case "category":
			for _, cat := range categories {
				v := cat
				if m, ok := fm.CategoryValues[cat]; ok {
					v = m
				}
				if !activePicklist(f, v) {
					add("field_map.category_values.%s: %q is not an active value of the Case.%s picklist (have %s)", cat, v, f.Name, picklistList(f))
				}
			}
		case "priority":
			for _, k := range []string{"low", "medium", "high", "urgent"} {
				if v := fm.PriorityValues[k]; !activePicklist(f, v) {
					add("field_map.priority_values.%s: %q is not an active value of the Case.%s picklist (have %s)", k, v, f.Name, picklistList(f))
				}
			}
		}
	}
	if fm.ExternalID != "" {
		f, ok := cs.Field(fm.ExternalID)
		switch {
		case !ok:
			add("field_map.external_id: Case has no field %s (deploy salesforce/sfdx or fix the name)", fm.ExternalID)
		case !f.ExternalID:
			add("field_map.external_id: Case.%s is not an External ID field; upserts by it would fail", f.Name)
		case !f.Createable:
			add("field_map.external_id: Case.%s is not writable by the integration user", f.Name)
		case f.Type != "string":
			add("field_map.external_id: Case.%s has type %s, want string (Text)", f.Name, f.Type)
		case f.Length > 0 && f.Length < 26:
			add("field_map.external_id: Case.%s holds %d characters, thread keys need 26", f.Name, f.Length)
		}
	}
	if st, ok := cs.Field("Status"); ok {
		for _, s := range []struct{ key, v string }{
			{"new", cfg.Status.New}, {"working", cfg.Status.Working}, {"waiting_on_customer", cfg.Status.WaitingOnCustomer},
			{"escalated", cfg.Status.Escalated}, {"closed", cfg.Status.Closed},
		} {
			if s.v == "" || (s.key == "escalated" && !*cfg.Escalation.SetStatus) {
				continue
			}
			if !activePicklist(st, s.v) {
				add("status.%s: %q is not an active value of the Case.Status picklist (have %s)", s.key, s.v, picklistList(st))
			}
		}
		if !st.Updateable {
			add("status: Case.Status is not writable by the integration user")
		}
	}
	if *cfg.Escalation.SetIsEscalated {
		if f, ok := cs.Field("IsEscalated"); !ok || !f.Updateable {
			add("escalation.set_is_escalated: Case.IsEscalated is missing or not writable by the integration user")
		}
	}
	if o, ok := cs.Field("Origin"); ok && o.Type == "picklist" && !activePicklist(o, "Email") {
		add("field_map: the Case.Origin picklist has no active value Email")
	}
	errs = append(errs, validateStandard(ctx, cfg, d, cs)...)
	for i, co := range cfg.CustomObjects {
		p := fmt.Sprintf("custom_objects[%d]", i)
		od, err := d.Describe(ctx, co.Object)
		if err != nil {
			if salesforce.IsNotFound(err) {
				add("%s.object: %s does not exist or is not accessible to the integration user", p, co.Object)
			} else {
				add("%s.object: describe %s: %w", p, co.Object, err)
			}
			continue
		}
		if len(co.ReadFields) > 0 && !od.Queryable {
			add("%s.object: %s is not queryable by the integration user", p, od.Name)
		}
		if co.MatchField != "" {
			if f, ok := od.Field(co.MatchField); !ok {
				add("%s.match_field: %s has no field %s", p, od.Name, co.MatchField)
			} else if f.Type != "reference" && f.Type != "id" {
				add("%s.match_field: %s.%s has type %s, want a lookup (reference) or Id", p, od.Name, f.Name, f.Type)
			}
		}
		for j, name := range co.ReadFields {
			if _, ok := od.Field(name); !ok {
				add("%s.read_fields[%d]: %s has no field %s", p, j, od.Name, name)
			}
		}
		for j, name := range co.WriteFields {
			f, ok := od.Field(name)
			switch {
			case !ok:
				add("%s.write_fields[%d]: %s has no field %s", p, j, od.Name, name)
			case !f.Createable && !f.Updateable:
				add("%s.write_fields[%d]: %s.%s is not writable by the integration user", p, j, od.Name, f.Name)
			}
		}
	}
	return errs
}

func activePicklist(f salesforce.FieldDescribe, v string) bool {
	for _, p := range f.PicklistValues {
		if p.Active && p.Value == v {
			return true
		}
	}
	return false
}

func picklistList(f salesforce.FieldDescribe) string {
	var vs []string
	for _, p := range f.PicklistValues {
		if p.Active {
			vs = append(vs, p.Value)
		}
	}
	if len(vs) == 0 {
		return "none"
	}
	return strings.Join(vs, ", ")
}

// standardWrites are the standard fields the app writes besides the field map.
var standardWrites = []struct {
	object string
	fields []string
}{
	{"Case", []string{"Subject", "Description", "Origin", "SuppliedEmail", "SuppliedName", "Status", "ContactId", "AccountId", "ParentId"}},
	{"EmailMessage", []string{"ParentId", "Incoming", "MessageIdentifier", "ThreadIdentifier", "FromAddress", "FromName", "ToAddress", "CcAddress", "Subject", "TextBody", "HtmlBody", "Headers", "MessageDate", "Status"}},
	{"Task", []string{"Subject", "Description", "Status", "Priority", "WhatId", "WhoId", "ActivityDate"}},
	{"CaseArticle", []string{"CaseId", "KnowledgeArticleId"}},
	{"Contact", []string{"Email", "FirstName", "LastName", "AccountId"}},
}

// validateStandard checks the integration user may create the standard
// records and fields the app writes, and that truncation limits fit the
// org's field lengths.
func validateStandard(ctx context.Context, cfg Config, d Describer, cs *salesforce.DescribeResult) []error {
	var errs []error
	descs := map[string]*salesforce.DescribeResult{"Case": cs}
	for _, sw := range standardWrites {
		od := descs[sw.object]
		if od == nil {
			var err error
			if od, err = d.Describe(ctx, sw.object); err != nil {
				errs = append(errs, fmt.Errorf("objects.%s: describe: %w", sw.object, err))
				continue
			}
			descs[sw.object] = od
		}
		if !od.Createable {
			errs = append(errs, fmt.Errorf("objects.%s: the integration user cannot create %s records", sw.object, sw.object))
		}
		for _, name := range sw.fields {
			f, ok := od.Field(name)
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("objects.%s.%s: no such field (or no read access for the integration user)", sw.object, name))
			case !f.Createable:
				errs = append(errs, fmt.Errorf("objects.%s.%s: not createable by the integration user", sw.object, name))
			}
		}
	}
	limits := []struct {
		key, object, field string
		v                  int
	}{
		{"subject", "Case", "Subject", cfg.Truncate.Subject}, {"description", "Case", "Description", cfg.Truncate.Description},
		{"text_body", "EmailMessage", "TextBody", cfg.Truncate.TextBody}, {"html_body", "EmailMessage", "HtmlBody", cfg.Truncate.HTMLBody},
		{"headers", "EmailMessage", "Headers", cfg.Truncate.Headers}, {"email_subject", "EmailMessage", "Subject", cfg.Truncate.EmailSubj},
		{"address", "EmailMessage", "ToAddress", cfg.Truncate.Address}, {"task_description", "Task", "Description", cfg.Truncate.TaskBody},
		{"summary", "Case", cfg.FieldMap.Summary, cfg.Truncate.Summary}, {"summary", "Case", cfg.FieldMap.Explanation, cfg.Truncate.Summary},
	}
	for _, l := range limits {
		od := descs[l.object]
		if od == nil || l.field == "" {
			continue
		}
		// Fields already reported as unusable (read-only, wrong type) are skipped.
		if f, ok := od.Field(l.field); ok && f.Createable && slices.Contains(longTextTypes, f.Type) && f.Length > 0 && l.v > f.Length {
			errs = append(errs, fmt.Errorf("truncate.%s: %d exceeds %s.%s's length %d in this org", l.key, l.v, l.object, f.Name, f.Length))
		}
	}
	return errs
}
