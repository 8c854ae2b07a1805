package dedupe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openStore(t testing.TB, path string, now func() time.Time) *store.Store {
	t.Helper()
	if path == "" {
		path = t.TempDir() + "/triage.db"
	}
	st, err := store.Open(context.Background(), store.Config{Path: path}, store.WithNow(now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// recorder records parsed messages as ingest would, with fresh UIDs.
type recorder struct {
	st  *store.Store
	uid uint32
}

func (r *recorder) record(t testing.TB, p *ingest.Parsed, folder string) store.Message {
	t.Helper()
	r.uid++
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	raw := append([]byte(fmt.Sprintf("X-Folder: %s\r\nX-UID: %d\r\n", folder, r.uid)), b...)
	sum := sha256.Sum256(raw)
	res, err := r.st.RecordMessage(context.Background(), store.NewMessage{
		Mailbox: "support", Folder: folder, UIDValidity: 1, UID: r.uid, Raw: raw, SHA256: hex.EncodeToString(sum[:]),
		Size: int64(len(raw)), MessageID: p.MessageID, Subject: p.Subject, From: p.From.Addr, SentAt: p.Date, Parsed: b,
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.st.Message(context.Background(), res.ID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fakeSF is an in-memory org answering the SOQL shapes dedupe sends; it
// checks every literal is properly quoted (an unquoted value fails the parse).
type fakeSF struct {
	mu       sync.Mutex
	objects  map[string][]map[string]any
	creates  int
	updates  []string
	queries  []string
	dupRules bool // Contact creates with an existing Email fail DUPLICATES_DETECTED
	seq      int
}

func newFakeSF() *fakeSF { return &fakeSF{objects: map[string][]map[string]any{}} }

func (f *fakeSF) add(obj string, rec map[string]any) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addLocked(obj, rec)
}

func (f *fakeSF) addLocked(obj string, rec map[string]any) string {
	f.seq++
	prefix := map[string]string{"Contact": "003", "Account": "001", "Case": "500", "EmailMessage": "02s"}[obj]
	id := fmt.Sprintf("%s%015d", prefix, f.seq)
	if rec["Id"] == nil {
		rec["Id"] = id
	}
	if rec["SystemModstamp"] == nil {
		rec["SystemModstamp"] = "2026-03-01T00:00:00.000+0000"
	}
	f.objects[obj] = append(f.objects[obj], rec)
	return rec["Id"].(string)
}

var (
	soqlRE = regexp.MustCompile(`^SELECT (.+?) FROM (\w+)(?: WHERE (.+?))?(?: ORDER BY \w+(?: DESC)?)?(?: LIMIT (\d+))?$`)
	condRE = regexp.MustCompile(`^(\w+) (IN|=|!=|>=) (\(.*\)|'(?:[^'\\]|\\.)*'|\S+)$`)
	litRE  = regexp.MustCompile(`'((?:[^'\\]|\\.)*)'`)
)

func unquoteLit(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
				continue
			case 't':
				b.WriteByte('\t')
				continue
			case 'r':
				b.WriteByte('\r')
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (f *fakeSF) Query(ctx context.Context, soql string, dst any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, soql)
	m := soqlRE.FindStringSubmatch(soql)
	if m == nil {
		return fmt.Errorf("fake: cannot parse %q", soql)
	}
	var out []map[string]any
	for _, rec := range f.objects[m[2]] {
		if rec["_hidden"] == true {
			continue // only duplicate rules see it (fuzzy matching)
		}
		ok, err := matchWhere(rec, m[3])
		if err != nil {
			return fmt.Errorf("fake: %v in %q", err, soql)
		}
		if ok {
			out = append(out, rec)
		}
	}
	b, _ := json.Marshal(out)
	return json.Unmarshal(b, dst)
}

// matchWhere evaluates "c OR c ..." or "c AND c ..." (dedupe never mixes them).
func matchWhere(rec map[string]any, where string) (bool, error) {
	if where == "" {
		return true, nil
	}
	and := strings.Contains(where, " AND ")
	sep := " OR "
	if and {
		sep = " AND "
	}
	for _, c := range strings.Split(where, sep) {
		cm := condRE.FindStringSubmatch(c)
		if cm == nil {
			return false, fmt.Errorf("bad condition %q", c)
		}
		ok := evalCond(rec, cm[1], cm[2], cm[3])
		if and && !ok {
			return false, nil
		}
		if !and && ok {
			return true, nil
		}
	}
	return and, nil
}

func evalCond(rec map[string]any, field, op, val string) bool {
	got := fmt.Sprint(rec[field])
	if rec[field] == nil {
		got = ""
	}
	switch op {
	case "IN":
		for _, l := range litRE.FindAllStringSubmatch(val, -1) {
			if strings.EqualFold(got, unquoteLit(l[1])) {
				return true
			}
		}
		return false
	case ">=":
		return got >= strings.TrimSuffix(val, "Z")
	}
	var want string
	switch {
	case strings.HasPrefix(val, "'"):
		want = unquoteLit(val[1 : len(val)-1])
	case val == "null":
		want = ""
	default:
		want = val
	}
	eq := strings.EqualFold(got, want)
	if op == "!=" {
		return !eq
	}
	return eq
}

func (f *fakeSF) Create(ctx context.Context, sobject string, fields any, opts ...salesforce.CallOption) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := map[string]any{}
	b, _ := json.Marshal(fields)
	_ = json.Unmarshal(b, &rec)
	if sobject == "Contact" && f.dupRules {
		for _, c := range f.objects["Contact"] {
			if strings.EqualFold(fmt.Sprint(c["Email"]), fmt.Sprint(rec["Email"])) {
				return "", duplicatesDetected(c["Id"].(string))
			}
		}
	}
	f.creates++
	return f.addLocked(sobject, rec), nil
}

func duplicatesDetected(id string) error {
	body := fmt.Sprintf(`[{"message":"Use one of these records?","errorCode":"DUPLICATES_DETECTED","fields":[],
	"duplicateResult":{"allowSave":false,"duplicateRule":"Standard_Contact_Duplicate_Rule","duplicateRuleEntityType":"Contact",
	"errorMessage":"Use one of these records?","matchResults":[{"entityType":"Contact","errors":[],"matchEngine":"FuzzyMatchEngine",
	"matchRecords":[{"additionalInformation":[],"fieldDiffs":[],"matchConfidence":100.0,"record":{"attributes":{"type":"Contact"},"Id":%q}}],
	"rule":"Standard_Contact_Match_Rule_v1_1","size":1,"success":true}]}}]`, id)
	var items []salesforce.ErrorItem
	if err := json.Unmarshal([]byte(body), &items); err != nil {
		panic(err)
	}
	return &salesforce.APIError{StatusCode: http.StatusBadRequest, Errors: items, Method: "POST", Path: "/sobjects/Contact"}
}

func (f *fakeSF) Update(ctx context.Context, sobject, id string, fields any, opts ...salesforce.CallOption) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := json.Marshal(fields)
	f.updates = append(f.updates, sobject+"/"+id+" "+string(b))
	upd := map[string]any{}
	_ = json.Unmarshal(b, &upd)
	for _, r := range f.objects[sobject] {
		if r["Id"] == id {
			for k, v := range upd {
				r[k] = v
			}
			return nil
		}
	}
	return fmt.Errorf("fake: %s %s not found", sobject, id)
}

func (f *fakeSF) createCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates
}
