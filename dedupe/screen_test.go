package dedupe

import (
	"testing"

	"github.com/triage-dev/triage/ingest"
)

func screenOpts() ScreenOptions {
	c := Config{OwnAddresses: []string{"Support+cases@Acme.example"}}
	c.SetDefaults()
	return c.ScreenOptions()
}

func msg(from, subject string, headers map[string][]string) *ingest.Parsed {
	return &ingest.Parsed{From: ingest.Address{Addr: from}, Subject: subject, Headers: headers, ContentType: "text/plain"}
}

func TestScreen(t *testing.T) {
	h := func(kv ...string) map[string][]string {
		m := map[string][]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = append(m[kv[i]], kv[i+1])
		}
		return m
	}
	dsn := msg("MAILER-DAEMON@mx.example", "Undelivered Mail Returned to Sender", nil)
	dsn.ContentType, dsn.ReportType = "multipart/report", "delivery-status"
	nullRP := msg("bounces@mx.example", "failure notice", nil)
	nullRP.HasReturnPath = true
	rpOK := msg("jane@customer.example", "Order", nil)
	rpOK.HasReturnPath, rpOK.ReturnPath = true, "jane@customer.example"
	tests := []struct {
		name       string
		p          *ingest.Parsed
		reason     string
		attachable bool
	}{
		{"plain customer mail", msg("Jane <jane@customer.example>", "Order 42 did not arrive", nil), ReasonAccept, false},
		{"return path present", rpOK, ReasonAccept, false},
		{"own outbound", msg("support@acme.example", "Re: your case", nil), ReasonOwnOutbound, false},
		{"dsn", dsn, ReasonDeliveryReport, true},
		{"mailer-daemon", msg("Mail Delivery System <MAILER-DAEMON@mx.example>", "Delivery failure", nil), ReasonMailerDaemon, true},
		{"postmaster", msg("postmaster@mx.example", "Delivery failure", nil), ReasonMailerDaemon, true},
		{"empty return path", nullRP, ReasonNullSender, true},
		{"auto-submitted auto-replied", msg("a@b.example", "hello", h("Auto-Submitted", "auto-replied")), ReasonAutoSubmitted, true},
		{"auto-submitted auto-generated", msg("a@b.example", "hello", h("Auto-Submitted", "auto-generated")), ReasonAutoSubmitted, true},
		{"auto-submitted no", msg("a@b.example", "hello", h("Auto-Submitted", "no")), ReasonAccept, false},
		{"auto-submitted no with comment", msg("a@b.example", "hello", h("Auto-Submitted", "no; (comment)")), ReasonAccept, false},
		{"x-autoreply", msg("a@b.example", "hello", h("X-Autoreply", "yes")), ReasonAutoReplyHdr, true},
		{"x-autorespond", msg("a@b.example", "hello", h("X-Autorespond", "Out of office")), ReasonAutoReplyHdr, true},
		{"x-auto-response-suppress", msg("a@b.example", "hello", h("X-Auto-Response-Suppress", "All")), ReasonAutoReplyHdr, true},
		{"x-auto-response-suppress none", msg("a@b.example", "hello", h("X-Auto-Response-Suppress", "None")), ReasonAccept, false},
		{"lower-case header key", msg("a@b.example", "hello", h("x-autoreply", "yes")), ReasonAutoReplyHdr, true},
		{"precedence bulk", msg("a@b.example", "hello", h("Precedence", "bulk")), ReasonPrecedence, false},
		{"precedence junk", msg("a@b.example", "hello", h("Precedence", "junk")), ReasonPrecedence, false},
		{"precedence list", msg("a@b.example", "hello", h("Precedence", "List")), ReasonPrecedence, false},
		{"precedence auto_reply", msg("a@b.example", "hello", h("Precedence", "auto_reply")), ReasonPrecedence, true},
		{"precedence first-class", msg("a@b.example", "hello", h("Precedence", "first-class")), ReasonAccept, false},
		{"list-id", msg("news@shop.example", "Deals", h("List-Id", "<deals.shop.example>")), ReasonList, false},
		{"list-unsubscribe", msg("news@shop.example", "Deals", h("List-Unsubscribe", "<mailto:u@shop.example>")), ReasonList, false},
		{"no sender", msg("", "hello", nil), ReasonNoSender, false},
		{"ooo hours question", msg("a@b.example", "Out of office hours support?", nil), ReasonAccept, false},
		{"automatic reply question", msg("a@b.example", "How do I set up an automatic reply?", nil), ReasonAccept, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Screen(tt.p, screenOpts())
			if d.Reason != tt.reason || d.Skip != (tt.reason != ReasonAccept) || d.Attachable != tt.attachable {
				t.Errorf("Screen = %+v, want reason %s attachable %v", d, tt.reason, tt.attachable)
			}
		})
	}
}

func TestScreenListsConfigurable(t *testing.T) {
	f := false
	c := Config{SkipLists: &f}
	c.SetDefaults()
	p := msg("user@lists.example", "question", map[string][]string{"List-Id": {"<users.lists.example>"}, "Precedence": {"list"}})
	if d := Screen(p, c.ScreenOptions()); d.Skip {
		t.Fatalf("skip_lists=false still skipped: %+v", d)
	}
	p.Headers["Precedence"] = []string{"bulk"}
	if d := Screen(p, c.ScreenOptions()); d.Reason != ReasonPrecedence {
		t.Fatalf("bulk mail with skip_lists=false: %+v", d)
	}
}

func TestScreenOutOfOffice(t *testing.T) {
	subjects := map[string][]string{
		"en": {"Out of Office: Order 42", "Automatic reply: Re: invoice", "Out of Office AutoReply: hello", "Auto-Reply: x", "Away from the office", "On vacation"},
		"de": {"Abwesenheitsnotiz: Rechnung", "Automatische Antwort: AW: Frage", "Nicht im Büro: x", "Außer Haus - zurück am 3.1."},
		"fr": {"Réponse automatique : Commande", "Absence du bureau: facture", "Message d'absence"},
		"es": {"Respuesta automática: pedido", "Fuera de la oficina: factura"},
		"nl": {"Automatisch antwoord: bestelling", "Afwezig: factuur", "Buiten kantoor"},
		"it": {"Risposta automatica: ordine", "Fuori sede: fattura", "Fuori ufficio"},
		"pt": {"Resposta automática: pedido", "Ausente do escritório: fatura", "Fora do escritório"},
	}
	for lang, ss := range subjects {
		for _, s := range ss {
			d := Screen(msg("person@customer.example", s, nil), screenOpts())
			if d.Reason != ReasonOutOfOffice || !d.Attachable {
				t.Errorf("%s %q: %+v, want out_of_office", lang, s, d)
			}
		}
	}
	for _, s := range []string{"Absence management module broken", "Fuera de servicio la web", "Risposta lenta del supporto", "Automatic replies are not sent"} {
		if d := Screen(msg("person@customer.example", s, nil), screenOpts()); d.Skip {
			t.Errorf("%q wrongly skipped: %+v", s, d)
		}
	}
}
