package demo

import (
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"
)

// orgFile is the demo org the emails talk to; sfsim embeds it as its "demo"
// seed. The test reads it from the tree so the mail and the org cannot drift.
const orgFile = "../../salesforce/sfsim/seed/demo/org.json"

type orgRecord map[string]any

func (r orgRecord) s(k string) string { v, _ := r[k].(string); return v }

// idSuffix is Salesforce's documented 15→18 character case-safe suffix.
func idSuffix(id15 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	var b []byte
	for chunk := 0; chunk < 3; chunk++ {
		mask := 0
		for i := 0; i < 5; i++ {
			if c := id15[chunk*5+i]; c >= 'A' && c <= 'Z' {
				mask |= 1 << i
			}
		}
		b = append(b, alphabet[mask])
	}
	return string(b)
}

func TestIDSuffix(t *testing.T) {
	// The example pair from Salesforce's documentation.
	if got := idSuffix("001A0000006Vm9r"); got != "IAC" {
		t.Fatalf("idSuffix = %q, want IAC", got)
	}
}

func TestOrgAgreesWithMail(t *testing.T) {
	raw, err := os.ReadFile(orgFile)
	if err != nil {
		t.Fatal(err)
	}
	var org map[string][]orgRecord
	if err := json.Unmarshal(raw, &org); err != nil {
		t.Fatal(err)
	}
	prefixes := map[string]string{"Account": "001", "Contact": "003", "Case": "500", "EmailMessage": "02s"}
	byID := map[string]orgRecord{}
	for obj, recs := range org {
		p, ok := prefixes[obj]
		if !ok {
			t.Errorf("unexpected object %s in org.json", obj)
			continue
		}
		for _, r := range recs {
			id := r.s("Id")
			if len(id) != 18 || id[:3] != p {
				t.Errorf("%s Id %q: want 18 characters with prefix %s", obj, id, p)
			} else if want := idSuffix(id[:15]); id[15:] != want {
				t.Errorf("%s Id %q: case-safe suffix must be %s", obj, id, want)
			}
			if byID[id] != nil {
				t.Errorf("duplicate Id %s", id)
			}
			byID[id] = r
		}
	}
	ref := func(r orgRecord, field, prefix string) orgRecord {
		t.Helper()
		id := r.s(field)
		target := byID[id]
		if target == nil || !strings.HasPrefix(id, prefix) {
			t.Errorf("%s %s: %s %q does not reference a seeded record", r.s("Id"), r.s("Subject")+r.s("LastName"), field, id)
		}
		return target
	}
	contacts := map[string]orgRecord{} // lower-case email → contact
	domains := map[string]orgRecord{}  // website host → account
	for _, a := range org["Account"] {
		if w := a.s("Website"); w != "" {
			u, err := url.Parse(w)
			if err != nil {
				t.Fatalf("account %s website %q: %v", a.s("Name"), w, err)
			}
			domains[strings.TrimPrefix(u.Hostname(), "www.")] = a
		}
	}
	for _, c := range org["Contact"] {
		ref(c, "AccountId", "001")
		e := strings.ToLower(c.s("Email"))
		if contacts[e] != nil {
			t.Errorf("two contacts with email %s", e)
		}
		contacts[e] = c
	}
	for _, c := range org["Case"] {
		contact := ref(c, "ContactId", "003")
		ref(c, "AccountId", "001")
		if contact != nil && contact.s("AccountId") != c.s("AccountId") {
			t.Errorf("case %s: AccountId differs from its contact's", c.s("Id"))
		}
		if c.s("Origin") != "Email" {
			t.Errorf("case %s: Origin %q, want Email", c.s("Id"), c.s("Origin"))
		}
	}
	messageIDs := map[string]orgRecord{}
	for _, m := range org["EmailMessage"] {
		ref(m, "ParentId", "500")
		messageIDs[m.s("MessageIdentifier")] = m
	}

	mails, err := Mail()
	if err != nil {
		t.Fatal(err)
	}
	exps, err := Expected()
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range exps {
		from := strings.ToLower(e.From)
		_, skip := e.Skip()
		switch {
		case skip:
			// Noise senders; only the in-thread ones need be known.
		case e.HasTag("unknown_contact"):
			if contacts[from] != nil {
				t.Errorf("%s: tagged unknown_contact but %s is a contact", e.File, from)
			}
		case e.HasTag("new_address"):
			if contacts[from] != nil {
				t.Errorf("%s: tagged new_address but %s is already a contact", e.File, from)
			}
			_, domain, _ := strings.Cut(from, "@")
			acct := domains[domain]
			if acct == nil {
				t.Fatalf("%s: no account with website domain %s", e.File, domain)
			}
			var same int
			for _, c := range org["Contact"] {
				if c.s("AccountId") == acct.s("Id") && c.s("FirstName")+" "+c.s("LastName") == "Marcus Reed" {
					same++
				}
			}
			if same != 1 {
				t.Errorf("%s: want exactly one Marcus Reed on %s, found %d", e.File, acct.s("Name"), same)
			}
		default:
			if contacts[from] == nil {
				t.Errorf("%s: sender %s is not a contact in org.json (tag it unknown_contact if that is the point)", e.File, from)
			}
		}
		if e.Related != "" {
			c := byID[e.Related]
			if c == nil || !strings.HasPrefix(e.Related, "500") {
				t.Errorf("%s: related_case %s is not a seeded case", e.File, e.Related)
				continue
			}
			if e.HasTag("reply_to_closed_case") && c.s("Status") != "Closed" {
				t.Errorf("%s: replies to a closed case but %s is %s", e.File, e.Related, c.s("Status"))
			}
			// A reply to a seeded case must thread to it through an
			// EmailMessage the org knows.
			if e.Expect == ExpectReply || e.HasTag("reply_to_old_closed_case") || e.HasTag("about_existing_case") {
				p, err := parse(mails[i].Raw)
				if err != nil {
					t.Fatalf("%s: %v", e.File, err)
				}
				irt, _ := p.headers.MsgIDList("In-Reply-To")
				if len(irt) != 1 || messageIDs["<"+irt[0]+">"] == nil || messageIDs["<"+irt[0]+">"].s("ParentId") != e.Related {
					t.Errorf("%s: In-Reply-To %v is not an EmailMessage of case %s", e.File, irt, e.Related)
				}
			}
		}
	}
}
