package cases

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkProcessNewEmail measures one new email end to end through the
// emulator over loopback HTTP (composite + ledger + audit).
func BenchmarkProcessNewEmail(b *testing.B) {
	e := newEnv(b)
	s := e.stage(Config{})
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		mid := fmt.Sprintf("bench%d@customer.example", i)
		if _, err := s.Process(ctx, e.msg(mid), newEmail(fmt.Sprintf("b%d@customer.example", i), mid, "Bench")); err != nil {
			b.Fatal(err)
		}
	}
}
