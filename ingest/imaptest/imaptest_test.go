package imaptest

import (
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestServers(t *testing.T) {
	for name, start := range map[string]func(testing.TB, ...Option) *Server{
		"memserver": StartMemServer,
		"dovecot":   StartDovecot,
	} {
		t.Run(name, func(t *testing.T) {
			s := start(t)
			var raws [][]byte
			for i := 0; i < 10; i++ {
				raws = append(raws, []byte(fmt.Sprintf("From: a@example.com\r\nSubject: %d\r\nMessage-ID: <%d@x>\r\n\r\nbody %d\r\n", i, i, i)))
			}
			uids := s.AppendMany(t, "INBOX", raws)
			if len(uids) != 10 || uids[9] != 10 {
				t.Fatalf("uids %v", uids)
			}
			if n := len(s.Messages(t, "INBOX")); n != 10 {
				t.Fatalf("INBOX has %d messages, want 10", n)
			}
			s.Append(t, "Support", raws[0])
			v1 := s.UIDValidity(t, "Support")
			s.ResetFolder(t, "Support")
			if v2 := s.UIDValidity(t, "Support"); v2 == v1 {
				t.Errorf("UIDVALIDITY unchanged after reset: %d", v2)
			}
			if n := len(s.Messages(t, "Support")); n != 0 {
				t.Errorf("Support has %d messages after reset", n)
			}
			for _, move := range []bool{true, false} {
				opts := []Option{}
				if !move {
					opts = append(opts, WithoutMove())
				}
				c := start(t, opts...).Dial(t)
				if got := c.Caps().Has(imap.CapMove); got != move {
					t.Errorf("MOVE advertised = %v, want %v", got, move)
				}
			}
		})
	}
}
