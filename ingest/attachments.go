package ingest

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-message"
)

// ErrPartNotFound is returned when a message has no part at the given path.
var ErrPartNotFound = errors.New("ingest: MIME part not found")

// AttachmentReader returns the decoded bytes of the part at path (an
// Attachment's Part) in the raw message. It re-parses the message the way
// Parse did, so the bytes hash to the Attachment's SHA256, and it streams:
// nothing but the part being read is held, so a large attachment costs no
// more than the raw message the caller already has.
func AttachmentReader(raw []byte, part string) (io.Reader, error) {
	if part == "" {
		return nil, fmt.Errorf("%w: empty path", ErrPartNotFound)
	}
	ent, err := readEntityBytes(raw)
	if ent == nil {
		if err == nil {
			err = errors.New("empty message")
		}
		return nil, &ParseError{Err: fmt.Errorf("header: %w", err)}
	}
	return locate(ent, "", part, 0)
}

// AttachmentBytes is AttachmentReader read to the end.
func AttachmentBytes(raw []byte, part string) ([]byte, error) {
	r, err := AttachmentReader(raw, part)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// locate follows walk's numbering: children of a multipart are path.i, a
// single-part top level is "1", an attached message's parts sit below its
// own path (its body at path.1 when it is single-part).
func locate(ent *message.Entity, path, target string, depth int) (io.Reader, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: %s (nested too deep)", ErrPartNotFound, target)
	}
	ct, params, _ := ent.Header.ContentType()
	if mr := multipartReader(ent, ct, params); mr != nil {
		for i := 1; ; i++ {
			p, err := mr.next()
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%w: %s", ErrPartNotFound, target)
			}
			if p == nil {
				return nil, fmt.Errorf("ingest: part %s: %w", childPath(path, i), err)
			}
			child := childPath(path, i)
			if child == target || strings.HasPrefix(target, child+".") {
				return locate(p, child, target, depth+1)
			}
		}
	}
	leaf := path
	if leaf == "" {
		leaf = "1"
	}
	if leaf == target {
		return ent.Body, nil
	}
	if (ct == "message/rfc822" || ct == "message/global") && strings.HasPrefix(target, leaf+".") {
		inner, err := readEntity(ent.Body)
		if inner == nil {
			return nil, fmt.Errorf("ingest: part %s: attached message unreadable: %w", leaf, err)
		}
		innerPath := leaf
		if !isMultipart(inner.Header) {
			innerPath = leaf + ".1"
		}
		return locate(inner, innerPath, target, depth+1)
	}
	return nil, fmt.Errorf("%w: %s", ErrPartNotFound, target)
}
