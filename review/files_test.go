package review

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/triage-dev/triage/cases"
	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/store"
)

const filesMail = "From: Ann <ann@example.com>\r\nTo: support@example.com\r\nSubject: Files\r\nMessage-ID: <files@test>\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" +
	"--B\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
	"--B\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename=\"page.html\"\r\n\r\n<script>alert(document.cookie)</script>\r\n" +
	"--B\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"eicar.txt\"\r\n\r\nnot really eicar\r\n" +
	"--B--\r\n"

// addFilesMessage records a real message with two attachments, the second
// flagged by the scanner in the cases stage data.
func addFilesMessage(t *testing.T, st *store.Store) int64 {
	t.Helper()
	ctx := context.Background()
	raw := []byte(filesMail)
	sum := sha256.Sum256(raw)
	sha := hex.EncodeToString(sum[:])
	p, err := ingest.Parse(raw, sha)
	if err != nil || len(p.Attachments) != 2 {
		t.Fatalf("parse: %v %+v", err, p)
	}
	pj, _ := json.Marshal(p)
	res, err := st.RecordMessage(ctx, store.NewMessage{Mailbox: "support", Folder: "INBOX", UIDValidity: 9, UID: 1, Raw: raw, SHA256: sha,
		Size: int64(len(raw)), MessageID: p.MessageID, Subject: p.Subject, From: p.From.Addr, Parsed: pj})
	if err != nil {
		t.Fatal(err)
	}
	cr := cases.Result{CaseID: "500000000000009AAA", Action: "created", Malware: true, Files: []cases.FileResult{
		{Filename: "page.html", Part: p.Attachments[0].Part, Status: cases.FileUploaded, Scan: "clean"},
		{Filename: "eicar.txt", Part: p.Attachments[1].Part, Status: cases.FileInfected, Scan: "infected: Eicar-Test-Signature", Reason: "malware found"}}}
	steps := []struct{ from, to store.State }{{store.StateReceived, store.StateDeduped}, {store.StateDeduped, store.StateClassified},
		{store.StateClassified, store.StateEnriched}, {store.StateEnriched, store.StateDone}}
	for _, s := range steps {
		err := st.Advance(ctx, store.Transition{ID: res.ID, From: s.from, To: s.to, Stage: "cases", Extra: func(tx *sql.Tx) error {
			if s.to != store.StateDone {
				return nil
			}
			return st.PutStageData(ctx, tx, res.ID, cases.StageName, cr)
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return res.ID
}

func TestMessageFilesListedAndDownloadedSafely(t *testing.T) {
	e := newEnv(t, true)
	id := addFilesMessage(t, e.st)
	c := e.client().mustLogin("viewer1")
	resp, body := c.get("/messages/" + strconv.FormatInt(id, 10))
	if resp.StatusCode != 200 {
		t.Fatalf("message page: %d", resp.StatusCode)
	}
	for _, w := range []string{"page.html", "uploaded", "scan: clean", "eicar.txt", "infected", "Eicar-Test-Signature"} {
		if !strings.Contains(body, w) {
			t.Errorf("message page lacks %q", w)
		}
	}
	if !strings.Contains(body, "/files/2\"") || strings.Contains(body, "/files/3\"") {
		t.Errorf("download links: want one for the clean file, none for the infected one")
	}
	resp, body = c.get("/messages/" + strconv.FormatInt(id, 10) + "/files/2")
	if resp.StatusCode != 200 {
		t.Fatalf("download: %d %s", resp.StatusCode, body)
	}
	h := resp.Header
	if cd := h.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "page.html") {
		t.Errorf("Content-Disposition %q", cd)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Type") != "application/octet-stream" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("headers %v", h)
	}
	if body != "<script>alert(document.cookie)</script>" {
		t.Errorf("body %q", body)
	}
	if resp, _ := c.get("/messages/" + strconv.FormatInt(id, 10) + "/files/3"); resp.StatusCode != 403 {
		t.Errorf("infected download: %d, want 403", resp.StatusCode)
	}
	if resp, _ := c.get("/messages/" + strconv.FormatInt(id, 10) + "/files/9"); resp.StatusCode != 404 {
		t.Errorf("missing part: %d, want 404", resp.StatusCode)
	}
	// Signed out: no file.
	if resp, _ := e.client().get("/messages/" + strconv.FormatInt(id, 10) + "/files/2"); resp.StatusCode == 200 {
		t.Errorf("anonymous download allowed")
	}
}
