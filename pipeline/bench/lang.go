package bench

// language is the text a generated customer writes in: subjects (with one %d
// for an order, invoice or ticket number, which keeps every thread's subject
// unique), body sentences, greetings and reply lines. None of it says the
// problem is solved: a "resolved" reply may close a case, and the ground
// truth assumes every thread keeps exactly one open case.
type language struct {
	code     string
	charset  string // charset the body is sent in
	hello    string
	bye      string
	subjects []string
	lines    []string
	replies  []string
}

var languages = []language{
	{code: "en", charset: "us-ascii", hello: "Hello,", bye: "Best regards,",
		subjects: []string{"Order %d has not arrived", "Refund for invoice %d", "Cannot log in to my account (ticket %d)",
			"Wrong item delivered, order %d", "Change shipping address for order %d", "Charged twice for invoice %d",
			"How do I export my data? (account %d)", "App crashes when I open a report, build %d"},
		lines: []string{
			"I placed the order two weeks ago and the tracking page has not changed since.",
			"Could you please tell me when I can expect the refund to arrive on my card?",
			"The password reset email never arrives, I checked the spam folder too.",
			"The package contained a blue kettle instead of the black one I ordered.",
			"I moved last week and need the delivery sent to my new address instead.",
			"Your website shows an error when I try to update my payment details.",
			"I was charged twice for the same invoice, please look into this.",
			"Our whole team depends on this report every morning and it is blocking us.",
			"Is it possible to get an invoice with our company VAT number on it?",
			"I attached a screenshot of the error message I see after clicking save.",
		},
		replies: []string{"Thanks for the quick answer, but I still have the same problem.",
			"I tried what you suggested and nothing changed.", "Any news on this? It has been three days.",
			"Here is the additional information you asked for."}},
	{code: "de", charset: "iso-8859-1", hello: "Guten Tag,", bye: "Mit freundlichen Grüßen",
		subjects: []string{"Bestellung %d ist nicht angekommen", "Rückerstattung für Rechnung %d", "Kann mich nicht anmelden (Ticket %d)",
			"Falscher Artikel geliefert, Bestellung %d", "Doppelte Abbuchung bei Rechnung %d"},
		lines: []string{
			"Ich habe die Bestellung vor zwei Wochen aufgegeben und die Sendungsverfolgung zeigt nichts Neues.",
			"Können Sie mir bitte sagen, wann die Rückerstattung auf meinem Konto eingeht?",
			"Die E-Mail zum Zurücksetzen des Passworts kommt nie an, auch nicht im Spam-Ordner.",
			"Im Paket war ein blauer Wasserkocher statt des schwarzen, den ich bestellt habe.",
			"Mir wurde dieselbe Rechnung zweimal abgebucht, bitte prüfen Sie das.",
			"Unser Konto ist gesperrt und wir können nicht mehr arbeiten.",
			"Gibt es eine Möglichkeit, die Lieferadresse noch zu ändern?",
		},
		replies: []string{"Danke für die schnelle Antwort, aber das Problem besteht weiterhin.",
			"Gibt es schon Neuigkeiten? Ich warte seit drei Tagen.", "Anbei die gewünschten Informationen."}},
	{code: "fr", charset: "iso-8859-1", hello: "Bonjour,", bye: "Cordialement,",
		subjects: []string{"Commande %d non reçue", "Remboursement de la facture %d", "Impossible de me connecter (ticket %d)",
			"Mauvais article livré, commande %d", "Double prélèvement sur la facture %d"},
		lines: []string{
			"J'ai passé commande il y a deux semaines et le suivi n'a pas bougé depuis.",
			"Pourriez-vous me dire quand le remboursement arrivera sur ma carte ?",
			"Le courriel de réinitialisation du mot de passe n'arrive jamais, même dans les indésirables.",
			"Le colis contenait une bouilloire bleue au lieu de la noire que j'avais commandée.",
			"J'ai été prélevé deux fois pour la même facture, merci de vérifier.",
			"Est-ce que je peux encore modifier l'adresse de livraison ?",
		},
		replies: []string{"Merci pour votre réponse, mais le problème persiste.",
			"Avez-vous du nouveau ? J'attends depuis trois jours.", "Voici les informations demandées."}},
	{code: "es", charset: "utf-8", hello: "Hola,", bye: "Saludos cordiales,",
		subjects: []string{"El pedido %d no ha llegado", "Reembolso de la factura %d", "No puedo acceder a mi cuenta (ticket %d)",
			"Cobro duplicado en la factura %d"},
		lines: []string{
			"Hice el pedido hace dos semanas y el seguimiento no ha cambiado desde entonces.",
			"¿Podrían decirme cuándo llegará el reembolso a mi tarjeta?",
			"El correo para restablecer la contraseña nunca llega, ya revisé la carpeta de spam.",
			"Me cobraron dos veces la misma factura, por favor revísenlo.",
			"¿Cómo puedo cambiar la dirección de envío de mi pedido?",
		},
		replies: []string{"Gracias por la respuesta, pero sigo con el mismo problema.",
			"¿Hay novedades? Llevo tres días esperando."}},
	{code: "it", charset: "utf-8", hello: "Buongiorno,", bye: "Cordiali saluti,",
		subjects: []string{"Ordine %d non ancora arrivato", "Rimborso della fattura %d", "Non riesco ad accedere (ticket %d)"},
		lines: []string{
			"Ho effettuato l'ordine due settimane fa e il tracciamento non si è più aggiornato.",
			"Potreste dirmi quando arriverà il rimborso sulla mia carta?",
			"L'email per reimpostare la password non arriva mai, ho controllato anche lo spam.",
			"Mi è stata addebitata due volte la stessa fattura.",
		},
		replies: []string{"Grazie della risposta, ma il problema è ancora presente.", "Ci sono novità? Aspetto da tre giorni."}},
	{code: "nl", charset: "utf-8", hello: "Goedendag,", bye: "Met vriendelijke groet,",
		subjects: []string{"Bestelling %d is niet aangekomen", "Terugbetaling voor factuur %d", "Kan niet inloggen (ticket %d)"},
		lines: []string{
			"Ik heb twee weken geleden besteld en de track-and-trace is sindsdien niet veranderd.",
			"Kunt u mij vertellen wanneer de terugbetaling op mijn rekening staat?",
			"De e-mail om mijn wachtwoord te resetten komt nooit aan.",
			"Dezelfde factuur is twee keer afgeschreven, wilt u dat nakijken?",
		},
		replies: []string{"Bedankt voor het antwoord, maar het probleem blijft.", "Is er al nieuws? Ik wacht al drie dagen."}},
	{code: "pt", charset: "utf-8", hello: "Olá,", bye: "Atenciosamente,",
		subjects: []string{"Pedido %d não chegou", "Reembolso da fatura %d", "Não consigo acessar minha conta (ticket %d)"},
		lines: []string{
			"Fiz o pedido há duas semanas e o rastreamento não mudou desde então.",
			"Poderiam me dizer quando o reembolso vai cair no meu cartão?",
			"O e-mail de redefinição de senha nunca chega, já verifiquei o spam.",
			"Fui cobrado duas vezes pela mesma fatura, por favor verifiquem.",
		},
		replies: []string{"Obrigado pela resposta, mas continuo com o mesmo problema.", "Alguma novidade? Estou esperando há três dias."}},
	{code: "ja", charset: "utf-8", hello: "お世話になっております。", bye: "よろしくお願いいたします。",
		subjects: []string{"注文 %d がまだ届きません", "請求書 %d の返金について", "ログインできません (チケット %d)"},
		lines: []string{
			"二週間前に注文しましたが、配送状況が更新されていません。",
			"返金がいつカードに反映されるか教えていただけますか。",
			"パスワード再設定のメールが届きません。迷惑メールフォルダも確認しました。",
			"同じ請求書で二重に請求されています。確認をお願いします。",
		},
		replies: []string{"ご回答ありがとうございます。しかし問題はまだ解決していません。", "その後いかがでしょうか。三日間待っています。"}},
}

// languageWeights: most support mail is English; the rest is spread out.
var languageWeights = []int{50, 12, 10, 8, 6, 5, 5, 4}

var (
	firstNames = []string{"Alice", "Bruno", "Chiara", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Inès", "Jonas", "Kwame", "Lena",
		"Mateo", "Noor", "Olivier", "Priya", "Quentin", "Rosa", "Sven", "Tomoko", "Ugo", "Valeria", "Wim", "Yusuf", "Zoë", "João", "Søren", "Łucja"}
	lastNames = []string{"Martin", "Schmidt", "Rossi", "García", "Dubois", "Jansen", "Silva", "Tanaka", "Novak", "Okafor", "Müller",
		"Lefèvre", "Bianchi", "de Vries", "Costa", "Sato", "Andersen", "Kowalski", "O'Brien", "Nguyen"}
	domains = []string{"example.com", "example.org", "example.net", "mail.example.de", "corp.example", "shop.example", "kunde.example", "client.example.fr"}
)
