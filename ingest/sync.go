package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"golang.org/x/oauth2"
	"golang.org/x/sync/semaphore"

	"github.com/triage-dev/triage/store"
)

// Recorder is what the syncer needs from the store (*store.Store implements it).
type Recorder interface {
	RecordMessage(ctx context.Context, m store.NewMessage) (store.RecordResult, error)
	MailboxState(ctx context.Context, mailbox, folder string) (store.MailboxState, error)
	ResetMailbox(ctx context.Context, mailbox, folder string, uidvalidity uint32) error
	Unacked(ctx context.Context, mailbox, folder string, uidvalidity uint32, limit int) ([]store.Location, error)
	MarkAcked(ctx context.Context, mailbox, folder string, uidvalidity uint32, uids []uint32) error
}

// Reasons recorded on messages ingest could not take in normally.
const (
	ReasonTooLarge   = "too_large"
	ReasonParseError = "parse_error"
)

// TriagedFlag is the keyword set on acknowledged messages with after: flag.
const TriagedFlag imap.Flag = "$Triaged"

// Backoff bounds for reconnecting.
const (
	minBackoff = time.Second
	maxBackoff = 2 * time.Minute
)

// Dialer opens the TCP connection to the server (TLS is layered on top).
type Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// SyncOption configures a Syncer.
type SyncOption func(*Syncer)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) SyncOption { return func(s *Syncer) { s.log = l } }

// WithNow injects the clock.
func WithNow(now func() time.Time) SyncOption { return func(s *Syncer) { s.now = now } }

// WithNotify is called after new messages are committed, so the pipeline wakes.
func WithNotify(f func()) SyncOption { return func(s *Syncer) { s.notify = f } }

// WithTokenSource replaces the token source built from the oauth2 config.
func WithTokenSource(ts oauth2.TokenSource) SyncOption { return func(s *Syncer) { s.tokens = ts } }

// WithDialer replaces the TCP dialer.
func WithDialer(d Dialer) SyncOption { return func(s *Syncer) { s.dial = d } }

// WithTLSConfig sets the TLS configuration (e.g. extra root CAs); ServerName
// defaults to the configured host.
func WithTLSConfig(c *tls.Config) SyncOption { return func(s *Syncer) { s.tlsConfig = c } }

// Syncer pulls one mailbox's folders into the store. Each folder has its own
// connection. SyncOnce and Run must not be called concurrently.
type Syncer struct {
	cfg       MailboxConfig
	rec       Recorder
	log       *slog.Logger
	now       func() time.Time
	notify    func()
	tokens    oauth2.TokenSource
	dial      Dialer
	tlsConfig *tls.Config
	afterKind string
	afterDest string

	mu    sync.Mutex
	conns map[string]*folderConn
}

// NewSyncer returns a syncer for one mailbox; cfg gets its defaults applied.
// Validate cfg first: NewSyncer does not.
func NewSyncer(cfg MailboxConfig, rec Recorder, opts ...SyncOption) *Syncer {
	cfg.SetDefaults()
	s := &Syncer{
		cfg:   cfg,
		rec:   rec,
		log:   slog.New(slog.DiscardHandler),
		now:   time.Now,
		conns: map[string]*folderConn{},
	}
	for _, o := range opts {
		o(s)
	}
	if s.dial == nil {
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		s.dial = d.DialContext
	}
	if s.tokens == nil && cfg.OAuth2 != nil {
		oc := &oauth2.Config{
			ClientID:     cfg.OAuth2.ClientID,
			ClientSecret: cfg.OAuth2.ClientSecret,
			Endpoint:     oauth2.Endpoint{TokenURL: cfg.OAuth2.TokenURL},
			Scopes:       cfg.OAuth2.Scopes,
		}
		// ReuseTokenSource (inside TokenSource) caches the access token until it expires.
		s.tokens = oc.TokenSource(context.Background(), &oauth2.Token{RefreshToken: cfg.OAuth2.RefreshToken})
	}
	s.afterKind, s.afterDest = cfg.afterAction()
	s.log = s.log.With("mailbox", cfg.Name)
	return s
}

// folderConn is one folder's connection.
type folderConn struct {
	c    *imapclient.Client
	wake chan struct{} // EXISTS seen: new mail may be waiting
}

// ConnError is a failure of the IMAP connection or of a command on it: the
// syncer reconnects and retries.
type ConnError struct {
	Op  string
	Err error
}

func (e *ConnError) Error() string   { return "imap " + e.Op + ": " + e.Err.Error() }
func (e *ConnError) Unwrap() error   { return e.Err }
func (e *ConnError) Temporary() bool { return true }

// SyncOnce fetches every new message of every folder and records it. It
// returns the number of messages recorded; folders that fail do not stop the
// others, their errors are joined.
func (s *Syncer) SyncOnce(ctx context.Context) (int, error) {
	total := 0
	var errs []error
	for _, folder := range s.cfg.Folders {
		n, err := s.syncFolder(ctx, folder)
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %w", s.cfg.Name, folder, err))
		}
	}
	return total, errors.Join(errs...)
}

// Close logs out of every folder's connection.
func (s *Syncer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for f, fc := range s.conns {
		_ = fc.c.Logout().Wait()
		_ = fc.c.Close()
		delete(s.conns, f)
	}
	return nil
}

func (s *Syncer) dropConn(folder string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fc := s.conns[folder]; fc != nil {
		_ = fc.c.Close()
		delete(s.conns, folder)
	}
}

// conn returns the folder's connection, dialling and authenticating when needed.
func (s *Syncer) conn(ctx context.Context, folder string) (*folderConn, error) {
	s.mu.Lock()
	fc := s.conns[folder]
	s.mu.Unlock()
	if fc != nil {
		select {
		case <-fc.c.Closed():
			s.dropConn(folder)
		default:
			return fc, nil
		}
	}
	fc = &folderConn{wake: make(chan struct{}, 1)}
	c, err := s.connect(ctx, fc)
	if err != nil {
		return nil, err
	}
	fc.c = c
	s.mu.Lock()
	s.conns[folder] = fc
	s.mu.Unlock()
	return fc, nil
}

func (s *Syncer) connect(ctx context.Context, fc *folderConn) (*imapclient.Client, error) {
	host, _, err := net.SplitHostPort(s.cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", s.cfg.Address, err)
	}
	if s.cfg.TLS == TLSNone && !s.cfg.Insecure && !isLoopback(host) {
		return nil, fmt.Errorf("refusing a plain-text connection to %s (tls: none needs insecure: true)", host)
	}
	raw, err := s.dial(ctx, "tcp", s.cfg.Address)
	if err != nil {
		return nil, &ConnError{Op: "dial", Err: err}
	}
	tc := &tls.Config{}
	if s.tlsConfig != nil {
		tc = s.tlsConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	opts := &imapclient.Options{
		TLSConfig: tc,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case fc.wake <- struct{}{}:
					default:
					}
				}
			},
		},
		WordDecoder: wordDecoder,
	}
	var c *imapclient.Client
	switch s.cfg.TLS {
	case TLSImplicit:
		tconn := tls.Client(raw, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, &ConnError{Op: "tls handshake", Err: err}
		}
		c = imapclient.New(tconn, opts)
	case TLSStartTLS:
		c, err = imapclient.NewStartTLS(raw, opts)
		if err != nil {
			raw.Close()
			return nil, &ConnError{Op: "starttls", Err: err}
		}
	default:
		c = imapclient.New(raw, opts)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, &ConnError{Op: "greeting", Err: err}
	}
	if err := s.authenticate(ctx, c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// authenticate logs in with XOAUTH2 when oauth2 is configured, else with
// SASL PLAIN when offered, else LOGIN. Errors never include the secret.
func (s *Syncer) authenticate(ctx context.Context, c *imapclient.Client) error {
	if s.tokens != nil {
		tok, err := s.tokens.Token()
		if err != nil {
			return &ConnError{Op: "oauth2 token", Err: err}
		}
		if err := c.Authenticate(&xoauth2Client{user: s.cfg.Username, token: tok.AccessToken}); err != nil {
			return &ConnError{Op: "authenticate XOAUTH2 as " + s.cfg.Username, Err: err}
		}
		return nil
	}
	if c.Caps().Has(imap.AuthCap(sasl.Plain)) {
		if err := c.Authenticate(sasl.NewPlainClient("", s.cfg.Username, s.cfg.Password)); err != nil {
			return &ConnError{Op: "authenticate PLAIN as " + s.cfg.Username, Err: err}
		}
		return nil
	}
	if err := c.Login(s.cfg.Username, s.cfg.Password).Wait(); err != nil {
		return &ConnError{Op: "login as " + s.cfg.Username, Err: err}
	}
	return nil
}

// xoauth2Client is the SASL XOAUTH2 client of Gmail and Microsoft 365
// (go-sasl has none): one initial response, and an empty reply to the JSON
// error challenge the server sends before failing.
type xoauth2Client struct {
	user, token string
	failed      bool
}

func (x *xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

func (x *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	if x.failed {
		return nil, errors.New("xoauth2: unexpected challenge")
	}
	x.failed = true
	return []byte{}, nil
}

// syncFolder brings one folder up to date. It drops the connection on any
// error so the next call reconnects.
func (s *Syncer) syncFolder(ctx context.Context, folder string) (n int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	fc, err := s.conn(ctx, folder)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			s.dropConn(folder)
		}
	}()
	// Commands block without a context: closing the connection unblocks them.
	stop := context.AfterFunc(ctx, func() { fc.c.Close() })
	defer stop()
	n, err = s.syncSelected(ctx, fc, folder)
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return n, err
}

type uidSize struct {
	uid  uint32
	size int64
}

func (s *Syncer) syncSelected(ctx context.Context, fc *folderConn, folder string) (int, error) {
	log := s.log.With("folder", folder)
	sel, err := fc.c.Select(folder, nil).Wait()
	if err != nil {
		return 0, &ConnError{Op: "select " + folder, Err: err}
	}
	st, err := s.rec.MailboxState(ctx, s.cfg.Name, folder)
	if err != nil {
		return 0, err
	}
	if st.UIDValidity != sel.UIDValidity {
		// A folder never synced has no state yet; its first recorded message creates it.
		if st.UIDValidity != 0 {
			log.Warn("UIDVALIDITY changed: resyncing folder", "old", st.UIDValidity, "new", sel.UIDValidity)
			if err := s.rec.ResetMailbox(ctx, s.cfg.Name, folder, sel.UIDValidity); err != nil {
				return 0, err
			}
		}
		st = store.MailboxState{UIDValidity: sel.UIDValidity}
	}
	// Repair acks a crash left undone before fetching more.
	if err := s.ackPending(ctx, fc, folder, st.UIDValidity); err != nil {
		return 0, err
	}
	if sel.NumMessages == 0 || (sel.UIDNext != 0 && uint32(sel.UIDNext) <= st.LastUID+1) {
		return 0, nil
	}
	// Sizes first: oversized messages are fetched as headers only.
	list, err := fc.c.Fetch(imap.UIDSet{imap.UIDRange{Start: imap.UID(st.LastUID + 1), Stop: 0}},
		&imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return 0, &ConnError{Op: "fetch sizes", Err: err}
	}
	var todo []uidSize
	for _, m := range list {
		// "n:*" also returns the highest message when it is below n.
		if uint32(m.UID) > st.LastUID {
			todo = append(todo, uidSize{uint32(m.UID), m.RFC822Size})
		}
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].uid < todo[j].uid })
	start := s.now()
	// One parse-and-commit pipeline serves every batch: the next batch's
	// FETCH goes out while the last one's messages are still parsed and
	// committed, instead of the connection idling while they drain.
	pipe := s.startPipe(ctx, folder, st.UIDValidity, log)
	mark := &uidMark{mark: st.LastUID}
	var readErr error
	for len(todo) > 0 && readErr == nil {
		batch := todo[:min(len(todo), s.cfg.BatchSize)]
		todo = todo[len(batch):]
		if readErr = s.fetchBatch(fc, batch, pipe, mark, log); readErr == nil {
			// Acks what is committed so far; the rest goes with the next batch.
			readErr = s.ackPending(ctx, fc, folder, st.UIDValidity)
		}
	}
	total, err := pipe.finish()
	if err == nil {
		err = readErr
	}
	if err == nil {
		err = s.ackPending(ctx, fc, folder, st.UIDValidity)
	}
	if err != nil {
		return total, err
	}
	if total > 0 {
		log.Info("fetched", "messages", total, "took", s.now().Sub(start).Round(time.Millisecond))
	}
	return total, nil
}

// BatchRecorder is optionally implemented by a Recorder that can commit
// several messages in one transaction, each exactly as RecordMessage would.
// The syncer uses it when present: one commit per group instead of one per
// message.
type BatchRecorder interface {
	RecordMessages(ctx context.Context, ms []store.NewMessage) ([]store.RecordResult, error)
}

// Pipeline bounds: bytes of message bodies in flight between the network
// reader, the parsers and the committer, and messages per commit when the
// recorder batches. A message weighs its size but at most maxWeight, just
// over half the budget: a message bigger than that (up to max_message_size)
// no longer takes the whole budget and stalls the reader and the other
// parsers while it is hashed and decoded on one core, and two of them are
// never in flight together. So bodies in flight stay under
// inflightBytes-maxWeight (small messages) + max_message_size (one big one),
// about 8 MB + 35 MB by default.
const (
	inflightBytes = 16 << 20
	maxWeight     = inflightBytes/2 + 1
	maxGroup      = 64
	hugeMessage   = 8 << 20
)

// uidMark follows, across the FETCH batches of one sync, the highest UID up
// to which every requested message has been read: how far the folder's
// last_uid may advance once the messages read so far are committed. Servers
// answer a UID FETCH in UID order in practice, and then the mark is each
// message's own UID; but IMAP does not promise that order, and committing
// UID 10 with last_uid = 10 before UID 5 was read would lose UID 5 to a crash.
type uidMark struct {
	want []uint32 // the current batch's UIDs, ascending
	seen map[uint32]bool
	next int    // want[:next] are all read
	mark uint32 // the last of want[:next], or where the batch started
}

// start begins a batch of UIDs (ascending).
func (u *uidMark) start(want []uint32) {
	u.want, u.next = want, 0
	u.seen = make(map[uint32]bool, len(want))
}

// read notes that uid was read and returns the mark.
func (u *uidMark) read(uid uint32) uint32 {
	u.seen[uid] = true
	for u.next < len(u.want) && u.seen[u.want[u.next]] {
		u.mark = u.want[u.next]
		u.next++
	}
	return u.mark
}

// done notes that the batch's FETCH completed: a UID it did not return was
// expunged meanwhile, so nothing below the batch's last UID is missing.
func (u *uidMark) done() {
	if len(u.want) > 0 {
		u.mark = max(u.mark, u.want[len(u.want)-1])
	}
	u.next = len(u.want)
}

// job is one message moving through the pipeline.
type job struct {
	uid        uint32
	mark       uint32 // the folder's last_uid once this job is committed
	raw        []byte
	size       int64
	headerOnly bool
	weight     int64
	msg        store.NewMessage
	parsed     chan struct{} // closed when msg is built
}

// pipe is the parse-and-commit half of a folder sync: parsers build rows
// on every CPU and one committer records them strictly in the order they
// were read, so last_uid never passes a message that is not committed. At
// most two commit groups of messages wait for the committer: the budget
// bounds their bodies, this their parsed forms.
type pipe struct {
	ctx       context.Context // cancelled when the committer fails: stops the reader
	cancel    context.CancelFunc
	budget    *semaphore.Weighted
	work      chan *job
	ordered   chan *job
	parsers   sync.WaitGroup
	committed chan struct{}
	recorded  int
	commitErr error
}

func (s *Syncer) startPipe(ctx context.Context, folder string, uidValidity uint32, log *slog.Logger) *pipe {
	p := &pipe{budget: semaphore.NewWeighted(inflightBytes), work: make(chan *job),
		ordered: make(chan *job, 2*maxGroup), committed: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(ctx)
	for range max(1, runtime.GOMAXPROCS(0)) {
		p.parsers.Go(func() {
			for j := range p.work {
				j.msg = s.buildMessage(folder, uidValidity, j.uid, j.raw, j.size, j.headerOnly)
				close(j.parsed)
			}
		})
	}
	go func() {
		defer close(p.committed)
		p.recorded, p.commitErr = s.commitInOrder(p.ctx, p.ordered, p.budget, log)
		if p.commitErr != nil {
			p.cancel()
		}
	}()
	return p
}

// enqueue hands a job to the parsers and the committer; its weight was acquired.
func (p *pipe) enqueue(j *job) {
	j.parsed = make(chan struct{})
	p.ordered <- j
	p.work <- j
}

// finish waits until everything enqueued is committed (or the committer
// failed) and reports how many messages were recorded.
func (p *pipe) finish() (int, error) {
	close(p.work)
	close(p.ordered)
	p.parsers.Wait()
	<-p.committed
	p.cancel()
	return p.recorded, p.commitErr
}

// fetchBatch reads a batch off the connection into the pipe. Oversized
// messages are fetched as headers first (small) and slotted in by UID.
func (s *Syncer) fetchBatch(fc *folderConn, batch []uidSize, p *pipe, mark *uidMark, log *slog.Logger) error {
	var small, large imap.UIDSet
	sizes := make(map[uint32]int64, len(batch))
	want := make([]uint32, len(batch))
	for i, m := range batch {
		want[i] = m.uid
		sizes[m.uid] = m.size
		if m.size > s.cfg.MaxMessageSize {
			large.AddNum(imap.UID(m.uid))
		} else {
			small.AddNum(imap.UID(m.uid))
		}
	}
	var headers []*job
	if len(large) > 0 {
		msgs, err := fc.c.Fetch(large, &imap.FetchOptions{UID: true,
			BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true}}}).Collect()
		if err != nil {
			return &ConnError{Op: "fetch headers", Err: err}
		}
		for _, m := range msgs {
			var raw []byte
			for _, b := range m.BodySection {
				raw = b.Bytes
			}
			headers = append(headers, &job{uid: uint32(m.UID), raw: raw, size: sizes[uint32(m.UID)], headerOnly: true})
		}
		sort.Slice(headers, func(i, j int) bool { return headers[i].uid < headers[j].uid })
	}
	mark.start(want)
	flushHeaders := func(limit uint32) error {
		for len(headers) > 0 && headers[0].uid < limit {
			if err := p.budget.Acquire(p.ctx, 0); err != nil {
				return err
			}
			headers[0].mark = mark.read(headers[0].uid)
			p.enqueue(headers[0])
			headers = headers[1:]
		}
		return nil
	}
	if len(small) > 0 {
		cmd := fc.c.Fetch(small, &imap.FetchOptions{UID: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
		var lastUID uint32
		for {
			msg := cmd.Next()
			if msg == nil {
				break
			}
			j, err := s.readMessage(p.ctx, msg, p.budget)
			if err != nil {
				if p.ctx.Err() != nil {
					return p.ctx.Err()
				}
				return &ConnError{Op: "fetch body", Err: err}
			}
			if j == nil {
				continue // an unsolicited FETCH (flags) or a vanished message
			}
			if j.uid < lastUID {
				log.Warn("server returned UIDs out of order: last_uid waits for the lower ones", "uid", j.uid, "after", lastUID)
			}
			lastUID = j.uid
			if err := flushHeaders(j.uid); err != nil {
				p.budget.Release(j.weight)
				return err
			}
			if !j.headerOnly {
				j.size = int64(len(j.raw))
			} else {
				j.size = max(sizes[j.uid], j.size)
			}
			j.mark = mark.read(j.uid)
			p.enqueue(j)
		}
		if err := cmd.Close(); err != nil {
			return &ConnError{Op: "fetch body", Err: err}
		}
	}
	if err := flushHeaders(^uint32(0)); err != nil {
		return err
	}
	mark.done()
	return nil
}

// commitInOrder records jobs in the order they were read, each once parsed,
// grouping those already parsed into one transaction when the recorder
// batches, and tells the stages (notify) once a group brought new messages.
// After an error it only drains, releasing memory.
func (s *Syncer) commitInOrder(ctx context.Context, ordered <-chan *job, budget *semaphore.Weighted, log *slog.Logger) (recorded int, err error) {
	batcher, _ := s.rec.(BatchRecorder)
	group := make([]*job, 0, maxGroup)
	flush := func() {
		newOnes := 0
		defer func() {
			if newOnes > 0 && s.notify != nil {
				s.notify()
			}
			huge := false
			for _, j := range group {
				budget.Release(j.weight)
				huge = huge || len(j.raw) >= hugeMessage
				// Both references to the body go, and the slots of group
				// too: a body still reachable at the collection below would
				// set the next heap goal at twice its size.
				j.raw, j.msg.Raw = nil, nil
			}
			clear(group)
			group = group[:0]
			if huge {
				// A rare tens-of-MB message: give its memory back to the OS now
				// rather than keep the process at its peak.
				debug.FreeOSMemory()
			}
		}()
		if err != nil || len(group) == 0 {
			return
		}
		if batcher != nil && len(group) > 1 {
			ms := make([]store.NewMessage, len(group))
			for i, j := range group {
				ms[i] = j.msg
				ms[i].Watermark, ms[i].WatermarkSet = j.mark, true
			}
			res, rerr := batcher.RecordMessages(ctx, ms)
			if rerr != nil {
				err = rerr
				return
			}
			for _, r := range res {
				recorded++
				if r.New {
					newOnes++
				}
			}
			return
		}
		for _, j := range group {
			j.msg.Watermark, j.msg.WatermarkSet = j.mark, true
			res, rerr := s.rec.RecordMessage(ctx, j.msg)
			if rerr != nil {
				err = rerr
				return
			}
			recorded++
			if res.New {
				newOnes++
			}
			log.Debug("recorded", "uid", j.uid, "message_id", res.ID, "state", j.msg.State, "new", res.New)
		}
	}
	for j := range ordered {
		<-j.parsed
		group = append(group, j)
		// Take whatever else is already parsed, up to a group.
	more:
		for batcher != nil && len(group) < maxGroup {
			select {
			case next, ok := <-ordered:
				if !ok {
					break more
				}
				<-next.parsed
				group = append(group, next)
			default:
				break more
			}
		}
		flush()
	}
	return recorded, err
}

// readMessage reads one FETCH response: its UID and the message literal, read
// once into an exactly sized buffer after reserving its weight (its size, at
// most maxWeight) from budget. A message that grew past the size cap since
// its size was fetched keeps only its header. It returns nil for a response
// without a body.
func (s *Syncer) readMessage(ctx context.Context, msg *imapclient.FetchMessageData, budget *semaphore.Weighted) (*job, error) {
	j := &job{}
	for {
		item := msg.Next()
		if item == nil {
			if j.uid == 0 || j.raw == nil {
				budget.Release(j.weight)
				return nil, nil
			}
			return j, nil
		}
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			j.uid = uint32(it.UID)
		case imapclient.FetchItemDataBodySection:
			if it.Literal == nil || j.raw != nil {
				continue
			}
			size := it.Literal.Size()
			j.weight = min(size, maxWeight)
			if size > s.cfg.MaxMessageSize {
				j.weight = min(int64(maxHeaderBytes), maxWeight)
			}
			if err := budget.Acquire(ctx, j.weight); err != nil {
				j.weight = 0
				return nil, err
			}
			var err error
			if size > s.cfg.MaxMessageSize {
				j.raw, err = readHeaderOnly(it.Literal)
				j.headerOnly, j.size = true, size
			} else {
				if size >= hugeMessage {
					// Collect the garbage of earlier messages and give its
					// pages back to the OS first, so that neither they nor the
					// heap headroom add up with this buffer and SQLite's
					// copies of it to the peak of resident memory.
					debug.FreeOSMemory()
				}
				j.raw = make([]byte, size)
				_, err = io.ReadFull(it.Literal, j.raw)
			}
			if err != nil {
				budget.Release(j.weight)
				return nil, err
			}
		}
	}
}

// readHeaderOnly keeps the header of an oversized literal and discards the rest.
func readHeaderOnly(r io.Reader) ([]byte, error) {
	buf := make([]byte, 0, 64<<10)
	chunk := make([]byte, 32<<10)
	for len(buf) < maxHeaderBytes {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if i := indexHeaderEnd(buf); i >= 0 {
			buf = buf[:i]
			break
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
	_, err := io.Copy(io.Discard, r)
	return buf, err
}

func indexHeaderEnd(b []byte) int {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		return i + 2
	}
	return -1
}

// buildMessage parses raw and builds the row to record: received, skipped
// (too_large, header only) or dead (parse_error).
func (s *Syncer) buildMessage(folder string, uidValidity, uid uint32, raw []byte, size int64, headerOnly bool) store.NewMessage {
	sum := sha256.Sum256(raw)
	hexsum := hex.EncodeToString(sum[:])
	if !headerOnly {
		size = int64(len(raw)) // what was read, even if the server's RFC822.SIZE disagreed
	}
	m := store.NewMessage{
		Mailbox:     s.cfg.Name,
		Folder:      folder,
		UIDValidity: uidValidity,
		UID:         uid,
		Raw:         raw,
		SHA256:      hexsum,
		Size:        size,
		HeaderOnly:  headerOnly,
		State:       store.StateReceived,
	}
	p, err := Parse(raw, hexsum)
	if err != nil {
		m.MessageID = synthesizeMessageID(hexsum)
		m.State = store.StateDead
		m.Reason = ReasonParseError
		m.LastError = err.Error()
		if headerOnly {
			// Too large is the decision; an unreadable (or cut) header is a detail.
			m.State, m.Reason = store.StateSkipped, ReasonTooLarge
		}
		s.log.Warn("message does not parse", "folder", folder, "uid", uid, "err", err)
		return m
	}
	if headerOnly {
		p.Warnings = append(p.Warnings, fmt.Sprintf("message is %d bytes, above max_message_size %d: only the header was kept", size, s.cfg.MaxMessageSize))
		m.State = store.StateSkipped
		m.Reason = ReasonTooLarge
	}
	m.MessageID = p.MessageID
	m.Subject = p.Subject
	m.From = p.From.Addr
	m.SentAt = p.Date
	if m.Parsed, err = marshalParsed(p); err != nil {
		// Cannot happen for Parsed's field types; keep the message anyway.
		m.State, m.Reason, m.LastError = store.StateDead, ReasonParseError, err.Error()
	}
	return m
}

// marshalParsed encodes p as JSON without escaping <, > and & (json.Marshal
// turns each into six bytes, which bloats every stored HTML body).
func marshalParsed(p *Parsed) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// ackPending acknowledges on the server every committed, not yet acked
// message of the folder (flag or move), then marks it acked in the store.
func (s *Syncer) ackPending(ctx context.Context, fc *folderConn, folder string, uidValidity uint32) error {
	if s.afterKind == "none" {
		return nil
	}
	for {
		locs, err := s.rec.Unacked(ctx, s.cfg.Name, folder, uidValidity, 1000)
		if err != nil || len(locs) == 0 {
			return err
		}
		var set imap.UIDSet
		uids := make([]uint32, 0, len(locs))
		for _, l := range locs {
			set.AddNum(imap.UID(l.UID))
			uids = append(uids, l.UID)
		}
		switch s.afterKind {
		case "flag":
			err = fc.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{TriagedFlag}}, nil).Close()
			if err != nil {
				return &ConnError{Op: "store " + string(TriagedFlag), Err: err}
			}
		case "move":
			if err := s.move(fc, set); err != nil {
				return err
			}
		}
		if err := s.rec.MarkAcked(ctx, s.cfg.Name, folder, uidValidity, uids); err != nil {
			return err
		}
		s.log.Debug("acknowledged", "folder", folder, "after", s.cfg.After, "count", len(uids))
		if len(locs) < 1000 {
			return nil
		}
	}
}

// move uses MOVE when offered. Without it, it runs COPY, and only once the
// copy succeeded STORE \Deleted and (UID) EXPUNGE: imapclient's own fallback
// pipelines all three, so a failed COPY would still expunge the originals.
// A missing destination folder is created.
func (s *Syncer) move(fc *folderConn, set imap.UIDSet) error {
	hasMove := fc.c.Caps().Has(imap.CapMove)
	transfer := func() error {
		if hasMove {
			_, err := fc.c.Move(set, s.afterDest).Wait()
			return err
		}
		_, err := fc.c.Copy(set, s.afterDest).Wait()
		return err
	}
	err := transfer()
	var ie *imap.Error
	if errors.As(err, &ie) && (ie.Code == imap.ResponseCodeTryCreate || ie.Code == imap.ResponseCodeNonExistent) {
		if cerr := fc.c.Create(s.afterDest, nil).Wait(); cerr != nil {
			return &ConnError{Op: "create " + s.afterDest, Err: cerr}
		}
		err = transfer()
	}
	if err != nil {
		return &ConnError{Op: "move to " + s.afterDest, Err: err}
	}
	if hasMove {
		return nil
	}
	if err := fc.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return &ConnError{Op: "store \\Deleted", Err: err}
	}
	var expunge *imapclient.ExpungeCommand
	if fc.c.Caps().Has(imap.CapUIDPlus) {
		expunge = fc.c.UIDExpunge(set)
	} else {
		// Plain EXPUNGE also removes other \Deleted messages; without UIDPLUS there is no narrower way.
		expunge = fc.c.Expunge()
	}
	if err := expunge.Close(); err != nil {
		return &ConnError{Op: "expunge", Err: err}
	}
	return nil
}

// Run syncs every folder until ctx is cancelled: one goroutine and connection
// per folder, IDLE when offered (re-issued every idle_refresh), else polling
// every poll_interval, reconnecting with jittered exponential backoff.
func (s *Syncer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, folder := range s.cfg.Folders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.runFolder(ctx, folder)
		}()
	}
	wg.Wait()
	_ = s.Close()
	return ctx.Err()
}

func (s *Syncer) runFolder(ctx context.Context, folder string) {
	log := s.log.With("folder", folder)
	failures := 0
	for ctx.Err() == nil {
		_, err := s.syncFolder(ctx, folder)
		if err == nil {
			failures = 0
			err = s.wait(ctx, folder)
		}
		if err == nil || ctx.Err() != nil {
			continue
		}
		s.dropConn(folder)
		failures++
		d := backoff(failures)
		log.Warn("sync failed: reconnecting", "err", err, "attempt", failures, "retry_in", d.Round(time.Millisecond))
		sleep(ctx, d)
	}
}

// wait blocks until new mail may be waiting: an EXISTS during IDLE, the IDLE
// refresh, or the poll interval.
func (s *Syncer) wait(ctx context.Context, folder string) error {
	s.mu.Lock()
	fc := s.conns[folder]
	s.mu.Unlock()
	if fc == nil {
		return nil
	}
	if !fc.c.Caps().Has(imap.CapIdle) {
		sleep(ctx, s.cfg.PollInterval)
		return nil
	}
	// Forget EXISTS seen during the sync, then NOOP: it makes the server flush
	// updates it held back (mail that arrived during the sync, after SELECT),
	// which some servers would not send when IDLE starts.
	select {
	case <-fc.wake:
	default:
	}
	if err := fc.c.Noop().Wait(); err != nil {
		return &ConnError{Op: "noop", Err: err}
	}
	idle, err := fc.c.Idle()
	if err != nil {
		return &ConnError{Op: "idle", Err: err}
	}
	timer := time.NewTimer(s.cfg.IdleRefresh)
	defer timer.Stop()
	select {
	case <-fc.wake:
	case <-timer.C:
	case <-ctx.Done():
	case <-fc.c.Closed():
	}
	if err := idle.Close(); err != nil {
		return &ConnError{Op: "idle done", Err: err}
	}
	if err := idle.Wait(); err != nil {
		return &ConnError{Op: "idle", Err: err}
	}
	return nil
}

// backoff is 1s, 2s, 4s … capped at 2 minutes, with ±25 % jitter so many
// mailboxes do not reconnect in lockstep.
func backoff(failures int) time.Duration {
	d := minBackoff << min(failures-1, 10)
	if d > maxBackoff {
		d = maxBackoff
	}
	jitter := 0.75 + rand.Float64()/2
	return time.Duration(float64(d) * jitter)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
