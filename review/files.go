package review

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/triage-dev/triage/cases"
	"github.com/triage-dev/triage/ingest"
)

// fileView is one attachment of a message as the review UI lists it: what
// the cases stage did with it (uploaded, duplicate, blocked…) and its scan.
type fileView struct {
	Part        string `json:"part"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Inline      bool   `json:"inline,omitempty"`
	Status      string `json:"status"`
	Reason      string `json:"reason,omitempty"`
	Scan        string `json:"scan,omitempty"`
	Download    string `json:"download,omitempty"` // "" when not served (infected, header only)
}

// messageFiles merges the parsed attachments with the cases stage's file results.
func (s *Server) messageFiles(ctx context.Context, id int64, p *ingest.Parsed, headerOnly bool) []fileView {
	if p == nil || len(p.Attachments) == 0 {
		return nil
	}
	var r cases.Result
	byPart := map[string]cases.FileResult{}
	if ok, err := s.st.StageData(ctx, id, cases.StageName, &r); err == nil && ok {
		for _, f := range r.Files {
			byPart[f.Part] = f
		}
	}
	out := make([]fileView, 0, len(p.Attachments))
	for _, a := range p.Attachments {
		v := fileView{Part: a.Part, Filename: cleanText(a.Filename), ContentType: a.ContentType, Size: a.Size, Inline: a.Inline, Status: "not processed yet"}
		if v.Filename == "" {
			v.Filename = "(unnamed part " + a.Part + ")"
		}
		if f, ok := byPart[a.Part]; ok {
			v.Status, v.Reason, v.Scan = f.Status, cleanText(f.Reason), cleanText(f.Scan)
		}
		if !headerOnly && v.Status != cases.FileInfected {
			v.Download = fmt.Sprintf("/messages/%d/files/%s", id, url.PathEscape(a.Part))
		}
		out = append(out, v)
	}
	return out
}

// downloadFile serves an attachment from the raw message. A customer's file
// is never rendered in the app's origin: it is always a download
// (Content-Disposition: attachment), typed application/octet-stream, with
// nosniff and a sandboxing CSP in case a browser opens it anyway. Files
// clamd flagged are not served at all.
func (s *Server) downloadFile(w http.ResponseWriter, r *http.Request, _ *identity) {
	ctx := r.Context()
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	m, err := s.st.Message(ctx, id)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	var p ingest.Parsed
	if len(m.Parsed) == 0 || json.Unmarshal(m.Parsed, &p) != nil || m.HeaderOnly {
		s.fail(w, r, &httpError{code: http.StatusNotFound, msg: "the message's attachments are not kept"}, false)
		return
	}
	part := r.PathValue("part")
	var att *ingest.Attachment
	for i := range p.Attachments {
		if p.Attachments[i].Part == part {
			att = &p.Attachments[i]
		}
	}
	if att == nil {
		s.fail(w, r, &httpError{code: http.StatusNotFound, msg: "no such attachment"}, false)
		return
	}
	for _, f := range s.messageFiles(ctx, id, &p, false) {
		if f.Part == part && f.Status == cases.FileInfected {
			s.fail(w, r, &httpError{code: http.StatusForbidden, msg: "this file is infected (" + f.Scan + ") and is not served"}, false)
			return
		}
	}
	raw, err := s.st.Raw(ctx, m.SHA256)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	body, err := ingest.AttachmentReader(raw, part)
	if err != nil {
		s.fail(w, r, &httpError{code: http.StatusNotFound, msg: "the attachment could not be read"}, false)
		return
	}
	name := cleanText(att.Filename)
	if name == "" {
		name = "attachment-" + part
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", contentDisposition(name))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Length", strconv.FormatInt(att.Size, 10))
	if _, err := io.Copy(w, body); err != nil {
		s.log.Warn("review: attachment download interrupted", "message", id, "part", part, "err", err)
	}
}

// contentDisposition: always "attachment"; the name RFC 2231-encoded when it
// is not plain ASCII (mime does that), else a safe fallback.
func contentDisposition(name string) string {
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return `attachment; filename="download"`
}
