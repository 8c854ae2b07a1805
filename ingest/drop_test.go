package ingest

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"

	"github.com/triage-dev/triage/ingest/imaptest"
)

// cuttingProxy forwards TCP to target and cuts each connection after the
// server has sent a random number of bytes (nine connections in ten), in the
// middle of whatever it was sending (usually a message literal).
type cuttingProxy struct {
	target string
	rng    *rand.Rand
	mu     sync.Mutex
	cuts   int
	conns  int
}

func (p *cuttingProxy) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	server, err := (&net.Dialer{}).DialContext(ctx, network, p.target)
	if err != nil {
		return nil, err
	}
	client, inner := net.Pipe()
	p.mu.Lock()
	budget := int64(2<<10 + p.rng.IntN(100<<10))
	p.conns++
	if p.conns%10 == 0 {
		budget = 1 << 40 // now and then a connection survives, as in life
	}
	p.mu.Unlock()
	go func() {
		_, _ = io.Copy(server, inner)
		server.Close()
	}()
	go func() {
		n, _ := io.Copy(inner, io.LimitReader(server, budget))
		if n == budget {
			p.mu.Lock()
			p.cuts++
			p.mu.Unlock()
		}
		inner.Close()
		server.Close()
	}()
	return client, nil
}

// TestDroppedConnectionLosesNothing: connections cut mid-fetch, again and
// again; repeated syncs still record every message exactly once, byte for byte.
func TestDroppedConnectionLosesNothing(t *testing.T) {
	for _, sv := range servers {
		t.Run(sv.name, func(t *testing.T) {
			srv := sv.start(t)
			msgs := imaptest.Corpus(60, 21)
			srv.AppendMany(t, "INBOX", msgs)
			st := openStore(t, t.TempDir())
			proxy := &cuttingProxy{target: srv.Addr, rng: rand.New(rand.NewPCG(1, 2))}
			cfg := mailboxConfig(srv)
			cfg.After = "flag"
			s := NewSyncer(cfg, st, WithDialer(proxy.dial))
			defer s.Close()
			var failures int
			for i := 0; ; i++ {
				if i > 500 {
					t.Fatalf("no complete sync after %d attempts", i)
				}
				_, err := s.SyncOnce(context.Background())
				if err == nil {
					break
				}
				failures++
			}
			if failures == 0 || proxy.cuts == 0 {
				t.Fatalf("the proxy never cut a connection (failures %d, cuts %d)", failures, proxy.cuts)
			}
			got := rows(t, st)
			if len(got) != len(msgs) {
				t.Fatalf("%d messages recorded, want %d", len(got), len(msgs))
			}
			for i, r := range got {
				if r.UID != uint32(i+1) || r.SHA256 != hexsum(msgs[i]) {
					t.Errorf("row %d: uid %d sha %s, want uid %d sha %s", i, r.UID, r.SHA256, i+1, hexsum(msgs[i]))
				}
			}
			if n := count(t, st, `SELECT count(*) FROM message_locations`); n != len(msgs) {
				t.Errorf("%d locations, want %d", n, len(msgs))
			}
			if n := count(t, st, `SELECT count(*) FROM message_locations WHERE acked=0`); n != 0 {
				t.Errorf("%d not acked", n)
			}
			t.Logf("%d failed syncs, %d cuts", failures, proxy.cuts)
		})
	}
}
