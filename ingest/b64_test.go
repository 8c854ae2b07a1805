package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/emersion/go-message"
)

// decodeWhole is the specification of b64Decoder: the body without its
// space, tab, CR and LF decoded by base64.StdEncoding in one piece, a cut
// final quantum reported as encoding/base64's stream decoder does.
func decodeWhole(in []byte) ([]byte, error) {
	f := make([]byte, 0, len(in))
	for _, c := range in {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			f = append(f, c)
		}
	}
	nr := len(f) &^ 3
	out := make([]byte, nr/4*3)
	n, err := base64.StdEncoding.Decode(out, f[:nr])
	out = out[:n]
	switch {
	case err != nil:
		return out, err
	case nr > 0 && f[nr-1] == '=' && len(f) > nr:
		return out, base64.CorruptInputError(nr) // data after the padding
	case len(f) > nr:
		return out, io.ErrUnexpectedEOF
	}
	return out, nil
}

// decodeGoMessage is what go-message itself does with a base64 body.
func decodeGoMessage(in []byte) ([]byte, error) {
	var h message.Header
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Transfer-Encoding", "base64")
	ent, err := message.New(h, bytes.NewReader(in))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(ent.Body)
}

// decodeWays decodes in with b64Decoder read in several ways: the chunking
// of the input and of the output must not change the result.
func decodeWays(in []byte) map[string]struct {
	out []byte
	err error
} {
	res := map[string]struct {
		out []byte
		err error
	}{}
	out, err := io.ReadAll(newB64Decoder(bytes.NewReader(in)))
	res["ReadAll"] = struct {
		out []byte
		err error
	}{out, err}
	var buf bytes.Buffer
	_, err = io.Copy(&buf, newB64Decoder(bytes.NewReader(in))) // WriteTo
	res["WriteTo"] = struct {
		out []byte
		err error
	}{buf.Bytes(), err}
	out, err = io.ReadAll(iotest.OneByteReader(newB64Decoder(iotest.OneByteReader(bytes.NewReader(in)))))
	res["OneByte"] = struct {
		out []byte
		err error
	}{out, err}
	out, err = io.ReadAll(newB64Decoder(iotest.DataErrReader(iotest.HalfReader(bytes.NewReader(in)))))
	res["HalfDataErr"] = struct {
		out []byte
		err error
	}{out, err}
	return res
}

func checkB64(t *testing.T, in []byte) {
	t.Helper()
	want, wantErr := decodeWhole(in)
	for how, got := range decodeWays(in) {
		if !bytes.Equal(got.out, want) || !sameErr(got.err, wantErr) {
			t.Fatalf("%s: %q: got %q, %v; want %q, %v", how, truncate(string(in), 200), truncate(string(got.out), 100), got.err, truncate(string(want), 100), wantErr)
		}
	}
	// Against go-message: the same bytes whenever it succeeds, an error
	// whenever it fails. It accepts padding followed by more data only
	// when the padding ends one of its 1 KB reads; b64Decoder rejects it.
	ref, refErr := decodeGoMessage(in)
	switch {
	case refErr == nil && wantErr == nil:
		if !bytes.Equal(ref, want) {
			t.Fatalf("%q: go-message decoded %q, b64Decoder %q", truncate(string(in), 200), truncate(string(ref), 100), truncate(string(want), 100))
		}
	case refErr == nil:
		var ce base64.CorruptInputError
		if !errors.As(wantErr, &ce) || !bytes.Contains(stripped(in)[:ce], []byte("=")) {
			t.Fatalf("%q: go-message decoded it, b64Decoder failed with %v (not padding in the middle)", truncate(string(in), 200), wantErr)
		}
		if !bytes.HasPrefix(ref, want) {
			t.Fatalf("%q: b64Decoder's output before its error is not what go-message decoded", truncate(string(in), 200))
		}
	case wantErr == nil:
		t.Fatalf("%q: go-message failed with %v, b64Decoder decoded it", truncate(string(in), 200), refErr)
	default:
		if !bytes.HasPrefix(ref, want) {
			t.Fatalf("%q: both fail but b64Decoder's output %q is not a prefix of go-message's %q", truncate(string(in), 200), truncate(string(want), 100), truncate(string(ref), 100))
		}
	}
}

func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

func stripped(in []byte) []byte {
	return []byte(strings.NewReplacer(" ", "", "\t", "", "\r", "", "\n", "").Replace(string(in)))
}

// wrap76 encodes data as a mailer does: lines of 76 characters ending in eol.
func wrap76(data []byte, eol string) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + eol)
		enc = enc[76:]
	}
	b.WriteString(enc + eol)
	return []byte(b.String())
}

func TestB64Decoder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	big := random(100_000)
	tests := []struct {
		name    string
		in      string
		want    []byte // nil: only compared with the references
		wantErr string // substring; "" means success
	}{
		{name: "empty", in: "", want: []byte{}},
		{name: "only whitespace", in: " \r\n\t\r\n", want: []byte{}},
		{name: "CRLF every 76", in: string(wrap76(big, "\r\n")), want: big},
		{name: "LF every 76", in: string(wrap76(big, "\n")), want: big},
		{name: "no newlines", in: base64.StdEncoding.EncodeToString(big), want: big},
		{name: "one padding", in: "aGVsbG8gd29ybGQ=\r\n", want: []byte("hello world")},
		{name: "two padding", in: "aGk=", want: []byte("hi")},
		{name: "padding split by newline", in: "aGVsbG8=\r\n", want: []byte("hello")},
		{name: "padding chars split by newline", in: "aA=\r\n=\r\n", want: []byte("h")},
		{name: "spaces and tabs inside", in: "aGVs bG8g\td29y\r\n bGQ=", want: []byte("hello world")},
		{name: "continuation indent", in: "aGVsbG8g\r\n\td29ybGQ=\r\n", want: []byte("hello world")},
		{name: "trailing whitespace after padding", in: "aGk=\r\n\r\n  \t", want: []byte("hi")},
		{name: "missing padding at EOF", in: "aGVsbG8gd29ybGQ", want: []byte("hello wor"), wantErr: "unexpected EOF"},
		{name: "single char at EOF", in: "aGVsb", want: []byte("hel"), wantErr: "unexpected EOF"},
		{name: "padding in the middle", in: "aGk=aGVsbG8=", want: []byte("hi"), wantErr: "illegal base64 data at input byte 4"},
		{name: "padding in the middle across lines", in: "aGk=\r\naGVsbG8=\r\n", want: []byte("hi"), wantErr: "illegal base64 data at input byte 4"},
		{name: "padding then one char", in: "aGk=a", want: []byte("hi"), wantErr: "illegal base64 data at input byte 4"},
		{name: "padding too early", in: "a===", wantErr: "illegal base64 data at input byte 1"},
		{name: "equals inside quantum", in: "aG=kaGVs", wantErr: "illegal base64 data"},
		{name: "garbage char", in: "aGVs*G8g", want: []byte("hel"), wantErr: "illegal base64 data at input byte 4"},
		{name: "url alphabet", in: "aGV-bG8_", wantErr: "illegal base64 data"},
		{name: "non-ASCII", in: "aGVs\xc3\xa9bG8=", want: []byte("hel"), wantErr: "illegal base64 data at input byte 4"},
		{name: "NUL", in: "aGVs\x00AAA", want: []byte("hel"), wantErr: "illegal base64 data at input byte 4"},
		{name: "vertical tab is not whitespace", in: "aGVs\vbG8g", want: []byte("hel"), wantErr: "illegal base64 data"},
		{name: "garbage far in", in: string(wrap76(big[:30000], "\r\n")) + "!!!!", want: big[:30000], wantErr: "illegal base64 data at input byte 40000"},
		{name: "padding in the middle far in", in: string(wrap76(big[:29999], "\r\n")) + string(wrap76(big[:3000], "\r\n")),
			want: big[:29999], wantErr: "illegal base64 data at input byte 40000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			for how, got := range decodeWays(in) {
				if tt.want != nil && !bytes.Equal(got.out, tt.want) {
					t.Errorf("%s: got %d bytes %q, want %d bytes", how, len(got.out), truncate(string(got.out), 40), len(tt.want))
				}
				switch {
				case tt.wantErr == "" && got.err != nil:
					t.Errorf("%s: unexpected error %v", how, got.err)
				case tt.wantErr != "" && (got.err == nil || !strings.Contains(got.err.Error(), tt.wantErr)):
					t.Errorf("%s: error %v, want %q", how, got.err, tt.wantErr)
				}
			}
			checkB64(t, in)
		})
	}
}

// A read error of the source is passed on, after the data before it.
func TestB64DecoderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("aGVsbG8g\r\n"), iotest.ErrReader(boom))
	got, err := io.ReadAll(newB64Decoder(r))
	if string(got) != "hello " || !errors.Is(err, boom) {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestStripB64Space(t *testing.T) {
	for _, s := range []string{"", "abc", "abcdefgh", "abcdefghi", "a b\tc\rd\ne", "        ", "abcdefg\n", "\x80\x81\xff\xfe\x21\x20\x22\x00abc", strings.Repeat("x", 76) + "\r\n" + strings.Repeat("y", 76)} {
		b := []byte(s)
		got := string(b[:stripB64Space(b)])
		if want := string(stripped([]byte(s))); got != want {
			t.Errorf("stripB64Space(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzB64Decoder(f *testing.F) {
	f.Add([]byte("aGVsbG8gd29ybGQ=\r\n"))
	f.Add([]byte("aGk=aGVsbG8="))
	f.Add([]byte("aGVs bG8g\td29y\r\n bGQ"))
	f.Add([]byte("a===\x80\xff"))
	f.Add(wrap76(bytes.Repeat([]byte{0xfb, 0xff, 0x00}, 400), "\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		b := append([]byte(nil), in...)
		if got, want := string(b[:stripB64Space(b)]), string(stripped(in)); got != want {
			t.Fatalf("stripB64Space(%q) = %q, want %q", in, got, want)
		}
		checkB64(t, in)
	})
}

func BenchmarkB64Decode(b *testing.B) {
	data := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	enc := wrap76(data, "\r\n")
	b.Run("b64Decoder", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		for range b.N {
			h := sha256.New()
			if _, err := io.Copy(h, newB64Decoder(bytes.NewReader(enc))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-message", func(b *testing.B) {
		var hdr message.Header
		hdr.Set("Content-Transfer-Encoding", "base64")
		b.SetBytes(int64(len(enc)))
		for range b.N {
			ent, _ := message.New(hdr, bytes.NewReader(enc))
			h := sha256.New()
			if _, err := io.Copy(h, ent.Body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
