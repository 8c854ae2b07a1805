package knowledge

import (
	"context"
	"testing"
)

var smallKB = []jsonlArticle{
	{ID: "refund-en", Language: "en", Title: "How to request a refund", Summary: "Refunds for returned or cancelled orders.",
		Body: "<p>You can request a refund within 30 days of delivery. Refunds go back to the original payment method within 5–10 business days.</p>"},
	{ID: "password-en", Language: "en", Title: "Reset your password", Summary: "Forgot your password or cannot log in?",
		Body: "<p>Click <b>Forgot password</b> on the login page and follow the link we email you. The link expires after 24 hours.</p>"},
	{ID: "invoice-en", Language: "en", Title: "Download an invoice", Summary: "Where to find invoices for your orders.",
		Body: "Invoices are available as PDF under Account > Orders. A corrected invoice with your VAT number can be requested."},
	{ID: "shipping-en", Language: "en", Title: "Track your delivery", Summary: "Shipping times and tracking.",
		Body: "Once your order has shipped you receive a tracking number by email. Standard delivery takes 3-5 business days."},
	{ID: "refund-de", Language: "de", Title: "Rückerstattung beantragen", Summary: "Rückerstattungen für zurückgesandte oder stornierte Bestellungen.",
		Body: "Sie können innerhalb von 30 Tagen nach Lieferung eine Rückerstattung beantragen. Das Geld wird auf die ursprüngliche Zahlungsmethode erstattet."},
	{ID: "password-de", Language: "de", Title: "Passwort zurücksetzen", Summary: "Passwort vergessen oder Anmeldung nicht möglich?",
		Body: "Klicken Sie auf der Anmeldeseite auf „Passwort vergessen“ und folgen Sie dem Link in der E-Mail."},
	{ID: "refund-fr", Language: "fr", Title: "Demander un remboursement", Summary: "Remboursements des commandes retournées ou annulées.",
		Body: "Vous pouvez demander un remboursement dans les 30 jours suivant la livraison. Le remboursement est effectué sur le moyen de paiement d'origine."},
	{ID: "invoice-fr", Language: "fr", Title: "Télécharger une facture", Summary: "Où trouver les factures de vos commandes.",
		Body: "Les factures sont disponibles en PDF dans Compte > Commandes."},
	{ID: "refund-es", Language: "es", Title: "Solicitar un reembolso", Summary: "Reembolsos de pedidos devueltos o cancelados.",
		Body: "Puede solicitar un reembolso en los 30 días posteriores a la entrega. El reembolso se realiza en el método de pago original."},
	{ID: "password-es", Language: "es", Title: "Restablecer la contraseña", Summary: "¿Olvidó su contraseña o no puede iniciar sesión?",
		Body: "Haga clic en «Olvidé mi contraseña» en la página de inicio de sesión y siga el enlace del correo."},
}

func newSmall(t *testing.T) *Knowledge {
	t.Helper()
	st := openStore(t)
	k := New(Config{Sources: Sources{Files: FilesSource{Path: "x"}}}, st, WithNow(fixedNow))
	if _, err := k.Import(context.Background(), writeJSONL(t, smallKB)); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSearchPerLanguage(t *testing.T) {
	k := newSmall(t)
	tests := []struct {
		name, lang, subject, body, want string
	}{
		{"en refund", "en", "Refund for my order", "Hi, I returned the shoes last week and still have not been refunded. Thanks", "refund-en"},
		{"en password", "en", "can't log in", "I forgot my password and the reset link expired.", "password-en"},
		{"en invoice", "en", "Invoice needed", "Could you send me an invoice with our VAT number for order 12345?", "invoice-en"},
		{"en tracking", "en", "Where is my parcel?", "My order shipped days ago but the tracking number shows nothing.", "shipping-en"},
		{"de refund", "de", "Rückerstattung", "Hallo, ich habe meine Bestellung zurückgeschickt und warte auf die Rückerstattungen.", "refund-de"},
		{"de password", "de", "Passwort vergessen", "Ich kann mich nicht anmelden, mein Passwort funktioniert nicht.", "password-de"},
		{"fr refund", "fr", "Remboursement", "Bonjour, j'attends toujours le remboursement de ma commande retournée.", "refund-fr"},
		{"fr invoice", "fr", "Facture", "Pouvez-vous m'envoyer les factures de mes commandes ?", "invoice-fr"},
		{"es refund", "es", "Reembolso", "Hola, devolví el pedido y no he recibido el reembolso.", "refund-es"},
		{"es password", "es", "Contraseña", "No puedo iniciar sesión, olvidé mi contraseña.", "password-es"},
		{"detected de", "", "Rückerstattung für meine Bestellung", "Ich warte seit zwei Wochen auf die Rückerstattung meiner zurückgeschickten Bestellung.", "refund-de"},
		{"de falls back to en", "de", "Invoice PDF", "Invoice VAT number PDF", "invoice-en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := k.Search(context.Background(), Query{Subject: tt.subject, Body: tt.body, Language: tt.lang})
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) == 0 {
				t.Fatalf("no match, want %s", tt.want)
			}
			if ms[0].ArticleID != tt.want {
				t.Fatalf("top = %s (%.3f), want %s; all %+v", ms[0].ArticleID, ms[0].Score, tt.want, ms)
			}
			if ms[0].Score < k.cfg.Threshold || ms[0].Score > 1 {
				t.Errorf("score %.3f outside [threshold, 1]", ms[0].Score)
			}
			if ms[0].Snippet == "" {
				t.Error("no snippet")
			}
			t.Logf("%s %.3f %q", ms[0].ArticleID, ms[0].Score, ms[0].Snippet)
		})
	}
}

func TestSearchOffTopicScoresLow(t *testing.T) {
	k := newSmall(t)
	for _, q := range []string{
		"Please delete all my personal data under GDPR article 17",
		"The mobile app crashes on startup after the latest update",
		"Do you offer volume discounts for 500 licences?",
	} {
		ms, err := k.Search(context.Background(), Query{Subject: q, Body: q, Language: "en"})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) > 0 && ms[0].Score >= k.cfg.Threshold {
			t.Errorf("%q: %s scored %.3f ≥ threshold", q, ms[0].ArticleID, ms[0].Score)
		}
	}
}

func TestEmptyIndexAndEmptyEmail(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	k := New(Config{}, st, WithNow(fixedNow))
	ms, err := k.Search(ctx, Query{Subject: "refund please", Language: "en"})
	if err != nil || len(ms) != 0 {
		t.Fatalf("empty index: %v %v", ms, err)
	}
	m := addMessage(t, st, 1, "Refund please")
	res, err := k.Process(ctx, m, Query{Body: "I still have not received my refund", Language: "en"})
	if err != nil || !res.Gap || len(res.KeyTerms) == 0 || res.KeyTerms[0] == "" {
		t.Fatalf("empty index must make a gap with key terms: %+v %v", res, err)
	}
	m2 := addMessage(t, st, 2, "Re:")
	res, err = k.Process(ctx, m2, Query{Subject: "Re:", Body: "Thanks!", Language: "en"})
	if err != nil || res.Gap || len(res.Articles) != 0 {
		t.Fatalf("a bare thank-you is no gap: %+v %v", res, err)
	}
}
