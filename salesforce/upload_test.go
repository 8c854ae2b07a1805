package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// onlyReader hides Seek: a body that cannot be rewound.
type onlyReader struct{ io.Reader }

type uploadSeen struct {
	auth, contentType string
	parts             []string // part names in order
	entity            map[string]any
	filename          string
	partType          string
	data              []byte
}

// uploadHandler parses the multipart request as Salesforce documents it and
// records what it saw; it answers with status/body.
func uploadHandler(t *testing.T, seen *[]uploadSeen, status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := uploadSeen{auth: r.Header.Get("Authorization"), contentType: r.Header.Get("Content-Type")}
		mt, params, err := mime.ParseMediaType(s.contentType)
		if err != nil || mt != "multipart/form-data" {
			t.Errorf("Content-Type %q: want multipart/form-data", s.contentType)
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Errorf("multipart: %v", err)
				break
			}
			s.parts = append(s.parts, p.FormName())
			b, _ := io.ReadAll(p)
			switch p.FormName() {
			case "entity_content":
				if ct := p.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("entity_content Content-Type = %q", ct)
				}
				if err := json.Unmarshal(b, &s.entity); err != nil {
					t.Errorf("entity_content is not JSON: %v", err)
				}
			case "VersionData":
				s.filename, s.partType, s.data = p.FileName(), p.Header.Get("Content-Type"), b
			}
		}
		*seen = append(*seen, s)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Sforce-Limit-Info", "api-usage=42/15000")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func TestUploadContentVersionRequestShape(t *testing.T) {
	f := newFakeOrg(t)
	c := f.client()
	var seen []uploadSeen
	route := "POST /services/data/v" + c.APIVersion() + "/sobjects/ContentVersion"
	f.handle(route, uploadHandler(t, &seen, 201, `{"id":"068000000000001AAA","success":true,"errors":[]}`))
	file := []byte("%PDF-1.4 invoice\x00\x01\x02 binary")
	id, err := c.UploadContentVersion(context.Background(),
		map[string]any{"Title": "invoice", "PathOnClient": "invoice.pdf", "FirstPublishLocationId": "02s000000000001AAA"},
		"invoice.pdf", onlyReader{bytes.NewReader(file)})
	if err != nil {
		t.Fatal(err)
	}
	if id != "068000000000001AAA" {
		t.Errorf("id = %q", id)
	}
	if len(seen) != 1 {
		t.Fatalf("%d upload requests, want 1", len(seen))
	}
	s := seen[0]
	if !strings.HasPrefix(s.auth, "Bearer ") || len(s.auth) <= len("Bearer ") {
		t.Errorf("Authorization = %q", s.auth)
	}
	if strings.Join(s.parts, ",") != "entity_content,VersionData" {
		t.Errorf("parts = %v, want entity_content then VersionData", s.parts)
	}
	if s.entity["PathOnClient"] != "invoice.pdf" || s.entity["FirstPublishLocationId"] != "02s000000000001AAA" || s.entity["VersionData"] != nil {
		t.Errorf("entity = %v", s.entity)
	}
	if s.filename != "invoice.pdf" || s.partType != "application/octet-stream" || !bytes.Equal(s.data, file) {
		t.Errorf("binary part: filename %q type %q data %q", s.filename, s.partType, s.data)
	}
	if b := c.Budget(); b.Calls != 1 || b.Used != 42 || b.Max != 15000 {
		t.Errorf("budget = %+v, want 1 call and 42/15000 observed", b)
	}
}

func TestUploadContentVersionHostileFilename(t *testing.T) {
	f := newFakeOrg(t)
	c := f.client()
	var seen []uploadSeen
	f.handle("POST /services/data/v"+c.APIVersion()+"/sobjects/ContentVersion", uploadHandler(t, &seen, 201, `{"id":"068000000000002AAA","success":true}`))
	name := "a\"b\r\nX-Evil: 1\\c.txt"
	if _, err := c.UploadContentVersion(context.Background(), map[string]any{"PathOnClient": "x.txt"}, name, strings.NewReader("hi")); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || strings.ContainsAny(seen[0].filename, "\"\r\n") || !strings.Contains(seen[0].filename, "X-Evil") {
		t.Errorf("filename = %q, want quotes and line breaks neutralised", seen[0].filename)
	}
}

func TestUploadContentVersionErrors(t *testing.T) {
	type want struct {
		temporary, permanent bool
		code                 string
	}
	tests := map[string]struct {
		status int
		body   string
		seek   bool
		want   want
		calls  int // upload requests
		ok     bool
	}{
		"refused field": {status: 400, body: `[{"errorCode":"INVALID_FIELD","message":"No such column 'Bogus__c'"}]`,
			want: want{permanent: true, code: "INVALID_FIELD"}, calls: 1},
		"file too large": {status: 413, body: `[{"errorCode":"JSON_PARSER_ERROR","message":"too large"}]`,
			want: want{permanent: true, code: "JSON_PARSER_ERROR"}, calls: 1},
		"server down": {status: 503, body: `[{"errorCode":"SERVER_UNAVAILABLE","message":"down"}]`,
			want: want{temporary: true, code: "SERVER_UNAVAILABLE"}, calls: 1},
		// A streamed body cannot be resent: the session is refreshed and the
		// caller told to retry.
		"401 streamed": {status: 401, body: `[{"errorCode":"INVALID_SESSION_ID","message":"Session expired or invalid"}]`,
			want: want{temporary: true, code: "INVALID_SESSION_ID"}, calls: 1},
		// A file that can be rewound is sent again on the new session.
		"401 seekable": {status: 401, body: `[{"errorCode":"INVALID_SESSION_ID","message":"Session expired or invalid"}]`,
			seek: true, calls: 2, ok: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFakeOrg(t)
			c := f.client()
			if err := c.Authenticate(context.Background()); err != nil {
				t.Fatal(err)
			}
			var seen []uploadSeen
			first := true
			h401 := uploadHandler(t, &seen, tc.status, tc.body)
			hOK := uploadHandler(t, &seen, 201, `{"id":"068000000000003AAA","success":true}`)
			f.handle("POST /services/data/v"+c.APIVersion()+"/sobjects/ContentVersion", func(w http.ResponseWriter, r *http.Request) {
				if first {
					first = false
					h401(w, r)
					return
				}
				hOK(w, r)
			})
			var data io.Reader = onlyReader{strings.NewReader("log line\n")}
			if tc.seek {
				data = strings.NewReader("log line\n")
			}
			id, err := c.UploadContentVersion(context.Background(), map[string]any{"PathOnClient": "app.log"}, "app.log", data)
			if len(seen) != tc.calls {
				t.Errorf("%d requests, want %d", len(seen), tc.calls)
			}
			if tc.ok {
				if err != nil || id == "" {
					t.Fatalf("id %q err %v", id, err)
				}
				if string(seen[1].data) != "log line\n" || seen[0].auth == seen[1].auth {
					t.Errorf("retry: data %q, auth %q then %q (want the whole file on a new token)", seen[1].data, seen[0].auth, seen[1].auth)
				}
				return
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code() != tc.want.code {
				t.Fatalf("err = %v, want APIError %s", err, tc.want.code)
			}
			var tmp interface{ Temporary() bool }
			var perm interface{ Permanent() bool }
			if !errors.As(err, &tmp) || tmp.Temporary() != tc.want.temporary || !errors.As(err, &perm) || perm.Permanent() != tc.want.permanent {
				t.Errorf("classification: temporary %v permanent %v, want %v %v", tmp.Temporary(), perm.Permanent(), tc.want.temporary, tc.want.permanent)
			}
			if tc.status == 401 && len(f.tokenRequests()) != 2 {
				t.Errorf("%d token requests, want 2 (the session is refreshed for the retry)", len(f.tokenRequests()))
			}
		})
	}
}

func TestUploadContentVersionRejectsBadInput(t *testing.T) {
	c := (&fakeOrg{t: t}).clientWith(Config{LoginURL: "http://127.0.0.1:1", Auth: AuthConfig{Flow: FlowClientCredentials, ClientID: "x", ClientSecret: "y"}}, WithHTTPClient(failDoer{t}))
	for name, tc := range map[string]struct {
		fields map[string]any
		data   io.Reader
	}{
		"no data":               {map[string]any{"PathOnClient": "a"}, nil},
		"VersionData in fields": {map[string]any{"PathOnClient": "a", "VersionData": "aGk="}, strings.NewReader("hi")},
		"unmarshalable":         {map[string]any{"PathOnClient": make(chan int)}, strings.NewReader("hi")},
	} {
		_, err := c.UploadContentVersion(context.Background(), tc.fields, "a", tc.data)
		var re *RequestError
		if !errors.As(err, &re) || !re.Permanent() {
			t.Errorf("%s: err = %v, want a permanent RequestError", name, err)
		}
	}
}

// A read error in the middle of the file fails the upload as transient (the
// request did not complete) and does not leak the writer goroutine.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("disk gone")
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

func TestUploadContentVersionReadError(t *testing.T) {
	f := newFakeOrg(t)
	c := f.client()
	f.handle("POST /services/data/v"+c.APIVersion()+"/sobjects/ContentVersion", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
		_, _ = io.WriteString(w, `{"id":"068000000000004AAA","success":true}`)
	})
	_, err := c.UploadContentVersion(context.Background(), map[string]any{"PathOnClient": "a.bin"}, "a.bin", &failingReader{n: 100 << 10})
	var te *TransportError
	if !errors.As(err, &te) || !te.Temporary() {
		t.Fatalf("err = %v, want a temporary TransportError", err)
	}
}
