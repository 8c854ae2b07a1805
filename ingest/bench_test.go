package ingest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/triage-dev/triage/ingest/imaptest"
	"github.com/triage-dev/triage/store"
)

// BenchmarkIngestDovecot loads 5,000 generated support emails plus one with
// a 25 MB attachment into Dovecot, then compares a bare `UID FETCH 1:*
// BODY.PEEK[]` by a minimal client with triage's ingest (fetch, parse,
// commit to SQLite) of the same mailbox, and samples peak memory during
// ingest. Run: go test -run '^$' -bench IngestDovecot -benchtime 1x ./ingest
func BenchmarkIngestDovecot(b *testing.B) {
	n := 5000
	if v, err := strconv.Atoi(os.Getenv("TRIAGE_BENCH_MESSAGES")); err == nil && v > 0 {
		n = v // smaller runs for profiling
	}
	srv := imaptest.StartDovecot(b)
	msgs := imaptest.Corpus(n, 42)
	var bytesTotal int
	for _, m := range msgs {
		bytesTotal += len(m)
	}
	big := imaptest.LargeMessage("bench", 25<<20)
	bytesTotal += len(big)
	srv.AppendMany(b, "INBOX", msgs[:n/2])
	srv.Append(b, "INBOX", big)
	srv.AppendMany(b, "INBOX", msgs[n/2:])
	msgs, big = nil, nil
	total := n + 1
	b.Logf("mailbox: %d messages, %.1f MB", total, float64(bytesTotal)/(1<<20))

	var bareTime, ingestTime, noStoreTime time.Duration
	var bareCPU, ingestCPU, noStoreCPU time.Duration
	var peakHeap, peakRSS uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start, cpu := time.Now(), cpuTime()
		if got := bareFetch(b, srv); got != total {
			b.Fatalf("bare fetch got %d messages, want %d", got, total)
		}
		bareTime += time.Since(start)
		bareCPU += cpuTime() - cpu

		// Fetch and parse only: what ingest costs without the store.
		// Both phases at the production batch size (the tests' tiny one
		// would drain the pipeline every few messages); TRIAGE_BENCH_BATCH
		// overrides it.
		ns := NewSyncer(benchConfig(srv), nullRecorder{})
		stopProfile := startProfile(b, "nostore", i)
		start, cpu = time.Now(), cpuTime()
		if got, err := ns.SyncOnce(context.Background()); err != nil || got != total {
			b.Fatalf("ingest without store: %d, %v", got, err)
		}
		noStoreTime += time.Since(start)
		noStoreCPU += cpuTime() - cpu
		stopProfile()
		ns.Close()

		st := openStore(b, b.TempDir())
		s := NewSyncer(benchConfig(srv), st)
		runtime.GC()
		debug.FreeOSMemory()
		resetPeakRSS()
		baseRSS := readPeakRSS()
		stopSampling := sampleHeap()
		stopProfile = startProfile(b, "", i)
		start, cpu = time.Now(), cpuTime()
		got, err := s.SyncOnce(context.Background())
		ingestTime += time.Since(start)
		ingestCPU += cpuTime() - cpu
		stopProfile()
		peakHeap = max(peakHeap, stopSampling())
		peakRSS = max(peakRSS, readPeakRSS())
		b.Logf("RSS at start of ingest %.1f MB, peak during ingest %.1f MB", float64(baseRSS)/(1<<20), float64(peakRSS)/(1<<20))
		s.Close()
		if err != nil || got != total {
			b.Fatalf("ingest: %d messages, %v", got, err)
		}
		st.Close()
	}
	b.StopTimer()
	bareRate := float64(total*b.N) / bareTime.Seconds()
	ingestRate := float64(total*b.N) / ingestTime.Seconds()
	b.ReportMetric(bareRate, "bare_msgs/s")
	b.ReportMetric(ingestRate, "ingest_msgs/s")
	b.ReportMetric(ingestRate/bareRate, "ratio")
	b.ReportMetric(float64(total*b.N)/noStoreTime.Seconds(), "nostore_msgs/s")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak_heap_MB")
	// CPU time of this process per message (user+system, all threads): what
	// the client side costs, independent of how loaded the machine is.
	perMsg := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(total*b.N) }
	b.ReportMetric(perMsg(bareCPU), "bare_cpu_us/msg")
	b.ReportMetric(perMsg(noStoreCPU), "nostore_cpu_us/msg")
	b.ReportMetric(perMsg(ingestCPU), "ingest_cpu_us/msg")
	// The best ratio this machine allows: ingest spreading its CPU time
	// perfectly over every CPU while the server needs none. Below 0.7 the
	// target is out of reach whatever the scheduling.
	b.ReportMetric(bareTime.Seconds()*float64(runtime.NumCPU())/ingestCPU.Seconds(), "ratio_cpu_bound")
	if peakRSS > 0 {
		b.ReportMetric(float64(peakRSS)/(1<<20), "peak_rss_MB")
	}
}

// benchConfig is the mailbox config both measured phases use.
func benchConfig(srv *imaptest.Server) MailboxConfig {
	cfg := mailboxConfig(srv)
	cfg.BatchSize = DefaultBatchSize
	if v, err := strconv.Atoi(os.Getenv("TRIAGE_BENCH_BATCH")); err == nil && v > 0 {
		cfg.BatchSize = v
	}
	return cfg
}

// cpuTime is the user+system CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startProfile writes a CPU profile of one phase alone to the file named by
// TRIAGE_BENCH_CPUPROFILE (ingest; the phase without the store gets suffix
// .nostore; the iteration number is appended after the first), so the bare
// fetch and the load do not blur it.
func startProfile(tb testing.TB, phase string, i int) func() {
	name := os.Getenv("TRIAGE_BENCH_CPUPROFILE")
	if name == "" {
		return func() {}
	}
	if phase != "" {
		name += "." + phase
	}
	if i > 0 {
		name += "." + strconv.Itoa(i)
	}
	f, err := os.Create(name)
	if err != nil {
		tb.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		tb.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// nullRecorder records nothing: it isolates fetch+parse from SQLite.
type nullRecorder struct{}

func (nullRecorder) RecordMessage(context.Context, store.NewMessage) (store.RecordResult, error) {
	return store.RecordResult{New: true}, nil
}
func (nullRecorder) MailboxState(context.Context, string, string) (store.MailboxState, error) {
	return store.MailboxState{}, nil
}
func (nullRecorder) ResetMailbox(context.Context, string, string, uint32) error { return nil }
func (nullRecorder) Unacked(context.Context, string, string, uint32, int) ([]store.Location, error) {
	return nil, nil
}
func (nullRecorder) MarkAcked(context.Context, string, string, uint32, []uint32) error { return nil }

// bareFetch is the baseline: one UID FETCH 1:* BODY.PEEK[], literals read
// and thrown away, nothing else.
func bareFetch(tb testing.TB, srv *imaptest.Server) int {
	c, err := imapclient.DialInsecure(srv.Addr, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(srv.Username, srv.Password).Wait(); err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		tb.Fatal(err)
	}
	cmd := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	got := 0
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			if body, ok := item.(imapclient.FetchItemDataBodySection); ok && body.Literal != nil {
				if _, err := io.Copy(io.Discard, body.Literal); err != nil {
					tb.Fatal(err)
				}
				got++
			}
		}
	}
	if err := cmd.Close(); err != nil {
		tb.Fatal(err)
	}
	return got
}

// sampleHeap records the peak of the Go heap in use every few milliseconds
// until the returned function is called, which returns the peak.
func sampleHeap() func() uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	trace := os.Getenv("TRIAGE_BENCH_TRACE") != ""
	t0 := time.Now()
	var peakRSS uint64
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			if trace {
				if r := currentRSS(); r > peakRSS {
					peakRSS = r
					fmt.Fprintf(os.Stderr, "trace %s rss %.1f heapinuse %.1f heapsys-released %.1f numgc %d\n", time.Since(t0).Round(time.Millisecond), float64(r)/(1<<20), float64(ms.HeapInuse)/(1<<20), float64(ms.HeapSys-ms.HeapReleased)/(1<<20), ms.NumGC)
				}
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		wg.Wait()
		return peak.Load()
	}
}

// resetPeakRSS resets the kernel's high-water mark of resident memory (Linux),
// so readPeakRSS covers only what follows; SQLite's memory (outside the Go
// heap) is included there.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func currentRSS() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func readPeakRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkIdleLatency measures the time from APPEND to the message being
// committed while Run idles.
func BenchmarkIdleLatency(b *testing.B) {
	for _, sv := range servers {
		b.Run(sv.name, func(b *testing.B) {
			srv := sv.start(b)
			st := openStore(b, b.TempDir())
			woke := make(chan struct{}, 1)
			s := NewSyncer(mailboxConfig(srv), st, WithNotify(func() { woke <- struct{}{} }))
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			defer func() { cancel(); <-done }()
			msgs := imaptest.Corpus(b.N+1, 50)
			srv.Append(b, "INBOX", msgs[0])
			<-woke
			var total time.Duration
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				time.Sleep(20 * time.Millisecond) // back in IDLE
				srv.Append(b, "INBOX", msgs[i])
				start := time.Now() // the mail is in the mailbox now
				select {
				case <-woke:
				case <-time.After(10 * time.Second):
					b.Fatal("message not recorded within 10s")
				}
				total += time.Since(start)
			}
			b.StopTimer()
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/delivery")
		})
	}
}
