package ingest

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/triage-dev/triage/ingest/imaptest"
)

// BenchmarkFetchParseDovecot is fetch + parse without the store, on the
// mailbox of BenchmarkIngestDovecot, with the production batch size: the
// nostore phase there runs with the tests' batch size of 7, so it measures
// mostly a round trip and a drained pipeline every 7 messages. Run:
// go test -run '^$' -bench FetchParseDovecot -benchtime 3x ./ingest
// (TRIAGE_BENCH_BATCH overrides the batch size.)
func BenchmarkFetchParseDovecot(b *testing.B) {
	n := 5000
	if v, err := strconv.Atoi(os.Getenv("TRIAGE_BENCH_MESSAGES")); err == nil && v > 0 {
		n = v
	}
	srv := imaptest.StartDovecot(b)
	msgs := imaptest.Corpus(n, 42)
	srv.AppendMany(b, "INBOX", msgs[:n/2])
	srv.Append(b, "INBOX", imaptest.LargeMessage("bench", 25<<20))
	srv.AppendMany(b, "INBOX", msgs[n/2:])
	msgs = nil
	total := n + 1

	var bareTime, fpTime, fpCPU time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if got := bareFetch(b, srv); got != total {
			b.Fatalf("bare fetch got %d messages, want %d", got, total)
		}
		bareTime += time.Since(start)

		cfg := mailboxConfig(srv)
		cfg.BatchSize = DefaultBatchSize
		if v, err := strconv.Atoi(os.Getenv("TRIAGE_BENCH_BATCH")); err == nil && v > 0 {
			cfg.BatchSize = v // how much the per-batch drain costs
		}
		s := NewSyncer(cfg, nullRecorder{})
		stop := startProfile(b, "fetchparse", i)
		start, cpu := time.Now(), cpuTime()
		if got, err := s.SyncOnce(context.Background()); err != nil || got != total {
			b.Fatalf("fetch+parse: %d, %v", got, err)
		}
		fpTime += time.Since(start)
		fpCPU += cpuTime() - cpu
		stop()
		s.Close()
	}
	b.StopTimer()
	bareRate := float64(total*b.N) / bareTime.Seconds()
	fpRate := float64(total*b.N) / fpTime.Seconds()
	b.ReportMetric(bareRate, "bare_msgs/s")
	b.ReportMetric(fpRate, "fetchparse_msgs/s")
	b.ReportMetric(fpRate/bareRate, "fetchparse_ratio")
	b.ReportMetric(float64(fpCPU.Microseconds())/float64(total*b.N), "fetchparse_cpu_us/msg")
}
