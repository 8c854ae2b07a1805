package cases

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

// Attachments. Each file of an email becomes a Salesforce File (a
// ContentVersion whose FirstPublishLocationId is the EmailMessage, so it
// shows on the email and on its case). Files whose total fits
// attachments.composite_max ride base64-encoded in the email's own
// /composite request, so a small email with small files is still one API
// call; larger ones are each one streamed multipart upload after it.
//
// Exactly once per case: the store's attachments table is keyed by (thread,
// SHA-256), so the logo every reply of a thread repeats is stored once. A
// composite-borne file shares the email's all-or-none fate and the cases
// ledger's recovery. A multipart upload is recorded "sending" before it goes
// out; an attempt that finds "sending" asks Salesforce for a ContentVersion
// on the email with the file's MD5 (ContentVersion.Checksum) before sending
// again.

// FileResult is what happened to one attachment of an email.
type FileResult struct {
	Filename          string `json:"filename"`
	ContentType       string `json:"content_type,omitempty"` // declared
	Sniffed           string `json:"sniffed,omitempty"`      // detected from the content
	Size              int64  `json:"size"`
	SHA256            string `json:"sha256"`
	MD5               string `json:"md5,omitempty"`
	Part              string `json:"part"`
	Inline            bool   `json:"inline,omitempty"`
	Status            string `json:"status"`
	Reason            string `json:"reason,omitempty"`
	Scan              string `json:"scan,omitempty"` // "", "clean", "infected: <signature>"
	Mode              string `json:"mode,omitempty"` // composite | multipart
	ContentVersionID  string `json:"content_version_id,omitempty"`
	ContentDocumentID string `json:"content_document_id,omitempty"`
}

// FileResult.Status values.
const (
	FileUploaded  = "uploaded"  // Salesforce has it (with this email)
	FilePending   = "pending"   // to be uploaded (dry-run: would be uploaded)
	FileDuplicate = "duplicate" // already on the case, or twice in this email
	FileBlocked   = "blocked"   // type refused by policy
	FileOversized = "oversized" // over max_file_size or max_total_per_email
	FileInfected  = "infected"  // clamd found malware
	FileSkipped   = "skipped"   // inline part, raw bytes not kept, no uploader
	FileRefused   = "refused"   // Salesforce refused the upload
)

const (
	modeComposite = "composite"
	modeMultipart = "multipart"
)

// plannedFile is an upload of the plan: r.Files[idx].
type plannedFile struct {
	idx int
	ref string // composite reference ("" for multipart)
}

// filesKey is the ledger key of the case's files: the thread, else the case.
func filesKey(r Result) string {
	if r.ThreadKey != "" {
		return r.ThreadKey
	}
	if r.CaseID != "" {
		return "case:" + r.CaseID
	}
	return ""
}

// uploaderFor: an explicit uploader, else the Salesforce client's own.
func (s *Stage) fileUploader() FileUploader {
	if s.uploader != nil {
		return s.uploader
	}
	if u, ok := s.sf.(FileUploader); ok {
		return u
	}
	return nil
}

// planFiles decides each attachment's fate and returns the Task's notes.
func (s *Stage) planFiles(ctx context.Context, m store.Message, in Input, p *plan) ([]string, error) {
	cfg := &s.cfg.Attachments
	atts := in.Parsed.Attachments
	if len(atts) == 0 || cfg.Enabled == nil || !*cfg.Enabled {
		return nil, nil
	}
	raw := p.raw
	if raw == nil && m.SHA256 != "" {
		if b, err := s.st.Raw(ctx, m.SHA256); err == nil {
			raw = b
		}
	}
	p.raw = raw
	key := filesKey(p.res)
	var notes []string
	seen := map[string]string{}
	var total, inComposite int64
	subsLeft := sfMaxSubrequests - len(p.writes) - 1 // the Task comes last
	inlineSkipped := 0
	uploader := s.fileUploader()
	for _, a := range atts {
		f := FileResult{Filename: a.Filename, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256, Part: a.Part, Inline: a.Inline}
		if f.Filename == "" {
			f.Filename = "attachment-" + a.Part + extFor(a.ContentType)
		}
		decided := func(status, reason string) {
			f.Status, f.Reason = status, reason
			p.res.Files = append(p.res.Files, f)
		}
		if a.Inline && !cfg.IncludeInline {
			inlineSkipped++
			decided(FileSkipped, "inline part (cases.attachments.include_inline is off)")
			continue
		}
		if first, dup := seen[a.SHA256]; dup {
			decided(FileDuplicate, fmt.Sprintf("same content as %q in this email", first))
			continue
		}
		seen[a.SHA256] = f.Filename
		if a.Size > int64(cfg.MaxFileSize) {
			decided(FileOversized, fmt.Sprintf("%s is over the %s limit (cases.attachments.max_file_size)", humanSize(a.Size), humanSize(int64(cfg.MaxFileSize))))
			continue
		}
		if raw == nil {
			decided(FileSkipped, "the message's raw bytes are not kept")
			continue
		}
		sniffed, sum, err := sniffAndHash(raw, a.Part)
		if err != nil {
			decided(FileSkipped, "the part could not be read again: "+err.Error())
			continue
		}
		f.Sniffed, f.MD5 = sniffed, sum
		// The name as the sender gave it: a generated one says nothing.
		if why := cfg.blockedReason(a.Filename, a.ContentType, sniffed); why != "" {
			decided(FileBlocked, why)
			continue
		}
		if total+a.Size > int64(cfg.MaxTotalPerEmail) {
			decided(FileOversized, fmt.Sprintf("the email's files are over the %s total (cases.attachments.max_total_per_email)", humanSize(int64(cfg.MaxTotalPerEmail))))
			continue
		}
		if key != "" {
			row, ok, err := s.st.Attachment(ctx, key, a.SHA256)
			if err != nil {
				return nil, err
			}
			if ok && row.State == store.AttachmentCommitted {
				f.ContentVersionID, f.ContentDocumentID = row.ContentVersionID, row.ContentDocumentID
				decided(FileDuplicate, "already on the case (uploaded with an earlier email)")
				continue
			}
			if ok && row.MessageID != m.ID && row.State != store.AttachmentFailed {
				decided(FileDuplicate, fmt.Sprintf("being uploaded with message %d of this thread", row.MessageID))
				continue
			}
		}
		if cfg.Clamd != "" {
			sig, err := s.scan(ctx, raw, a)
			if err != nil {
				return nil, err
			}
			if sig != "" {
				f.Scan = "infected: " + sig
				p.res.Malware = true
				decided(FileInfected, "malware found: "+sig)
				continue
			}
			f.Scan = "clean"
		}
		total += a.Size
		switch {
		case a.Size <= int64(cfg.CompositeMax)-inComposite && subsLeft > 0:
			inComposite += a.Size
			subsLeft--
			f.Mode = modeComposite
			p.files = append(p.files, plannedFile{idx: len(p.res.Files), ref: fmt.Sprintf("file%d", len(p.files))})
		case uploader != nil:
			f.Mode = modeMultipart
			p.files = append(p.files, plannedFile{idx: len(p.res.Files)})
		default:
			decided(FileSkipped, "too large for the email's composite request and no multipart uploader is configured")
			continue
		}
		decided(FilePending, "")
	}
	var up []string
	for _, f := range p.res.Files {
		switch f.Status {
		case FilePending:
			up = append(up, fmt.Sprintf("%s (%s)", f.Filename, humanSize(f.Size)))
		case FileDuplicate:
			notes = append(notes, fmt.Sprintf("Attachment %q: not uploaded again, %s.", f.Filename, f.Reason))
		case FileBlocked, FileOversized, FileSkipped:
			if !(f.Inline && f.Status == FileSkipped && !cfg.IncludeInline) {
				notes = append(notes, fmt.Sprintf("Attachment %q (%s) not uploaded: %s.", f.Filename, humanSize(f.Size), f.Reason))
			}
		case FileInfected:
			notes = append(notes, fmt.Sprintf("Warning: malware in attachment %q (%s): not uploaded; treat this email with care.", f.Filename, strings.TrimPrefix(f.Scan, "infected: ")))
		}
	}
	if len(up) > 0 {
		notes = append([]string{"Files attached to the email: " + strings.Join(up, ", ") + "."}, notes...)
	}
	if inlineSkipped > 0 {
		notes = append(notes, fmt.Sprintf("%d inline image(s) not uploaded (cases.attachments.include_inline is off).", inlineSkipped))
	}
	return notes, nil
}

// scan asks clamd once per content (results are cached by SHA-256).
func (s *Stage) scan(ctx context.Context, raw []byte, a ingest.Attachment) (string, error) {
	if v, ok := s.scans.Load(a.SHA256); ok {
		return v.(string), nil
	}
	r, err := ingest.AttachmentReader(raw, a.Part)
	if err != nil {
		return "", err
	}
	sig, err := clamdScan(ctx, s.cfg.Attachments.Clamd, s.cfg.Attachments.ClamdTimeout, r)
	if err != nil {
		return "", err
	}
	s.scans.Store(a.SHA256, sig)
	return sig, nil
}

// sniffAndHash reads the part once: its detected type and its MD5.
func sniffAndHash(raw []byte, part string) (string, string, error) {
	r, err := ingest.AttachmentReader(raw, part)
	if err != nil {
		return "", "", err
	}
	h := md5.New()
	head := make([]byte, 512)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", "", err
	}
	head = head[:n]
	h.Write(head)
	if _, err := io.Copy(h, r); err != nil {
		return "", "", err
	}
	return sniffType(head), hex.EncodeToString(h.Sum(nil)), nil
}

// sniffType adds executables (which http.DetectContentType calls
// application/octet-stream) and scripts with a #! line to the standard sniffer.
func sniffType(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("MZ")):
		return "application/x-msdownload"
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return "application/x-executable"
	case bytes.HasPrefix(head, []byte{0xfe, 0xed, 0xfa, 0xce}), bytes.HasPrefix(head, []byte{0xfe, 0xed, 0xfa, 0xcf}),
		bytes.HasPrefix(head, []byte{0xce, 0xfa, 0xed, 0xfe}), bytes.HasPrefix(head, []byte{0xcf, 0xfa, 0xed, 0xfe}):
		return "application/x-mach-binary"
	case bytes.HasPrefix(head, []byte("#!")):
		return "text/x-shellscript"
	}
	ct := http.DetectContentType(head)
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	return ct
}

func extFor(ct string) string {
	switch ct {
	case "message/rfc822", "message/global":
		return ".eml"
	}
	if exts, _ := mime.ExtensionsByType(ct); len(exts) > 0 {
		return exts[0]
	}
	return ".bin"
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// fileFields are a ContentVersion's fields; Description carries the content
// hash (for people and for support; recovery uses Checksum).
func (s *Stage) fileFields(f FileResult, emailRef string) map[string]any {
	return map[string]any{
		"Title":                  truncate(f.Filename, 255),
		"PathOnClient":           truncate(f.Filename, 500),
		"FirstPublishLocationId": emailRef,
		"Description":            "triage: attachment of an email, sha256 " + f.SHA256,
	}
}

// claimFiles records the plan's uploads in the ledger before the composite
// goes out; a file another message of the thread claimed meanwhile is
// dropped from this one's uploads.
func (s *Stage) claimFiles(ctx context.Context, m store.Message, p *plan) error {
	key := filesKey(p.res)
	kept := p.files[:0]
	for _, pf := range p.files {
		f := &p.res.Files[pf.idx]
		state := store.AttachmentPending
		if f.Mode == modeComposite {
			state = store.AttachmentSending
		}
		got, claimed, err := s.st.ClaimAttachment(ctx, store.AttachmentRow{ThreadKey: key, SHA256: f.SHA256, MessageID: m.ID, Part: f.Part,
			Filename: f.Filename, Size: f.Size, MD5: f.MD5, Mode: f.Mode, State: state})
		if err != nil {
			return err
		}
		if !claimed || got.State == store.AttachmentCommitted {
			f.Status, f.Reason, f.Mode = FileDuplicate, fmt.Sprintf("uploaded with message %d of this thread", got.MessageID), ""
			continue
		}
		kept = append(kept, pf)
	}
	p.files = kept
	return nil
}

// addFiles puts the composite-borne files into the email's request.
func (s *Stage) addFiles(req *salesforce.CompositeRequest, p *plan) error {
	for _, pf := range p.files {
		f := p.res.Files[pf.idx]
		if f.Mode != modeComposite {
			continue
		}
		b, err := ingest.AttachmentBytes(p.raw, f.Part)
		if err != nil {
			return err
		}
		fields := s.fileFields(f, salesforce.Ref("email").ID())
		fields["VersionData"] = base64.StdEncoding.EncodeToString(b)
		req.Create(pf.ref, "ContentVersion", fields)
	}
	p.filesSent = true
	return nil
}

// failFiles releases the claims of a composite Salesforce refused.
func (s *Stage) failFiles(ctx context.Context, m store.Message, p *plan) {
	key := filesKey(p.res)
	for _, pf := range p.files {
		f := p.res.Files[pf.idx]
		if err := s.st.SetAttachmentState(ctx, key, f.SHA256, m.ID, store.AttachmentFailed, "", "", "the email's request was refused"); err != nil {
			s.log.Warn("attachment ledger", "msg", m.ID, "err", err)
		}
	}
}

// afterFiles runs once the email's composite is committed (or found
// committed): it records the composite-borne files and uploads the rest.
func (s *Stage) afterFiles(ctx context.Context, m store.Message, p *plan, r *Result, ids map[string]string) error {
	if len(r.Files) == 0 {
		return nil
	}
	key := filesKey(*r)
	for _, pf := range p.files {
		f := &r.Files[pf.idx]
		if f.Mode != modeComposite || f.Status != FilePending {
			continue
		}
		if !p.filesSent && ids != nil {
			f.Status, f.Reason = FileSkipped, "not sent with this request (backfill)"
			if err := s.st.SetAttachmentState(ctx, key, f.SHA256, m.ID, store.AttachmentFailed, "", "", f.Reason); err != nil {
				return err
			}
			continue
		}
		f.Status, f.ContentVersionID = FileUploaded, ids[pf.ref]
		if err := s.st.SetAttachmentState(ctx, key, f.SHA256, m.ID, store.AttachmentCommitted, f.ContentVersionID, "", ""); err != nil {
			return err
		}
	}
	err := s.uploadPending(ctx, m, r, p.raw)
	if cerr := s.commitLedger(ctx, m, *r, store.CasesCommitted); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func hasPendingUploads(r Result) bool {
	for _, f := range r.Files {
		if f.Mode == modeMultipart && f.Status == FilePending {
			return true
		}
	}
	return false
}

// uploadPending sends the multipart uploads still pending for the message.
// raw is the message's bytes when the caller has them (nil: read from the store).
func (s *Stage) uploadPending(ctx context.Context, m store.Message, r *Result, raw []byte) error {
	if !hasPendingUploads(*r) {
		return nil
	}
	up := s.fileUploader()
	key := filesKey(*r)
	for i := range r.Files {
		f := &r.Files[i]
		if f.Mode != modeMultipart || f.Status != FilePending {
			continue
		}
		if up == nil || r.EmailMessageID == "" {
			f.Status, f.Reason = FileSkipped, "no multipart uploader is configured"
			continue
		}
		row, ok, err := s.st.Attachment(ctx, key, f.SHA256)
		if err != nil {
			return err
		}
		switch {
		case ok && row.State == store.AttachmentCommitted:
			f.Status, f.ContentVersionID, f.ContentDocumentID = FileUploaded, row.ContentVersionID, row.ContentDocumentID
			continue
		case ok && row.MessageID != m.ID && row.State != store.AttachmentFailed:
			f.Status, f.Reason = FileDuplicate, fmt.Sprintf("uploaded with message %d of this thread", row.MessageID)
			continue
		case ok && row.State == store.AttachmentSending && row.MessageID == m.ID:
			// The last attempt's outcome is unknown: ask before sending again.
			q, err := salesforce.BuildSOQL("SELECT Id, ContentDocumentId FROM ContentVersion WHERE FirstPublishLocationId = ? AND Checksum = ?", r.EmailMessageID, f.MD5)
			if err != nil {
				return permanentError{err}
			}
			var rows []struct {
				ID    string `json:"Id"`
				DocID string `json:"ContentDocumentId"`
			}
			r.APICalls++
			if err := s.sf.Query(ctx, q, &rows); err != nil {
				return fmt.Errorf("cases: look for an earlier upload of %q: %w", f.Filename, err)
			}
			if len(rows) > 0 {
				f.Status, f.ContentVersionID, f.ContentDocumentID = FileUploaded, rows[0].ID, rows[0].DocID
				if err := s.st.SetAttachmentState(ctx, key, f.SHA256, m.ID, store.AttachmentCommitted, rows[0].ID, rows[0].DocID, ""); err != nil {
					return err
				}
				continue
			}
		}
		if _, claimed, err := s.st.ClaimAttachment(ctx, store.AttachmentRow{ThreadKey: key, SHA256: f.SHA256, MessageID: m.ID, Part: f.Part,
			Filename: f.Filename, Size: f.Size, MD5: f.MD5, Mode: f.Mode, State: store.AttachmentSending}); err != nil {
			return err
		} else if !claimed {
			f.Status, f.Reason = FileDuplicate, "uploaded with another message of this thread"
			continue
		}
		if raw == nil {
			if raw, err = s.st.Raw(ctx, m.SHA256); err != nil {
				return err
			}
		}
		data, err := ingest.AttachmentReader(raw, f.Part)
		if err != nil {
			return permanentError{err}
		}
		r.APICalls++
		id, err := up.UploadContentVersion(ctx, s.fileFields(*f, r.EmailMessageID), f.Filename, data)
		if err != nil {
			if isPermanent(err) {
				f.Status, f.Reason = FileRefused, truncate(err.Error(), 500)
				s.log.Warn("Salesforce refused an attachment", "msg", m.ID, "file", f.Filename, "err", err)
				if serr := s.st.SetAttachmentState(ctx, key, f.SHA256, m.ID, store.AttachmentFailed, "", "", f.Reason); serr != nil {
					return serr
				}
				continue
			}
			return fmt.Errorf("cases: upload %q: %w", f.Filename, err)
		}
		f.Status, f.ContentVersionID = FileUploaded, id
		if err := s.st.SetAttachmentState(ctx, key, f.SHA256, m.ID, store.AttachmentCommitted, id, "", ""); err != nil {
			return err
		}
	}
	return nil
}

func isPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// recoverFiles: the email's composite was found committed, so were the files in it.
func (s *Stage) recoverFiles(ctx context.Context, m store.Message, r *Result) error {
	key := filesKey(*r)
	rows, err := s.st.AttachmentsByMessage(ctx, m.ID)
	if err != nil {
		return err
	}
	for i := range r.Files {
		f := &r.Files[i]
		if f.Mode != modeComposite || f.Status != FilePending {
			continue
		}
		for _, row := range rows {
			if row.ThreadKey == key && row.SHA256 == f.SHA256 && row.State == store.AttachmentSending {
				f.Status = FileUploaded
				if err := s.st.SetAttachmentState(ctx, key, f.SHA256, m.ID, store.AttachmentCommitted, "", "", ""); err != nil {
					return err
				}
			}
		}
	}
	return s.uploadPending(ctx, m, r, nil)
}
