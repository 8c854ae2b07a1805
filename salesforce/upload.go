package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
)

// UploadContentVersion inserts one ContentVersion with the REST API's
// multipart "Insert or Update Blob Data" request: POST
// /services/data/vXX.X/sobjects/ContentVersion whose body has a JSON part
// named entity_content (fields, e.g. Title, PathOnClient,
// FirstPublishLocationId) and a binary part named VersionData carrying the
// file. Salesforce takes up to 2 GB this way, against 37.5 MB for a JSON
// (base64) insert.
//
// The body is written through a pipe while it is sent: the file is read from
// data once and never held whole in memory. Auth, governor, timeout, limit
// tracking and error decoding are those of every other call. Because a
// streamed body cannot be sent twice, a 401 refreshes the session and
// returns a Temporary error so the caller retries with a fresh reader —
// unless data is an io.Seeker (an *os.File), which is rewound and sent once
// more as other calls are.
//
// It returns the new ContentVersion's Id. cases detects this method (its
// FileUploader interface) on the client.
func (c *Client) UploadContentVersion(ctx context.Context, fields map[string]any, filename string, data io.Reader) (string, error) {
	path := c.dataPath("sobjects/ContentVersion")
	op := http.MethodPost + " " + path
	if data == nil {
		return "", &RequestError{Op: op, Reason: "no file data"}
	}
	if _, ok := fields["VersionData"]; ok {
		return "", &RequestError{Op: op, Reason: "VersionData belongs in the binary part, not in fields"}
	}
	entity, err := json.Marshal(fields)
	if err != nil {
		return "", &RequestError{Op: op, Reason: "fields do not marshal to JSON: " + err.Error()}
	}
	if err := c.budget.admit(isCritical(ctx)); err != nil {
		c.log.Debug("salesforce call refused by governor", "method", http.MethodPost, "path", path, "err", err)
		return "", err
	}
	ctx, cancel := c.withTimeout(ctx, 0)
	defer cancel()
	sess, err := c.session(ctx)
	if err != nil {
		return "", err
	}
	seeker, _ := data.(io.Seeker)
	var start int64
	if seeker != nil {
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			seeker = nil
		}
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.sendMultipart(ctx, sess, path, entity, filename, data)
		if err != nil {
			return "", err
		}
		if resp.status == http.StatusUnauthorized && attempt == 0 {
			c.log.Info("salesforce session rejected; refreshing token", "method", http.MethodPost, "path", path)
			if sess, err = c.refresh(ctx, sess, false); err != nil {
				return "", err
			}
			if seeker != nil {
				if _, err := seeker.Seek(start, io.SeekStart); err == nil {
					continue
				}
			}
			// The file was consumed: the APIError (kind auth) is
			// Temporary, so the caller retries with a new reader on
			// the refreshed session.
			return "", decodeAPIError(http.MethodPost, path, resp.status, resp.header, resp.body)
		}
		if resp.status < 200 || resp.status > 299 {
			return "", decodeAPIError(http.MethodPost, path, resp.status, resp.header, resp.body)
		}
		var sr SaveResult
		if err := decodeJSON(request{method: http.MethodPost, path: path}, resp.body, &sr); err != nil {
			return "", err
		}
		if sr.ID == "" {
			return "", &RequestError{Op: "answer to " + op, Reason: "no id in the answer"}
		}
		return sr.ID, nil
	}
}

// sendMultipart makes one streamed request. The multipart writer runs in a
// goroutine feeding the pipe the transport reads from; it ends when the body
// is fully written or the transport stops reading (pr closed).
func (c *Client) sendMultipart(ctx context.Context, sess *session, path string, entity []byte, filename string, data io.Reader) (*response, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(writeUploadBody(mw, entity, filename, data))
	}()
	// The transport may return before it has read the whole body (an
	// early error answer); closing the reader unblocks the writer, and
	// waiting for it means data is no longer read once we return.
	defer func() {
		pr.Close()
		<-done
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sess.instanceURL+path, pr)
	if err != nil {
		return nil, &RequestError{Op: http.MethodPost + " " + path, Reason: err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+sess.accessToken)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "triage-salesforce/1")
	req.Header.Set("Content-Type", mw.FormDataContentType())
	start := c.now()
	c.budget.countCall()
	resp, err := c.http.Do(req)
	if err != nil {
		c.metrics.requests.WithLabelValues("error").Inc()
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("salesforce: POST %s: %w", path, ctx.Err())
		}
		return nil, &TransportError{Method: http.MethodPost, Path: path, Err: stripURL(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	c.metrics.duration.Observe(c.now().Sub(start).Seconds())
	c.metrics.requests.WithLabelValues(statusClass(resp.StatusCode)).Inc()
	if used, max, ok := parseLimitInfo(resp.Header.Get("Sforce-Limit-Info")); ok {
		c.budget.observe(used, max)
	}
	if err != nil {
		return nil, &TransportError{Method: http.MethodPost, Path: path, Err: err}
	}
	c.log.Debug("salesforce call", "method", http.MethodPost, "path", path, "status", resp.StatusCode, "duration", c.now().Sub(start))
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// writeUploadBody writes the two parts Salesforce expects, in order: the
// JSON entity first, then the file.
func writeUploadBody(mw *multipart.Writer, entity []byte, filename string, data io.Reader) error {
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
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="VersionData"; filename="%s"`, quoteFilename(filename)))
	h.Set("Content-Type", "application/octet-stream")
	if p, err = mw.CreatePart(h); err != nil {
		return err
	}
	if _, err := io.Copy(p, data); err != nil {
		return fmt.Errorf("read file data: %w", err)
	}
	return mw.Close()
}

// quoteFilename makes a customer-supplied name safe inside the quoted
// filename parameter: no quote, backslash or line break can end the header
// early or inject another one.
func quoteFilename(name string) string {
	name = strings.ToValidUTF8(name, "_")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"' || r == '\\':
			return '_'
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, name)
}
