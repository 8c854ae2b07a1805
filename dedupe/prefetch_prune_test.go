package dedupe

import (
	"testing"
	"time"
)

func TestPruneMapBoundsTheCache(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	fresh := func(at time.Time) bool { return at.After(t0) } // t0 itself is stale
	tests := []struct {
		name     string
		n        int
		at       func(i int) time.Time
		wantLen  int
		wantKept func(i int) bool
	}{
		{"under the bound: only stale entries go", maxPrefetchEntries, func(i int) time.Time {
			if i%2 == 0 {
				return t0
			}
			return t0.Add(time.Duration(i) * time.Millisecond)
		}, maxPrefetchEntries / 2, func(i int) bool { return i%2 == 1 }},
		{"over the bound: the newest three quarters stay", maxPrefetchEntries + 1000, func(i int) time.Time {
			return t0.Add(time.Duration(i+1) * time.Millisecond)
		}, maxPrefetchEntries * 3 / 4, func(i int) bool { return i >= maxPrefetchEntries+1000-maxPrefetchEntries*3/4 }},
		{"all of one instant: still bounded", maxPrefetchEntries + 1000, func(int) time.Time { return t0.Add(time.Second) },
			maxPrefetchEntries, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[int]time.Time{}
			for i := range tt.n {
				m[i] = tt.at(i)
			}
			pruneMap(m, func(v time.Time) time.Time { return v }, fresh)
			if len(m) != tt.wantLen {
				t.Fatalf("%d entries left, want %d", len(m), tt.wantLen)
			}
			if tt.wantKept == nil {
				return
			}
			for i := range tt.n {
				if _, ok := m[i]; ok != tt.wantKept(i) {
					t.Fatalf("entry %d (at %s) kept=%v, want %v", i, tt.at(i).Format(time.StampMilli), ok, !ok)
				}
			}
		})
	}
}
