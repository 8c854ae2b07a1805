package dedupe

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/textproto"
	"strings"

	"github.com/emersion/go-message"
)

var errStopWalk = errors.New("stop")

// returnedRefs reads a bounce's copy of the returned message (a
// text/rfc822-headers or message/rfc822 part of a multipart/report, RFC
// 6522) and lists the Message-IDs it names: its own, then its In-Reply-To
// and References. That is how a bounce finds the case it is about.
func returnedRefs(raw []byte) []string {
	e, err := message.Read(bytes.NewReader(raw))
	if e == nil {
		return nil
	}
	_ = err // unknown charsets etc. do not matter for headers
	var ids []string
	_ = e.Walk(func(path []int, part *message.Entity, err error) error {
		if err != nil || part == nil || len(path) == 0 {
			return nil
		}
		ct, _, _ := part.Header.ContentType()
		switch strings.ToLower(ct) {
		case "text/rfc822-headers", "message/rfc822", "message/global", "message/global-headers":
		default:
			return nil
		}
		h, err := textproto.NewReader(bufio.NewReader(io.LimitReader(part.Body, 64<<10))).ReadMIMEHeader()
		if err != nil && len(h) == 0 {
			return nil
		}
		for _, name := range []string{"Message-Id", "In-Reply-To", "References"} {
			for _, v := range h.Values(name) {
				ids = append(ids, splitMsgIDs(v)...)
			}
		}
		return errStopWalk
	})
	return ids
}

// splitMsgIDs extracts <id> tokens from a header value.
func splitMsgIDs(v string) []string {
	var out []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			break
		}
		if id := CleanMessageID(v[i : i+j+1]); id != "" {
			out = append(out, id)
		}
		v = v[i+j+1:]
	}
	return out
}
