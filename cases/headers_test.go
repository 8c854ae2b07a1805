package cases

import (
	"strings"
	"testing"
)

func TestRedactHeaders(t *testing.T) {
	s := NewStage(Config{}, nil, nil, nil, nil)
	const dkim = "DKIM-Signature: v=1; a=rsa-sha256; d=kunde.example; s=s1;\r\n" +
		"\tb=ngjZvMf0nHEkouEk8XhEYpXA2Vup0Rbs9CbHqVYEubDJtuEtlMXNERlgjNSlLa2NKvAkZ7\r\n" +
		"\tD1YWrujNvGNCOqubIGP6zSxa6X6JT1iVY9L/mOZ6i/+fm+ZFFxKlkK67isZdRad9Ank1Nw==\r\n"
	const received = "Received: from mail.kunde.example ([198.51.100.72]) by mx1 with ESMTPS id 592d2151; Mon, 02 Nov 2026 08:02:31 +0000\r\n"
	for _, tc := range []struct {
		name, in  string
		keep      []string // must survive
		gone      []string // must be replaced
		wantParts []string // placeholders expected
	}{
		{
			name: "signatures and relays intact, sender fields redacted",
			in: received + dkim +
				"From: Grace <grace@kunde.example>\r\nSubject: card 4111 1111 1111 1111 please\r\n" +
				"X-Phone: +49 30 1234567\r\nX-Note: use sk-proj-abcdefghijklmnop1234567890\r\n",
			keep:      []string{received, dkim, "From: Grace <grace@kunde.example>\r\n"},
			gone:      []string{"4111 1111 1111 1111", "+49 30 1234567", "sk-proj-abcdefghijklmnop1234567890"},
			wantParts: []string{"[CARD_1]", "[PHONE_1]", "[APIKEY_1]"},
		},
		{
			name:      "cards and secrets are redacted in trace fields too",
			in:        "Received: from x (card 4111111111111111) by y; password: hunter22\r\n\tfor <a@b.example>\r\nSubject: hi\r\n",
			gone:      []string{"4111111111111111", "hunter22"},
			keep:      []string{"\tfor <a@b.example>\r\nSubject: hi\r\n"},
			wantParts: []string{"[CARD_1]", "[SECRET_1]"},
		},
		{
			name: "a field folded over lines stays one field",
			in:   "Subject: call me on\r\n +49 30 1234567\r\nReceived: by relay 555-123-4567\r\n",
			gone: []string{"+49 30 1234567"},
			keep: []string{"Received: by relay 555-123-4567\r\n"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := s.redactHeaders(tc.in)
			for _, k := range tc.keep {
				if !strings.Contains(got, k) {
					t.Errorf("lost %q:\n%s", k, got)
				}
			}
			for _, g := range tc.gone {
				if strings.Contains(got, g) {
					t.Errorf("%q not redacted:\n%s", g, got)
				}
			}
			for _, p := range tc.wantParts {
				if !strings.Contains(got, p) {
					t.Errorf("no %s in:\n%s", p, got)
				}
			}
			if n, m := strings.Count(got, "\n"), strings.Count(tc.in, "\n"); n != m {
				t.Errorf("%d lines out of %d", n, m)
			}
		})
	}
}
