package dedupe

import (
	"context"
	"fmt"
	"testing"
)

func BenchmarkNormalizeAddress(b *testing.B) {
	opts := defaultAddrOpts()
	for b.Loop() {
		_, _ = NormalizeAddress("=?UTF-8?Q?J=C3=BCrgen?= <Juergen.Mueller+support@B\u00fccher.example>", opts)
	}
}

func BenchmarkNormalizeSubject(b *testing.B) {
	for b.Loop() {
		_ = NormalizeSubject("[EXTERNAL] AW: Re: WG: [acme-users] Re[2]: Login fails again [ref:T-abcdefghijklmnopqrstuvwxyz]")
	}
}

func BenchmarkScreen(b *testing.B) {
	o := screenOpts()
	p := msg("Jane <jane@customer.example>", "Re: Order 42 did not arrive", map[string][]string{"X-Mailer": {"x"}})
	for b.Loop() {
		_ = Screen(p, o)
	}
}

// BenchmarkProcessOffline is the stage's own cost per message (SQLite, no Salesforce).
func BenchmarkProcessOffline(b *testing.B) {
	e := newEnv(b, Config{}, false)
	var i int
	for b.Loop() {
		i++
		p := email(fmt.Sprintf("bench-%d@customer.example", i), fmt.Sprintf("user%d@customer.example", i%50), fmt.Sprintf("Subject %d", i%200), "")
		p.Date = e.clock.Now()
		m := e.rec.record(b, p, "INBOX")
		if _, err := e.stage.Process(context.Background(), m, p); err != nil {
			b.Fatal(err)
		}
	}
}
