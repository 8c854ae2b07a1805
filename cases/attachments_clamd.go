package cases

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// scanError: clamd could not be asked (down, timeout). The upload waits for it.
type scanError struct{ error }

func (e scanError) Unwrap() error           { return e.error }
func (scanError) Temporary() bool           { return true }
func (scanError) RetryAfter() time.Duration { return 30 * time.Second }
func (e scanError) Error() string           { return "cases: malware scan: " + e.error.Error() }

// clamdScan streams r to clamd with the INSTREAM command and returns the
// signature name when the daemon found one ("" when the file is clean).
func clamdScan(ctx context.Context, addr string, timeout time.Duration, r io.Reader) (string, error) {
	network, address, err := clamdAddr(addr)
	if err != nil {
		return "", scanError{err}
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return "", scanError{err}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	w := bufio.NewWriterSize(conn, 64<<10)
	if _, err := w.WriteString("zINSTREAM\x00"); err != nil {
		return "", scanError{err}
	}
	buf := make([]byte, 32<<10)
	var hdr [4]byte
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			binary.BigEndian.PutUint32(hdr[:], uint32(n))
			if _, err := w.Write(hdr[:]); err != nil {
				return "", scanError{err}
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return "", scanError{fmt.Errorf("clamd closed the stream (size limit?): %w", err)}
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return "", fmt.Errorf("cases: read attachment for scan: %w", rerr)
		}
	}
	binary.BigEndian.PutUint32(hdr[:], 0)
	if _, err := w.Write(hdr[:]); err != nil {
		return "", scanError{err}
	}
	if err := w.Flush(); err != nil {
		return "", scanError{err}
	}
	reply, err := bufio.NewReader(conn).ReadString(0)
	if err != nil && reply == "" {
		return "", scanError{err}
	}
	reply = strings.TrimSpace(strings.TrimRight(reply, "\x00"))
	// "stream: OK", "stream: Eicar-Test-Signature FOUND", "... ERROR".
	body := strings.TrimSpace(strings.TrimPrefix(reply, "stream:"))
	switch {
	case body == "OK":
		return "", nil
	case strings.HasSuffix(body, " FOUND"):
		return strings.TrimSuffix(body, " FOUND"), nil
	}
	return "", scanError{fmt.Errorf("clamd answered %q", reply)}
}
