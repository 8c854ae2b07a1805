package ingest

import (
	"encoding/base64"
	"encoding/binary"
	"io"
)

// b64Decoder decodes a base64 transfer-encoded body as go-message does (the
// standard alphabet; space, tab, CR and LF ignored anywhere) but a chunk at
// a time: go-message's chain (a space-to-LF filter under encoding/base64's
// decoder and its newline filter) touches every byte three times and was
// the largest CPU cost of parsing mail with attachments.
//
// Padding is accepted only at the end of the body. encoding/base64's stream
// decoder rejects padding followed by more data too, except when the padded
// quantum happens to end one of the chunks (at most 1 KB, cut where its
// reads end) that it decodes at once; that accident is not reproduced.
// Error offsets (base64.CorruptInputError) count characters of the whole
// body without its whitespace, not of one chunk.
type b64Decoder struct {
	r     io.Reader
	buf   []byte // input is read into buf[nq:]; buf[:nq] is the stripped rest (< 4 chars) of earlier reads
	nq    int
	dec   []byte // decoded output when the caller's buffer is too small
	out   []byte // decoded, not yet returned
	off   int64  // stripped characters decoded so far, for error offsets
	ended bool   // a padded quantum was decoded: only whitespace may follow
	err   error  // returned once out is drained; io.EOF at the end
}

// The input buffer starts small (most base64 parts are a few KB of text)
// and doubles while reads fill it.
const (
	b64MinBuf = 2 << 10
	b64MaxBuf = 32 << 10
)

func newB64Decoder(r io.Reader) *b64Decoder { return &b64Decoder{r: r} }

func (d *b64Decoder) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		if n := d.fill(p); n > 0 {
			return n, nil
		}
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// WriteTo lets io.Copy (hashing an attachment) skip its own buffer.
func (d *b64Decoder) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(d.out) > 0 {
			n, err := w.Write(d.out)
			total += int64(n)
			d.out = d.out[n:]
			if err != nil {
				return total, err
			}
			if len(d.out) > 0 {
				return total, io.ErrShortWrite
			}
		}
		if d.err != nil {
			if d.err == io.EOF {
				return total, nil
			}
			return total, d.err
		}
		d.fill(nil)
	}
}

// fill reads once and decodes every whole quantum now buffered: into p when
// it has room for all of it (returning the count), else into d.out.
func (d *b64Decoder) fill(p []byte) int {
	if d.buf == nil {
		d.buf = make([]byte, b64MinBuf)
	}
	n, rerr := d.r.Read(d.buf[d.nq:])
	grow := n == len(d.buf)-d.nq && len(d.buf) < b64MaxBuf
	m := d.nq + stripB64Space(d.buf[d.nq:d.nq+n])
	written := 0
	if m > 0 && d.ended {
		d.err = base64.CorruptInputError(d.off)
		return 0
	}
	if nr := m &^ 3; nr > 0 {
		dst := p
		if len(p) < nr/4*3 {
			if len(d.dec) < nr/4*3 {
				d.dec = make([]byte, max(nr, len(d.buf))/4*3)
			}
			dst = d.dec
		}
		k, err := base64.StdEncoding.Decode(dst, d.buf[:nr])
		if err != nil {
			if e, ok := err.(base64.CorruptInputError); ok {
				err = base64.CorruptInputError(d.off + int64(e))
			}
			d.err = err
		} else if d.buf[nr-1] == '=' {
			// Decode accepted the chunk, so its only padding ends it.
			d.ended = true
			if m > nr {
				d.err = base64.CorruptInputError(d.off + int64(nr))
			}
		}
		d.off += int64(nr)
		m = copy(d.buf, d.buf[nr:m])
		if len(p) >= nr/4*3 {
			written = k
		} else {
			d.out = dst[:k]
		}
	}
	d.nq = m
	if grow {
		nb := make([]byte, 2*len(d.buf))
		copy(nb, d.buf[:d.nq])
		d.buf = nb
	}
	if rerr != nil && d.err == nil {
		switch {
		case rerr != io.EOF:
			d.err = rerr
		case d.nq > 0:
			d.err = io.ErrUnexpectedEOF // as encoding/base64 reports a cut quantum
		default:
			d.err = io.EOF
		}
	}
	return written
}

// stripB64Space removes space, tab, CR and LF from b in place and returns
// the new length. Base64 text is mostly long runs without any byte below
// '!', so it moves eight bytes at a time until a word holds one.
func stripB64Space(b []byte) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	j, i := 0, 0
	for i < len(b) {
		if i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			// Exact test for a byte < 0x21 in x (Hacker's Delight "hasless").
			if (x-ones*0x21)&^x&highs == 0 {
				binary.LittleEndian.PutUint64(b[j:], x)
				i += 8
				j += 8
				continue
			}
			for end := i + 8; i < end; i++ {
				if c := b[i]; !isB64Space(c) {
					b[j] = c
					j++
				}
			}
			continue
		}
		if c := b[i]; !isB64Space(c) {
			b[j] = c
			j++
		}
		i++
	}
	return j
}

func isB64Space(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
