package sfsim

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
)

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// newEmail creates a case with one EmailMessage and returns their ids.
func newEmail(e *env) (caseID, emailID string) {
	caseID = e.mustCreate("Case", map[string]any{"Subject": "files"})
	emailID = e.mustCreate("EmailMessage", map[string]any{"ParentId": caseID, "Status": "0", "Subject": "files"})
	return
}

func TestContentVersionJSONInsert(t *testing.T) {
	e := newEnv(t, Options{})
	caseID, emailID := newEmail(e)
	data := []byte("\x89PNG\r\n\x1a\nnot really a png")
	id := e.mustCreate("ContentVersion", map[string]any{"PathOnClient": "shot.png", "FirstPublishLocationId": emailID,
		"VersionData": base64.StdEncoding.EncodeToString(data)})
	r := e.q("SELECT Id, Title, ContentDocumentId, ContentSize, Checksum, FileExtension, FileType FROM ContentVersion WHERE FirstPublishLocationId = '" + emailID + "'")
	recs := arr(obj(r.body)["records"])
	if len(recs) != 1 {
		t.Fatalf("versions: %v", r.body)
	}
	v := obj(recs[0])
	if v["Id"] != id || v["Title"] != "shot" || v["ContentSize"] != float64(len(data)) || v["Checksum"] != md5hex(data) || v["FileExtension"] != "png" || v["FileType"] != "PNG" {
		t.Errorf("version %v", v)
	}
	doc, _ := v["ContentDocumentId"].(string)
	if !strings.HasPrefix(doc, "069") {
		t.Fatalf("ContentDocumentId %v", v["ContentDocumentId"])
	}
	// Shared with the email and its case (and the owner).
	for _, ent := range []string{emailID, caseID} {
		r := e.q("SELECT ContentDocumentId, ShareType FROM ContentDocumentLink WHERE LinkedEntityId = '" + ent + "'")
		if recs := arr(obj(r.body)["records"]); len(recs) != 1 || obj(recs[0])["ContentDocumentId"] != doc {
			t.Errorf("links of %s: %v", ent, r.body)
		}
	}
	if r := e.q("SELECT HasAttachment FROM EmailMessage WHERE Id = '" + emailID + "'"); obj(arr(obj(r.body)["records"])[0])["HasAttachment"] != true {
		t.Errorf("HasAttachment: %v", r.body)
	}
}

func TestContentVersionRefusals(t *testing.T) {
	e := newEnv(t, Options{})
	_, emailID := newEmail(e)
	for name, tc := range map[string]struct {
		body   map[string]any
		status int
		code   string
	}{
		"no data":    {map[string]any{"PathOnClient": "a.txt"}, 400, "REQUIRED_FIELD_MISSING"},
		"no path":    {map[string]any{"VersionData": "aGk="}, 400, "REQUIRED_FIELD_MISSING"},
		"bad base64": {map[string]any{"PathOnClient": "a.txt", "VersionData": "!!!"}, 400, "INVALID_FIELD"},
		"bad parent": {map[string]any{"PathOnClient": "a.txt", "VersionData": "aGk=", "FirstPublishLocationId": "02s000000000999AAA"}, 400, ""},
	} {
		r := e.do("POST", "/sobjects/ContentVersion", tc.body)
		if r.status != tc.status || tc.code != "" && errorCode(r.body) != tc.code {
			t.Errorf("%s: %d %v", name, r.status, r.body)
		}
	}
	if r := e.q("SELECT Id FROM ContentVersion"); len(arr(obj(r.body)["records"])) != 0 {
		t.Errorf("refused inserts left versions: %v", r.body)
	}
	_ = emailID
}

// A multipart insert streams: the emulator hashes the binary part.
func TestContentVersionMultipart(t *testing.T) {
	e := newEnv(t, Options{})
	caseID, emailID := newEmail(e)
	data := bytes.Repeat([]byte("log line\n"), 100000)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="entity_content"`)
	h.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(h)
	_ = json.NewEncoder(pw).Encode(map[string]any{"PathOnClient": "app.log", "Title": "app.log", "FirstPublishLocationId": emailID})
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="VersionData"; filename="app.log"`)
	h.Set("Content-Type", "application/octet-stream")
	pw, _ = mw.CreatePart(h)
	_, _ = pw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", e.hs.URL+"/services/data/v62.0/sobjects/ContentVersion/", &body)
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("multipart insert: %d %s", resp.StatusCode, b)
	}
	r := e.q("SELECT ContentSize, Checksum, ContentDocumentId FROM ContentVersion")
	v := obj(arr(obj(r.body)["records"])[0])
	if v["ContentSize"] != float64(len(data)) || v["Checksum"] != md5hex(data) {
		t.Errorf("version %v", v)
	}
	r = e.q("SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId = '" + caseID + "'")
	if len(arr(obj(r.body)["records"])) != 1 {
		t.Errorf("case link: %v", r.body)
	}
}

// Inside /composite, FirstPublishLocationId can reference the email created
// by an earlier subrequest; allOrNone rolls the file back with the rest.
func TestContentVersionInComposite(t *testing.T) {
	e := newEnv(t, Options{})
	caseID := e.mustCreate("Case", map[string]any{"Subject": "files"})
	sub := func(ref, object string, body map[string]any) map[string]any {
		return map[string]any{"method": "POST", "url": "/services/data/v62.0/sobjects/" + object, "referenceId": ref, "body": body}
	}
	run := func(taskStatus string) result {
		return e.do("POST", "/composite", map[string]any{"allOrNone": true, "compositeRequest": []any{
			sub("email", "EmailMessage", map[string]any{"ParentId": caseID, "Status": "0"}),
			sub("file0", "ContentVersion", map[string]any{"PathOnClient": "a.pdf", "FirstPublishLocationId": "@{email.id}", "VersionData": "JVBERi0="}),
			sub("task", "Task", map[string]any{"WhatId": caseID, "Status": taskStatus, "Priority": "Normal"}),
		}})
	}
	if r := run("No Such Status"); r.status != 200 {
		t.Fatalf("composite: %d %v", r.status, r.body)
	}
	for _, o := range []string{"ContentVersion", "ContentDocument", "ContentDocumentLink"} {
		if r := e.q("SELECT Id FROM " + o); len(arr(obj(r.body)["records"])) != 0 {
			t.Errorf("rolled back composite left %s: %v", o, r.body)
		}
	}
	run("Completed")
	r := e.q("SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId = '" + caseID + "'")
	if len(arr(obj(r.body)["records"])) != 1 {
		t.Errorf("case link after composite: %v", r.body)
	}
}

func TestContentDocumentLinkNeedsAFilter(t *testing.T) {
	e := newEnv(t, Options{})
	_, emailID := newEmail(e)
	for q, ok := range map[string]bool{
		"SELECT Id FROM ContentDocumentLink":                                                                       false,
		"SELECT Id FROM ContentDocumentLink WHERE ShareType = 'V'":                                                 false,
		"SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId != '" + emailID + "'":                             false,
		"SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId = '" + emailID + "'":                              true,
		"SELECT Id FROM ContentDocumentLink WHERE ShareType = 'V' AND ContentDocumentId IN ('069000000000001AAA')": true,
	} {
		r := e.q(q)
		if (r.status == 200) != ok || !ok && errorCode(r.body) != "MALFORMED_QUERY" {
			t.Errorf("%s: %d %v", q, r.status, r.body)
		}
	}
}

// A JSON (base64) insert over 37.5 MB of file data is refused; a multipart
// one would be accepted (TestContentVersionMultipart streams).
func TestContentVersionJSONLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB request")
	}
	e := newEnv(t, Options{})
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, `{"PathOnClient":"big.bin","VersionData":"`)
		enc := base64.NewEncoder(base64.StdEncoding, pw)
		chunk := bytes.Repeat([]byte{0xAB}, 1<<20)
		for written := 0; written <= MaxJSONBlob; written += len(chunk) {
			enc.Write(chunk)
		}
		enc.Close()
		io.WriteString(pw, `"}`)
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", e.hs.URL+"/services/data/v62.0/sobjects/ContentVersion/", pr)
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "multipart") {
		t.Fatalf("oversized JSON insert: %d %s", resp.StatusCode, b)
	}
	if r := e.q("SELECT Id FROM ContentVersion"); len(arr(obj(r.body)["records"])) != 0 {
		t.Errorf("oversized insert stored a version")
	}
}
