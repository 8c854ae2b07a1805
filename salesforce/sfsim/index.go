package sfsim

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// idxKey names an index: one field of one object.
type idxKey struct{ obj, field string }

// fieldIndex maps a field's folded value to the IDs of the live records
// holding it. Indexes are built on first use (external-ID and unique-field
// lookups, the Contact duplicate rule) and kept current by setLive, the one
// way live records change. Without them every upsert and create scanned
// (and the duplicate rule sorted) every record of the object: the emulator,
// not the app, set the pace of `triage bench` at 10,000 emails.
type fieldIndex map[string]map[string]struct{}

// setLive stores r as the live record id of obj (nil removes it), keeping
// the indexes of obj current.
func (d *orgData) setLive(obj, id string, r record) {
	old := d.Records[obj][id]
	for k, ix := range d.idx {
		if k.obj != obj {
			continue
		}
		if old != nil {
			ix.remove(old[k.field], id)
		}
		if r != nil {
			ix.add(r[k.field], id)
		}
	}
	setOrDelete(d.Records, obj, id, r)
}

// index returns the index of obj.field, building it the first time.
func (d *orgData) index(obj, field string) fieldIndex {
	k := idxKey{obj, field}
	if ix, ok := d.idx[k]; ok {
		return ix
	}
	if d.idx == nil {
		d.idx = map[idxKey]fieldIndex{}
	}
	ix := fieldIndex{}
	for id, r := range d.Records[obj] {
		ix.add(r[field], id)
	}
	d.idx[k] = ix
	return ix
}

// candidates returns the IDs that may hold value (as text or as a number),
// sorted; callers still compare the values themselves.
func (ix fieldIndex) candidates(value string) []string {
	var ids []string
	for _, key := range []string{foldKey(value), numKey + value} {
		for id := range ix[key] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func (ix fieldIndex) add(v any, id string) {
	key, ok := valueKey(v)
	if !ok {
		return
	}
	if ix[key] == nil {
		ix[key] = map[string]struct{}{}
	}
	ix[key][id] = struct{}{}
}

func (ix fieldIndex) remove(v any, id string) {
	key, ok := valueKey(v)
	if !ok {
		return
	}
	delete(ix[key], id)
	if len(ix[key]) == 0 {
		delete(ix, key)
	}
}

// numKey prefixes the keys of numeric values, which match by their text.
const numKey = "\x00#"

func valueKey(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return foldKey(x), true
	case float64:
		return numKey + strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// foldKey maps s to one representative of its strings.EqualFold class: each
// rune becomes the smallest rune of its case-folding orbit (for ASCII, the
// upper case letter), so two strings are EqualFold exactly when their keys
// are equal.
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(s)
	}
	return strings.Map(func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return m
	}, s)
}
