package ingest

import (
	"encoding/json"
	"testing"

	"github.com/triage-dev/triage/store"
)

func TestBuildMessage(t *testing.T) {
	s := NewSyncer(MailboxConfig{Name: "support", MaxMessageSize: 1 << 20}, nil)
	good := []byte("From: a@example.com\r\nSubject: hi\r\nMessage-ID: <m1@example.com>\r\n\r\nbody\r\n")
	bad := []byte("no header here\r\n\r\nbody\r\n")
	cases := []struct {
		name       string
		raw        []byte
		size       int64
		headerOnly bool
		state      store.State
		reason     string
		parsed     bool
	}{
		{"received", good, int64(len(good)), false, store.StateReceived, "", true},
		{"parse error", bad, int64(len(bad)), false, store.StateDead, ReasonParseError, false},
		{"too large", good[:60], 5 << 20, true, store.StateSkipped, ReasonTooLarge, true},
		{"too large, header cut", bad, 5 << 20, true, store.StateSkipped, ReasonTooLarge, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := s.buildMessage("INBOX", 7, 3, c.raw, c.size, c.headerOnly)
			if m.State != c.state || m.Reason != c.reason || (m.Parsed != nil) != c.parsed || m.HeaderOnly != c.headerOnly {
				t.Fatalf("got state %s reason %q parsed %v header-only %v", m.State, m.Reason, m.Parsed != nil, m.HeaderOnly)
			}
			if m.MessageID == "" || m.SHA256 != hexsum(c.raw) || m.Size != c.size || m.UID != 3 || m.UIDValidity != 7 {
				t.Errorf("row %+v", m)
			}
			if c.state == store.StateDead && m.LastError == "" {
				t.Error("dead without last_error")
			}
			if m.Parsed != nil {
				var p Parsed
				if err := json.Unmarshal(m.Parsed, &p); err != nil || p.MessageID != m.MessageID {
					t.Errorf("parsed %s: %v", m.Parsed, err)
				}
			}
		})
	}
}
