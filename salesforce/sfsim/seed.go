package sfsim

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
)

// demoSeed holds the demo org: every seed/demo/*.json file, loaded in name
// order. Each file is {"<SObject>": [{field: value, ...}, ...]} with explicit
// 18-character Ids so records can reference each other across files.
//
//go:embed seed/demo/*.json
var demoSeed embed.FS

// loadSeed loads every *.json file under dir. Seed records bypass field
// access checks (they may set CaseNumber, PublishStatus, CreatedDate...) but
// field names, types, lengths, picklists, ID prefixes and references are
// checked, so a typo in a seed file fails loudly.
func (s *Server) loadSeed(fsys fs.FS, dir string) error {
	files, err := fs.Glob(fsys, dir+"/*.json")
	if err != nil {
		return fmt.Errorf("sfsim: seed: %w", err)
	}
	sort.Strings(files)
	t := &txn{s: s, d: s.data, userID: s.userID, now: s.now(), allowDup: true}
	for _, name := range files {
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("sfsim: seed: %w", err)
		}
		var content map[string][]map[string]any
		if err := decodeJSON(raw, &content); err != nil {
			return fmt.Errorf("sfsim: seed %s: %w", path.Base(name), err)
		}
		objs := make([]string, 0, len(content))
		for o := range content {
			objs = append(objs, o)
		}
		sort.Strings(objs)
		for _, objName := range objs {
			o := s.schema.object(objName)
			if o == nil {
				return fmt.Errorf("sfsim: seed %s: unknown object %s", path.Base(name), objName)
			}
			for i, in := range content[objName] {
				if err := t.seedRecord(o, in); err != nil {
					return fmt.Errorf("sfsim: seed %s: %s[%d]: %w", path.Base(name), o.Name, i, err)
				}
			}
		}
	}
	// References are checked once every file is in.
	for _, objName := range s.schema.names {
		o := s.schema.object(objName)
		for _, r := range t.sortedRecords(o.Name) {
			for _, f := range o.Fields {
				if f.Type != tReference || r[f.Name] == nil || f.Name == "CreatedById" || f.Name == "LastModifiedById" {
					continue
				}
				if err := t.checkReference(f, r.str(f.Name)); err != nil {
					return fmt.Errorf("sfsim: seed: %s %s: %s: %s", o.Name, r.str("Id"), f.Name, err.Message)
				}
			}
		}
	}
	return nil
}

func (t *txn) seedRecord(o *sobject, in map[string]any) error {
	rawID, _ := in["Id"].(string)
	id, ok := normalizeID(rawID)
	if !ok || id[:3] != o.KeyPrefix {
		return fmt.Errorf("Id %q is not an ID of %s (prefix %s)", rawID, o.Name, o.KeyPrefix)
	}
	if t.d.Records[o.Name][id] != nil {
		return fmt.Errorf("duplicate Id %s", id)
	}
	r := record{}
	for _, f := range o.Fields {
		r[f.Name] = nil
		if f.Type == tBoolean {
			r[f.Name] = false
		}
		if f.Default != "" {
			r[f.Name] = f.Default
		}
	}
	for k, v := range in {
		f := o.field(k)
		if f == nil {
			return fmt.Errorf("unknown field %s", k)
		}
		if f.Name == "Id" {
			continue
		}
		cv, err := coerce(f, v)
		if err != nil {
			return fmt.Errorf("%s", err.Message)
		}
		r[f.Name] = cv
	}
	if errs := t.checkRequired(o, r, nil); errs != nil {
		return fmt.Errorf("%s", errs[0].Message)
	}
	r["Id"] = id
	stamp := formatDatetime(t.now)
	for _, k := range []string{"CreatedDate", "LastModifiedDate", "SystemModstamp"} {
		if r[k] == nil {
			r[k] = stamp
		}
	}
	for _, k := range []string{"CreatedById", "LastModifiedById"} {
		if r[k] == nil {
			r[k] = t.userID
		}
	}
	if o.field("OwnerId") != nil && r["OwnerId"] == nil {
		r["OwnerId"] = t.userID
	}
	switch o.Name {
	case "Case":
		if r["CaseNumber"] == nil {
			t.deriveOnCreate(o, r)
		} else if n, err := strconv.ParseInt(r.str("CaseNumber"), 10, 64); err == nil && n > t.d.Seq["CaseNumber"] {
			t.d.Seq["CaseNumber"] = n
		}
		closed := r.str("Status") == "Closed"
		r["IsClosed"] = closed
		if closed && r["ClosedDate"] == nil {
			r["ClosedDate"] = r["LastModifiedDate"]
		}
		if !closed {
			r["ClosedDate"] = nil
		}
	case "Knowledge__kav":
		if n, err := strconv.ParseInt(r.str("ArticleNumber"), 10, 64); err == nil && n > t.d.Seq["ArticleNumber"] {
			t.d.Seq["ArticleNumber"] = n
		}
		latest, has := in["IsLatestVersion"]
		t.deriveOnCreate(o, r)
		if has {
			r["IsLatestVersion"] = latest == true
		}
		if r.str("PublishStatus") == "Online" && r["LastPublishedDate"] == nil {
			r["LastPublishedDate"] = r["CreatedDate"]
		}
	case "CaseArticle":
		t.deriveOnCreate(o, r)
	default:
		t.derive(o, r, nil)
	}
	if o.Name == "Contact" {
		t.derive(o, r, nil)
	}
	t.d.setLive(o.Name, id, r)
	return nil
}

// normalizeNumbers turns json.Number values read from a data file into the
// float64 the store uses.
func normalizeNumbers(r record) {
	for k, v := range r {
		if n, ok := v.(json.Number); ok {
			f, _ := n.Float64()
			r[k] = f
		}
	}
}

// Save writes the org to Options.DataFile atomically (temp file + rename).
func (s *Server) Save() error {
	if s.opts.DataFile == "" {
		return nil
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.orgMu.Lock()
	data, err := json.MarshalIndent(s.data, "", " ")
	s.orgMu.Unlock()
	if err != nil {
		return fmt.Errorf("sfsim: save: %w", err)
	}
	dir := filepath.Dir(s.opts.DataFile)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(s.opts.DataFile)+".*")
	if err != nil {
		return fmt.Errorf("sfsim: save: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("sfsim: save: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sfsim: save: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sfsim: save: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.opts.DataFile); err != nil {
		return fmt.Errorf("sfsim: save: %w", err)
	}
	return nil
}
