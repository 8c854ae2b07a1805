package ingest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message"

	"github.com/triage-dev/triage/ingest/imaptest"
)

var dateSeeds = []string{
	"", " ", "Mon, 02 Nov 2026 09:00:00 +0000", "Mon, 2 Nov 2026 09:00:00 -0700", "2 Nov 2026 09:00:00 +0100",
	"  Tue, 1 Jul 2003 10:52:37 +0200", "Tue, 1 Jul 2003 10:52:37 +0200 (CEST)", "Tue, 1 Jul 2003 10:52:37 +0200 (CEST",
	"Tue, 1 Jul 2003 10:52:37 +0200 garbage", "Tue, 1 Jul 03 10:52:37 +0200", "Tue, 1 Jul 2003 10:52 +0200",
	"Tue, 1 Jul 2003 10:52:37 GMT", "Tue, 1 Jul 2003 10:52:37 MDT (MDT)", "Fri, 21 Nov 1997 09:55:06 -0600\r\n",
	"Fri, 21 Nov 1997\r\n 09:55:06 -0600", "Xyz, 21 Nov 1997 09:55:06 -0600", "Fri, 31 Feb 1997 09:55:06 -0600",
	"Fri, 21 Nov 1997 09:55:06 +9999", "Fri, 21 Nov 1997 09:55:06 -06", "Fri, 21 Nov 1997 09:55:06 +0000+0000",
	"21 Nov 1997 9:55:06 -0600", "Fri,21 Nov 1997 09:55:06 -0600", "Fri, 21 Nov 1997 09:55:06 \t-0600",
	"\tFri, 21 Nov 1997 09:55:06 -0600", "2026-11-02T09:00:00+00:00", "Fri, 21 Nov 1997 09:55:06 -0600\n",
}

// parseDate must agree with what mail.Header.Date (net/mail.ParseDate) returns.
func checkParseDate(t *testing.T, v string) {
	t.Helper()
	got, err := parseDate(v)
	want, wantErr := mail.ParseDate(v)
	if v == "" {
		want, wantErr = got, nil // mail.Header.Date returns the zero time for an empty value
		if !got.IsZero() || err != nil {
			t.Fatalf("parseDate(%q) = %v, %v; want zero time", v, got, err)
		}
	}
	if (err == nil) != (wantErr == nil) || !got.Equal(want) || got.Location().String() != want.Location().String() {
		t.Fatalf("parseDate(%q) = %v, %v; net/mail: %v, %v", v, got, err, want, wantErr)
	}
	if _, off := got.Zone(); err == nil {
		if _, woff := want.Zone(); off != woff {
			t.Fatalf("parseDate(%q): zone offset %d, net/mail %d", v, off, woff)
		}
	}
}

func TestParseDate(t *testing.T) {
	for _, v := range dateSeeds {
		checkParseDate(t, v)
	}
}

func FuzzParseDate(f *testing.F) {
	for _, v := range dateSeeds {
		f.Add(v)
	}
	f.Fuzz(checkParseDate)
}

func TestCRLFToLF(t *testing.T) {
	cases := []string{"", "\r", "\n", "\r\n", "\r\r\n", "\r\n\n", "\n\r", "a\r\nb\r\nc", "a\r\n", "\r\na", "\r\n\r\n\r\n", "no newline", "a\rb\nc\r\n\r"}
	r := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = "ab\r\n"[r.IntN(4)]
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		if got, want := string(crlfToLF([]byte(c))), strings.ReplaceAll(c, "\r\n", "\n"); got != want {
			t.Fatalf("crlfToLF(%q) = %q, want %q", c, got, want)
		}
	}
}

// dumpEntity renders an entity tree as go-message would present it to the
// walker: each part's header fields, its error kind and its decoded body.
func dumpEntity(t *testing.T, ent *message.Entity, err error, ours bool, depth int, out *strings.Builder) {
	fmt.Fprintf(out, "%*s[charset:%v encoding:%v err:%v]\n", depth, "", message.IsUnknownCharset(err), message.IsUnknownEncoding(err), err != nil)
	if ent == nil {
		return
	}
	fields := ent.Header.Fields()
	for fields.Next() {
		fmt.Fprintf(out, "%*s%s: %q\n", depth, "", fields.Key(), fields.Value())
	}
	ct, params, _ := ent.Header.ContentType()
	if ours {
		if mr := multipartReader(ent, ct, params); mr != nil {
			for {
				p, err := mr.next()
				if p == nil {
					fmt.Fprintf(out, "%*send: %v\n", depth, "", err)
					return
				}
				dumpEntity(t, p, err, ours, depth+1, out)
			}
		}
	} else if mr := ent.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if p == nil {
				fmt.Fprintf(out, "%*send: %v\n", depth, "", err)
				return
			}
			dumpEntity(t, p, err, ours, depth+1, out)
		}
	}
	body, err := io.ReadAll(ent.Body)
	fmt.Fprintf(out, "%*sbody %x (error: %v)\n", depth, "", sha256.Sum256(body), err != nil)
	if ct == "message/rfc822" && depth < 5 {
		var inner *message.Entity
		var ierr error
		if ours {
			inner, ierr = readEntity(bytes.NewReader(body))
		} else {
			inner, ierr = message.ReadWithOptions(bytes.NewReader(body), &message.ReadOptions{MaxHeaderBytes: maxHeaderBytes})
		}
		dumpEntity(t, inner, ierr, ours, depth+1, out)
	}
}

// readEntityBytes, readEntity and multipartReader build the same entities
// as go-message (same headers, parts, errors and decoded bytes) on valid
// mail; base64 goes through b64Decoder on one side only.
func TestEntitiesMatchGoMessage(t *testing.T) {
	b64 := func(s string) string { return string(wrap76([]byte(s), "\r\n")) }
	inner := "From: x@y.z\r\nSubject: inner\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64("caf\xe9 cr\xe8me") + "\r\n"
	msgs := []string{
		"From: a@b.c\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64("caf\xe9 au lait"),
		"From: a@b.c\r\nContent-Type: text/plain; charset=x-unknown\r\nContent-Transfer-Encoding: BASE64\r\n\r\n" + b64("hello"),
		"From: a@b.c\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64("no content type"),
		"From: a@b.c\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64 \r\n\r\n" + b64("%PDF"),
		"From: a@b.c\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n",
		"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: base64\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nmultipart ignores its encoding\r\n--b--\r\n",
		"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html; charset=windows-1252\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64("<p>\x93quoted\x94</p>") +
			"--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(inner) +
			"--b\r\nContent-Type: image/png; name=x.png\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(strings.Repeat("\x89PNG\x00\xff", 5000)) + "--b--\r\n",
	}
	golden, _ := filepath.Glob("testdata/golden/*.eml")
	for _, f := range golden {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, string(b))
	}
	for _, m := range imaptest.Corpus(40, 3) {
		msgs = append(msgs, string(m))
	}
	if ent, _ := readEntityBytes([]byte(msgs[2])); ent == nil {
		t.Fatal("no entity")
	} else if _, ok := ent.Body.(*b64Decoder); !ok {
		t.Fatalf("base64 body read by %T, not b64Decoder", ent.Body)
	}
	for i, m := range msgs {
		var ours, theirs strings.Builder
		ent, err := readEntityBytes([]byte(m))
		dumpEntity(t, ent, err, true, 0, &ours)
		gent, gerr := message.ReadWithOptions(strings.NewReader(m), &message.ReadOptions{MaxHeaderBytes: maxHeaderBytes})
		dumpEntity(t, gent, gerr, false, 0, &theirs)
		if ours.String() != theirs.String() {
			t.Errorf("message %d: entities differ\nours:\n%s\ngo-message:\n%s", i, ours.String(), theirs.String())
		}
		var streamed strings.Builder
		ent, err = readEntity(strings.NewReader(m))
		dumpEntity(t, ent, err, true, 0, &streamed)
		if streamed.String() != ours.String() {
			t.Errorf("message %d: readEntity and readEntityBytes differ", i)
		}
	}
}
