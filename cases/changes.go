package cases

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

var sfID = regexp.MustCompile(`^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$`)

// CaseChange is a case's state as Salesforce reported it after a change
// (by a human, a flow, or the app itself).
type CaseChange struct {
	CaseID     string    `json:"case_id"`
	ThreadKey  string    `json:"thread_key,omitempty"`
	Status     string    `json:"status"`
	PrevStatus string    `json:"prev_status,omitempty"`
	IsClosed   bool      `json:"is_closed"`
	OwnerID    string    `json:"owner_id,omitempty"`
	ModStamp   time.Time `json:"modstamp"`
	Source     string    `json:"source"` // poll or webhook
}

const pollWatermark = "changes_modstamp"

// PollChanges asks Salesforce for the app's cases (those carrying the
// external-ID key) modified since the last poll, by SystemModstamp, records
// their status and owner, and reports the ones whose status or owner changed.
// One query per call (more pages only after a large outage).
func (s *Stage) PollChanges(ctx context.Context) ([]CaseChange, error) {
	if s.sf == nil {
		return nil, nil
	}
	wm, err := s.st.CasesSyncValue(ctx, pollWatermark)
	if err != nil {
		return nil, err
	}
	since := time.Unix(0, 0).UTC()
	if wm != "" {
		if t, err := time.Parse(time.RFC3339Nano, wm); err == nil {
			since = t
		}
	}
	ext := salesforce.Ident(s.cfg.FieldMap.ExternalID)
	q, err := salesforce.BuildSOQL("SELECT Id, Status, IsClosed, OwnerId, SystemModstamp, ? FROM Case WHERE ? != null AND SystemModstamp > ? ORDER BY SystemModstamp LIMIT 2000",
		ext, ext, since)
	if err != nil {
		return nil, permanentError{err}
	}
	var rows []map[string]any
	if err := s.sf.Query(ctx, q, &rows); err != nil {
		return nil, fmt.Errorf("cases: poll changes: %w", err)
	}
	var out []CaseChange
	newest := since
	for _, r := range rows {
		c := CaseChange{Source: "poll"}
		c.CaseID, _ = r["Id"].(string)
		c.Status, _ = r["Status"].(string)
		c.IsClosed, _ = r["IsClosed"].(bool)
		c.OwnerID, _ = r["OwnerId"].(string)
		c.ThreadKey, _ = r[s.cfg.FieldMap.ExternalID].(string)
		if ms, _ := r["SystemModstamp"].(string); ms != "" {
			c.ModStamp, _ = parseSFTime(ms)
		}
		if c.ModStamp.After(newest) {
			newest = c.ModStamp
		}
		if changed, err := s.applyChange(ctx, &c); err != nil {
			return out, err
		} else if changed {
			out = append(out, c)
		}
	}
	if newest.After(since) {
		// Salesforce timestamps have millisecond precision; ">" on the newest
		// seen would miss a case modified later in the same millisecond only
		// if it were committed after our query, which the next poll's
		// overlap of one millisecond covers.
		if err := s.st.CasesSetSyncValue(ctx, nil, pollWatermark, newest.Add(-time.Millisecond).Format(time.RFC3339Nano)); err != nil {
			return out, err
		}
	}
	return out, nil
}

// RunChanges polls every changes.poll_interval until ctx ends.
func (s *Stage) RunChanges(ctx context.Context) error {
	if s.sf == nil || s.cfg.Changes.PollInterval <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(s.cfg.Changes.PollInterval)
	defer t.Stop()
	for {
		if _, err := s.PollChanges(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("poll case changes", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// applyChange records c and reports whether status or owner differ from what
// the app knew.
func (s *Stage) applyChange(ctx context.Context, c *CaseChange) (bool, error) {
	if c.CaseID == "" {
		return false, nil
	}
	prev, known, err := s.st.CasesTouchedCase(ctx, c.CaseID)
	if err != nil {
		return false, err
	}
	if known {
		c.PrevStatus = prev.Status
		if c.ThreadKey == "" {
			c.ThreadKey = prev.ThreadKey
		}
	}
	changed := !known || prev.Status != c.Status || prev.IsClosed != c.IsClosed || (c.OwnerID != "" && prev.OwnerID != c.OwnerID)
	if err := s.st.CasesTouch(ctx, nil, store.CasesTouched{CaseID: c.CaseID, ThreadKey: c.ThreadKey, Status: c.Status,
		IsClosed: c.IsClosed, OwnerID: c.OwnerID, ModStamp: c.ModStamp, Source: c.Source}); err != nil {
		return false, err
	}
	if changed && s.onChange != nil {
		s.onChange(ctx, *c)
	}
	return changed, nil
}

func parseSFTime(v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05.000Z0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("cases: bad Salesforce datetime %q", v)
}

// WebhookHandler accepts case changes pushed by Salesforce: a Flow HTTP
// callout (JSON: one case object, a list, or {"cases": [...]}, with the
// fields Id, Status, IsClosed, OwnerId, SystemModstamp) or a workflow
// outbound message (SOAP notifications of Case sObjects, answered with the
// Ack Salesforce expects). It authenticates the shared secret, compared in
// constant time, from the X-Triage-Secret header, an "Authorization: Bearer"
// header, or (outbound messages cannot set headers) the "secret" query
// parameter. With no secret configured it answers 404.
func (s *Stage) WebhookHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret := s.cfg.Webhook.Secret
		if secret == "" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		got := r.Header.Get("X-Triage-Secret")
		if got == "" {
			if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
				got = strings.TrimPrefix(a, "Bearer ")
			}
		}
		if got == "" {
			got = r.URL.Query().Get("secret")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(secret)) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		soap := strings.Contains(r.Header.Get("Content-Type"), "xml") || strings.HasPrefix(strings.TrimSpace(string(body)), "<")
		var changes []CaseChange
		if soap {
			changes, err = parseOutbound(body)
		} else {
			changes, err = parseCallout(body)
		}
		if err != nil {
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		for i := range changes {
			changes[i].Source = "webhook"
			if _, err := s.applyChange(r.Context(), &changes[i]); err != nil {
				s.log.Error("webhook change", "case", changes[i].CaseID, "err", err)
				http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
				return
			}
		}
		if soap {
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int{"accepted": len(changes)})
	})
}

type calloutCase struct {
	ID             string `json:"Id"`
	Status         string `json:"Status"`
	IsClosed       bool   `json:"IsClosed"`
	OwnerID        string `json:"OwnerId"`
	SystemModstamp string `json:"SystemModstamp"`
}

func parseCallout(body []byte) ([]CaseChange, error) {
	var list []calloutCase
	trim := strings.TrimSpace(string(body))
	switch {
	case strings.HasPrefix(trim, "["):
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, err
		}
	default:
		var wrap struct {
			Cases []calloutCase `json:"cases"`
			calloutCase
		}
		if err := json.Unmarshal(body, &wrap); err != nil {
			return nil, err
		}
		list = wrap.Cases
		if wrap.ID != "" {
			list = append(list, wrap.calloutCase)
		}
	}
	var out []CaseChange
	for _, c := range list {
		if !sfID.MatchString(c.ID) {
			return nil, fmt.Errorf("case id %q is not a Salesforce id", c.ID)
		}
		ch := CaseChange{CaseID: c.ID, Status: c.Status, IsClosed: c.IsClosed, OwnerID: c.OwnerID}
		if c.SystemModstamp != "" {
			ch.ModStamp, _ = parseSFTime(c.SystemModstamp)
		}
		out = append(out, ch)
	}
	if len(out) == 0 {
		return nil, errors.New("no case in the request")
	}
	return out, nil
}

// parseOutbound reads the sObjects of an outbound message's notifications.
func parseOutbound(body []byte) ([]CaseChange, error) {
	dec := xml.NewDecoder(strings.NewReader(string(body)))
	var out []CaseChange
	var cur *CaseChange
	var field string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "sObject" {
				cur = &CaseChange{}
			} else if cur != nil {
				field = t.Name.Local
			}
		case xml.CharData:
			if cur == nil || field == "" {
				continue
			}
			v := strings.TrimSpace(string(t))
			switch field {
			case "Id":
				cur.CaseID = v
			case "Status":
				cur.Status = v
			case "IsClosed":
				cur.IsClosed = v == "true"
			case "OwnerId":
				cur.OwnerID = v
			case "SystemModstamp":
				cur.ModStamp, _ = parseSFTime(v)
			}
		case xml.EndElement:
			if t.Name.Local == "sObject" && cur != nil {
				if cur.CaseID != "" {
					out = append(out, *cur)
				}
				cur = nil
			}
			field = ""
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no sObject in the notification")
	}
	return out, nil
}
