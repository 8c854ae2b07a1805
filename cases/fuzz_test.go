package cases

import (
	"bytes"
	"testing"
)

func FuzzParseCallout(f *testing.F) {
	f.Add([]byte(`{"Id":"500000000000001AAA","Status":"Closed","IsClosed":true}`))
	f.Add([]byte(`[{"Id":"500000000000001","Status":"New"}]`))
	f.Add([]byte(`{"cases":[{"Id":"500000000000001AAA"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := parseCallout(b)
		if err == nil && len(cs) == 0 {
			t.Fatal("no error and no case")
		}
		for _, c := range cs {
			if !sfID.MatchString(c.CaseID) {
				t.Fatalf("accepted id %q", c.CaseID)
			}
		}
	})
}

func FuzzParseOutbound(f *testing.F) {
	f.Add([]byte(`<Envelope><sObject><Id>500000000000002AAA</Id><Status>Working</Status></sObject></Envelope>`))
	f.Add([]byte(`<a><sObject><Id></Id></sObject></a>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := parseOutbound(b)
		if err == nil && len(cs) == 0 {
			t.Fatal("no error and no case")
		}
		for _, c := range cs {
			if c.CaseID == "" {
				t.Fatal("empty id accepted")
			}
		}
	})
}

func TestProgressPrinter(t *testing.T) {
	var b bytes.Buffer
	p := ProgressPrinter(&b, false)
	for i := 1; i <= 200; i++ {
		p(i, 200)
	}
	if n := bytes.Count(b.Bytes(), []byte("\n")); n != 11 {
		t.Fatalf("%d lines:\n%s", n, b.String())
	}
	b.Reset()
	ProgressPrinter(&b, true)(200, 200)
	if !bytes.Contains(b.Bytes(), []byte("\r[########")) {
		t.Fatalf("%q", b.String())
	}
}
