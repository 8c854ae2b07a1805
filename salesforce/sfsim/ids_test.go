package sfsim

import "testing"

func TestIDSuffix(t *testing.T) {
	// Documented 15/18 pairs from Salesforce examples.
	tests := []struct{ in, want string }{
		{"001D000000IqhSL", "001D000000IqhSLIAZ"},
		{"500R0000004dBJ8", "500R0000004dBJ8IAM"},
		{"00190000001pPvH", "00190000001pPvHAAU"},
	}
	for _, tt := range tests {
		got, ok := normalizeID(tt.in)
		if !ok || got != tt.want {
			t.Errorf("normalizeID(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
		if got, ok := normalizeID(tt.want); !ok || got != tt.want {
			t.Errorf("normalizeID(%q) = %q, %v", tt.want, got, ok)
		}
	}
	for _, bad := range []string{"", "001", "001D000000IqhSLXXX", "001D000000Iqh-L"} {
		if _, ok := normalizeID(bad); ok {
			t.Errorf("normalizeID(%q) accepted", bad)
		}
	}
	seen := map[string]bool{}
	for i := int64(0); i < 1000; i++ {
		id := makeID("500", i*977)
		if len(id) != 18 || id[:3] != "500" || seen[id] {
			t.Fatalf("makeID: %q", id)
		}
		if n, ok := normalizeID(id[:15]); !ok || n != id {
			t.Fatalf("makeID %q does not round-trip", id)
		}
		seen[id] = true
	}
}
