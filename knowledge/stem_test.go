package knowledge

import "testing"

// Words that a customer and an article use for the same thing must meet in one term.
func TestStemConflates(t *testing.T) {
	tests := []struct {
		lang  string
		words []string
	}{
		{"en", []string{"refund", "refunds", "refunded", "refunding"}},
		{"en", []string{"cancel", "cancelled", "cancelling", "cancellation", "cancellations"}},
		{"en", []string{"invoice", "invoices", "invoiced"}},
		{"en", []string{"ship", "shipped", "shipping"}},
		{"en", []string{"verify", "verification", "verified"}},
		{"en", []string{"delivery", "deliveries"}},
		{"en", []string{"charge", "charged", "charges", "charging"}},
		{"de", []string{"bestellung", "bestellungen"}},
		{"de", []string{"rückerstattung", "rückerstattungen", "ruckerstattung"}},
		{"de", []string{"rechnung", "rechnungen"}},
		{"de", []string{"passwort", "passworts", "passwörter"}},
		{"de", []string{"lieferung", "lieferungen"}},
		{"fr", []string{"remboursement", "remboursements"}},
		{"fr", []string{"commande", "commandes", "commander", "commandé"}},
		{"fr", []string{"facture", "factures", "facturé"}},
		{"fr", []string{"livraison", "livraisons"}},
		{"es", []string{"reembolso", "reembolsos", "reembolsar", "reembolsado"}},
		{"es", []string{"pedido", "pedidos"}},
		{"es", []string{"factura", "facturas"}},
		{"es", []string{"contraseña", "contraseñas"}},
	}
	for _, tt := range tests {
		a := newAnalyzer(tt.lang)
		want := a.term(tt.words[0])
		if want == "" {
			t.Fatalf("%s %q dropped", tt.lang, tt.words[0])
		}
		for _, w := range tt.words[1:] {
			if got := a.term(w); got != want {
				t.Errorf("%s: %q → %q, want %q (as %q)", tt.lang, w, got, want, tt.words[0])
			}
		}
	}
}

func TestStemKeepsApart(t *testing.T) {
	tests := []struct{ lang, a, b string }{
		{"en", "address", "addition"},
		{"en", "password", "payment"},
		{"en", "order", "ordinary"},
		{"de", "rechnung", "rechner"},
		{"fr", "compte", "commande"},
	}
	for _, tt := range tests {
		an := newAnalyzer(tt.lang)
		if an.term(tt.a) == an.term(tt.b) {
			t.Errorf("%s: %q and %q both → %q", tt.lang, tt.a, tt.b, an.term(tt.a))
		}
	}
}

func TestStopWordsAndHTML(t *testing.T) {
	a := newAnalyzer("en")
	got := a.indexText(StripHTML(`<p>Hello team,</p><p>I'd like a <b>refund</b> for order 123456 please.<script>var x=1</script></p>`))
	if got != "refund order" {
		t.Fatalf("got %q", got)
	}
	if got := a.indexText("Refund for order NW-100517, invoice INV-2026-10-4471 (RMA-55120) via 2FA"); got != "refund order invoic 2fa" {
		t.Fatalf("reference codes kept: %q", got)
	}
	de := newAnalyzer("de")
	if got := de.indexText("Hallo, ich möchte meine Bestellung stornieren. Mit freundlichen Grüßen"); got != "bestellung storni" {
		t.Fatalf("de got %q", got)
	}
}

func FuzzAnalyze(f *testing.F) {
	f.Add("<p>Hello <b>world</b> &amp; café ß ça</p>", "fr")
	f.Add("Rückerstattungen für Bestellungen", "de")
	f.Fuzz(func(t *testing.T, s, lang string) {
		a := newAnalyzer(langBase(lang))
		for _, term := range a.terms(StripHTML(s)) {
			if term == "" {
				t.Fatal("empty term")
			}
			for _, r := range term {
				if r == ' ' {
					t.Fatalf("term %q contains a space", term)
				}
			}
		}
	})
}
