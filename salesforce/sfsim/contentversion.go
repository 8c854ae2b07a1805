package sfsim

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strings"
)

// Salesforce Files: ContentVersion (one version of a file, with the blob),
// ContentDocument (the file; created with its first version) and
// ContentDocumentLink (where the file is shared). The emulator keeps only the
// blob's size and MD5 (ContentSize, Checksum), never its bytes, so uploads of
// any size cost it no memory.

// Upload limits (REST API, "Insert or Update Blob Data"): a non-multipart
// (JSON, base64) insert is limited to 37.5 MB of file data; a multipart
// insert of a ContentVersion to 2 GB.
const (
	MaxJSONBlob      = 37_500_000
	MaxMultipartBlob = 2 << 30
)

// blobInfo is what the emulator keeps of an uploaded file.
type blobInfo struct {
	size int64
	md5  string
}

func contentObjects() []*sobject {
	version := &sobject{Name: "ContentVersion", Label: "Content Version", LabelPlural: "Content Versions", KeyPrefix: "068", Searchable: true, Fields: []*field{
		idField("Content Version"),
		str("Title", "Title", 255),
		requiredF(createOnly(str("PathOnClient", "Path On Client", 500))),
		typed(tTextarea, "Description", "Description", 1000),
		str("ReasonForChange", "Reason For Change", 1000),
		createOnly(ref("FirstPublishLocationId", "First Publish Location ID", "FirstPublishLocation", "Case", "EmailMessage", "Account", "Contact", "User")),
		readOnly(ref("ContentDocumentId", "Content Document ID", "ContentDocument", "ContentDocument")),
		readOnly(&field{Name: "ContentSize", Label: "Size", Type: tInt, Precision: 10, Nillable: true}),
		readOnly(str("Checksum", "Checksum", 50)),
		readOnly(str("FileExtension", "File Extension", 40)),
		readOnly(str("FileType", "File Type", 20)),
		readOnly(str("VersionNumber", "Version Number", 20)),
		readOnly(&field{Name: "IsLatest", Label: "Is Latest", Type: tBoolean, Defaulted: true}),
		createOnly(pick("ContentLocation", "Content Location", true, "S", "S", "E", "L")),
		ownerField(),
	}}
	document := &sobject{Name: "ContentDocument", Label: "Content Document", LabelPlural: "Content Documents", KeyPrefix: "069", Searchable: true, Fields: []*field{
		idField("Content Document"),
		str("Title", "Title", 255),
		readOnly(ref("LatestPublishedVersionId", "Latest Published Version ID", "LatestPublishedVersion", "ContentVersion")),
		readOnly(&field{Name: "ContentSize", Label: "Size", Type: tInt, Precision: 10, Nillable: true}),
		readOnly(str("FileExtension", "File Extension", 40)),
		readOnly(str("FileType", "File Type", 20)),
		ownerField(),
	}}
	link := &sobject{Name: "ContentDocumentLink", Label: "Content Document Link", LabelPlural: "Content Document Links", KeyPrefix: "06A", Fields: []*field{
		idField("Content Document Link"),
		requiredF(createOnly(ref("ContentDocumentId", "Content Document ID", "ContentDocument", "ContentDocument"))),
		requiredF(createOnly(ref("LinkedEntityId", "Linked Entity ID", "", "Case", "EmailMessage", "Account", "Contact", "User"))),
		pick("ShareType", "Share Type", true, "V", "V", "C", "I"),
		pick("Visibility", "Visibility", true, "AllUsers", "AllUsers", "InternalUsers", "SharedUsers"),
	}}
	return []*sobject{version, document, link}
}

// postContentVersion inserts a ContentVersion: from JSON with VersionData in
// base64, or (blob set) from a multipart upload whose entity_content part is
// in req.body.
func (s *Server) postContentVersion(t *txn, req *request, o *sobject) response {
	in, aerr := s.decodeBody(req)
	if aerr != nil {
		return errResp(aerr)
	}
	blob := req.blob
	if v, ok := in["VersionData"]; ok {
		delete(in, "VersionData")
		if blob != nil {
			return errResp(recordErr("INVALID_FIELD", "VersionData is both in the entity part and in the binary part", "VersionData"))
		}
		str, _ := v.(string)
		dec := base64.NewDecoder(base64.StdEncoding, strings.NewReader(str))
		h := md5.New()
		n, err := io.Copy(h, dec)
		if err != nil || str == "" && v != "" {
			return errResp(recordErr("INVALID_FIELD", "VersionData: value is not valid base64", "VersionData"))
		}
		if n > MaxJSONBlob {
			return errResp(plainErr(http.StatusRequestEntityTooLarge, "JSON_PARSER_ERROR",
				fmt.Sprintf("VersionData exceeds the %d-byte limit of a non-multipart insert; use a multipart request", MaxJSONBlob)))
		}
		blob = &blobInfo{size: n, md5: hex.EncodeToString(h.Sum(nil))}
	}
	if blob == nil {
		return errResp(recordErr("REQUIRED_FIELD_MISSING", "Required fields are missing: [VersionData]", "VersionData"))
	}
	if _, ok := in["Title"]; !ok {
		if p, _ := in["PathOnClient"].(string); p != "" {
			in["Title"] = strings.TrimSuffix(path.Base(p), path.Ext(p))
		}
	}
	id, errs := t.create(o, in)
	if errs != nil {
		return errResp(errs...)
	}
	t.finishContentVersion(id, blob)
	return response{status: 201, body: saveResult(id), header: map[string]string{"Location": recordURL(req.version, o.Name, id)}}
}

// finishContentVersion fills the computed fields, creates the
// ContentDocument and shares it with the first publish location (and, for an
// email, its case: the file shows on the case as Email-to-Case's do).
func (t *txn) finishContentVersion(id string, b *blobInfo) {
	v := t.d.Records["ContentVersion"][id].clone()
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(v.str("PathOnClient")), "."))
	ftype := strings.ToUpper(ext)
	if ftype == "" {
		ftype = "UNKNOWN"
	}
	docID := t.newID("069")
	stamp := formatDatetime(t.now)
	doc := record{"Id": docID, "Title": v["Title"], "LatestPublishedVersionId": id, "ContentSize": float64(b.size),
		"FileExtension": ext, "FileType": ftype, "OwnerId": t.userID, "IsDeleted": false,
		"CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp, "CreatedById": t.userID, "LastModifiedById": t.userID}
	t.put("ContentDocument", doc)
	v["ContentDocumentId"], v["ContentSize"], v["Checksum"] = docID, float64(b.size), b.md5
	v["FileExtension"], v["FileType"], v["VersionNumber"], v["IsLatest"] = ext, ftype, "1", true
	t.put("ContentVersion", v)
	t.linkDocument(docID, t.userID, "I")
	if loc := v.str("FirstPublishLocationId"); loc != "" && !strings.HasPrefix(loc, "005") {
		t.linkDocument(docID, loc, "V")
		if em := t.d.Records["EmailMessage"][loc]; em != nil {
			e := em.clone()
			e["HasAttachment"] = true
			t.put("EmailMessage", e)
			if c := em.str("ParentId"); c != "" {
				t.linkDocument(docID, c, "V")
			}
		}
	}
}

func (t *txn) linkDocument(docID, entity, share string) {
	stamp := formatDatetime(t.now)
	id := t.newID("06A")
	t.put("ContentDocumentLink", record{"Id": id, "ContentDocumentId": docID, "LinkedEntityId": entity, "ShareType": share,
		"Visibility": "AllUsers", "IsDeleted": false, "CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp,
		"CreatedById": t.userID, "LastModifiedById": t.userID})
}

// isMultipartUpload reports a multipart/form-data request body.
func isMultipartUpload(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

var errUpload = errors.New("sfsim: multipart upload")

// readUpload streams a multipart insert: the JSON entity part (entity_content,
// or any part before the binary one named entity_*) is kept, the binary part
// (VersionData) is only hashed and counted.
func readUpload(r *http.Request) ([]byte, *blobInfo, *apiError) {
	_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if params["boundary"] == "" {
		return nil, nil, plainErr(400, "INVALID_MULTIPART_REQUEST", "multipart request without a boundary")
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var entity []byte
	var blob *blobInfo
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, plainErr(400, "INVALID_MULTIPART_REQUEST", fmt.Sprintf("%v: %v", errUpload, err))
		}
		name := p.FormName()
		switch {
		case strings.HasPrefix(name, "entity_"):
			entity, err = io.ReadAll(io.LimitReader(p, 1<<20))
			if err != nil {
				return nil, nil, plainErr(400, "INVALID_MULTIPART_REQUEST", "could not read the entity part")
			}
		case name == "VersionData":
			h := md5.New()
			n, err := io.Copy(h, io.LimitReader(p, MaxMultipartBlob+1))
			if err != nil {
				return nil, nil, plainErr(400, "INVALID_MULTIPART_REQUEST", "could not read the binary part")
			}
			if n > MaxMultipartBlob {
				return nil, nil, plainErr(http.StatusRequestEntityTooLarge, "MAXIMUM_SIZE_OF_ATTACHMENT", "the file exceeds the 2 GB upload limit")
			}
			blob = &blobInfo{size: n, md5: hex.EncodeToString(h.Sum(nil))}
		default:
			return nil, nil, plainErr(400, "INVALID_MULTIPART_REQUEST", fmt.Sprintf("unexpected part %q", name))
		}
	}
	if entity == nil {
		return nil, nil, plainErr(400, "INVALID_MULTIPART_REQUEST", "the multipart request has no entity_content part")
	}
	if blob == nil {
		return nil, nil, plainErr(400, "INVALID_MULTIPART_REQUEST", "the multipart request has no VersionData part")
	}
	return entity, blob, nil
}

// linkFilterOK: Salesforce refuses a ContentDocumentLink query that does not
// filter on ContentDocumentId or LinkedEntityId (= or IN) at the top level
// (an AND may add other conditions).
func linkFilterOK(e expr) bool {
	switch x := e.(type) {
	case *condExpr:
		if len(x.field) != 1 || (x.op != "=" && x.op != "IN") {
			return false
		}
		n := strings.ToLower(x.field[0])
		return n == "contentdocumentid" || n == "linkedentityid"
	case *andExpr:
		for _, it := range x.items {
			if linkFilterOK(it) {
				return true
			}
		}
	}
	return false
}

func linkFilterErr() *apiError {
	return plainErr(400, "MALFORMED_QUERY", "Implementation restriction: ContentDocumentLink requires a filter by a single Id on ContentDocumentId or LinkedEntityId using the equals operator or multiple Id's using the IN operator.")
}
