package pipeline_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// fuzzTargets are the parsers of untrusted input the issue names: MIME
// parsing, address and subject normalisation, SOQL literal escaping, PII
// redaction and the LLM output decoder.
var fuzzTargets = []struct{ pkg, name string }{
	{"./ingest", "FuzzParse"},
	{"./dedupe", "FuzzNormalizeAddress"},
	{"./dedupe", "FuzzNormalizeSubject"},
	{"./salesforce", "FuzzQuoteSOQL"},
	{"./classify", "FuzzRedact"},
	{"./classify", "FuzzParseAnswer"},
}

// TestReliabilityFuzz (issue 9, soak only): runs each fuzz target for a
// fixed time (TRIAGE_FUZZTIME, default 30s) with `go test -fuzz`.
func TestReliabilityFuzz(t *testing.T) {
	if !soak() {
		t.Skip("soak only: go test -tags soak -run TestReliabilityFuzz ./pipeline")
	}
	fuzztime := "30s"
	if v := os.Getenv("TRIAGE_FUZZTIME"); v != "" {
		fuzztime = v
	}
	for _, ft := range fuzzTargets {
		t.Run(ft.name, func(t *testing.T) {
			start := time.Now()
			cmd := exec.Command("go", "test", "-run=^$", "-fuzz=^"+ft.name+"$", "-fuzztime="+fuzztime, ft.pkg)
			cmd.Dir = ".." // the module root
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", ft.pkg, ft.name, err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			last := ""
			for _, l := range lines {
				if strings.HasPrefix(l, "fuzz: elapsed") {
					last = l
				}
			}
			t.Logf("%s %s: %s (%s)", ft.pkg, ft.name, last, time.Since(start).Round(time.Second))
		})
	}
}
