package cases

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// FileUploader inserts one ContentVersion with a multipart/form-data request
// whose binary part is streamed from data (Salesforce accepts up to 2 GB
// this way; the file is never held in memory nor base64-encoded).
type FileUploader interface {
	UploadContentVersion(ctx context.Context, fields map[string]any, filename string, data io.Reader) (id string, err error)
}

// WithUploader sets how files too large for the email's composite are
// uploaded. Without one (and when the Salesforce client has no
// UploadContentVersion method) such files are listed on the Task, not uploaded.
func WithUploader(u FileUploader) Option { return func(s *Stage) { s.uploader = u } }

// HTTPDoer is an *http.Client.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// HTTPUploader is a FileUploader over plain HTTP: POST
// /services/data/vXX.X/sobjects/ContentVersion with an entity_content JSON
// part and a VersionData binary part (Salesforce's "Insert or Update Blob
// Data"). The body is written through a pipe as it is sent.
type HTTPUploader struct {
	Doer        HTTPDoer
	InstanceURL string                                    // https://example.my.salesforce.com
	APIVersion  string                                    // "62.0"
	Token       func(ctx context.Context) (string, error) // the session's access token
}

// uploadError is a refused or failed upload, classified by status.
type uploadError struct {
	Status  int
	Code    string
	Message string
}

func (e *uploadError) Error() string {
	return fmt.Sprintf("cases: ContentVersion upload: HTTP %d %s: %s", e.Status, e.Code, e.Message)
}
func (e *uploadError) Permanent() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != 429 && e.Status != 401
}
func (e *uploadError) Temporary() bool { return !e.Permanent() }
func (e *uploadError) RetryAfter() time.Duration {
	if e.Status == 429 || e.Status == 503 {
		return time.Minute
	}
	return 0
}

// UploadContentVersion implements FileUploader.
func (u *HTTPUploader) UploadContentVersion(ctx context.Context, fields map[string]any, filename string, data io.Reader) (string, error) {
	tok, err := u.Token(ctx)
	if err != nil {
		return "", err
	}
	entity, err := json.Marshal(fields)
	if err != nil {
		return "", err
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="entity_content"`)
			h.Set("Content-Type", "application/json")
			p, err := mw.CreatePart(h)
			if err != nil {
				return err
			}
			if _, err := p.Write(entity); err != nil {
				return err
			}
			h = textproto.MIMEHeader{}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="VersionData"; filename=%q`, strings.ToValidUTF8(filename, "_")))
			h.Set("Content-Type", "application/octet-stream")
			if p, err = mw.CreatePart(h); err != nil {
				return err
			}
			if _, err := io.Copy(p, data); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	url := strings.TrimRight(u.InstanceURL, "/") + "/services/data/v" + u.APIVersion + "/sobjects/ContentVersion/"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, pr)
	if err != nil {
		pr.CloseWithError(err)
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	resp, err := u.Doer.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		return "", fmt.Errorf("cases: ContentVersion upload: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		ue := &uploadError{Status: resp.StatusCode, Message: strings.TrimSpace(string(body))}
		var items []struct {
			ErrorCode string `json:"errorCode"`
			Message   string `json:"message"`
		}
		if json.Unmarshal(body, &items) == nil && len(items) > 0 {
			ue.Code, ue.Message = items[0].ErrorCode, items[0].Message
		}
		return "", ue
	}
	var sr struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &sr); err != nil || sr.ID == "" {
		return "", &uploadError{Status: resp.StatusCode, Code: "BAD_ANSWER", Message: "no id in the answer"}
	}
	return sr.ID, nil
}
