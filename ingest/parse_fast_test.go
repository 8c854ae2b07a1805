package ingest

import (
	"bytes"
	"errors"
	"io"
	"net/mail"
	"strings"
	"testing"
	"testing/iotest"
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

func TestReadUpTo(t *testing.T) {
	for _, size := range []int{0, 1, 4095, 4096, 4097, 10000, 100000} {
		data := bytes.Repeat([]byte("abcdefg\n"), size/8+1)[:size]
		for _, limit := range []int64{1, 4096, 5000, int64(size), int64(size) + 1, 1 << 20} {
			want, wantErr := io.ReadAll(io.LimitReader(bytes.NewReader(data), limit))
			got, err := readUpTo(iotest.HalfReader(bytes.NewReader(data)), limit)
			if !bytes.Equal(got, want) || (err == nil) != (wantErr == nil) {
				t.Errorf("size %d limit %d: got %d bytes, %v; want %d bytes, %v", size, limit, len(got), err, len(want), wantErr)
			}
		}
	}
	boom := errors.New("boom")
	got, err := readUpTo(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom)), 100)
	if string(got) != "abc" || !errors.Is(err, boom) {
		t.Errorf("read error: got %q, %v", got, err)
	}
}
