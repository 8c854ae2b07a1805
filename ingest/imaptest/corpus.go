package imaptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

var (
	firstNames = []string{"Alice", "Bruno", "Chiara", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Inès", "Jonas", "Kwame", "Lena"}
	domains    = []string{"example.com", "example.org", "mail.example.net", "corp.example", "shop.example"}
	subjects   = []string{
		"Order %d has not arrived", "Refund for invoice %d", "Cannot log in to my account (#%d)",
		"Wrong item delivered, order %d", "Change shipping address for order %d", "Cancel subscription %d",
		"Question about invoice %d", "Payment failed twice (%d)", "Re: Case %d follow-up",
	}
	sentences = []string{
		"I placed the order two weeks ago and the tracking page has not changed since.",
		"Could you please tell me when I can expect the refund to arrive on my card?",
		"The password reset email never arrives, I checked the spam folder too.",
		"The package contained a blue kettle instead of the black one I ordered.",
		"I moved last week and need the delivery sent to my new address instead.",
		"Your website shows an error when I try to update my payment details.",
		"I was charged twice for the same invoice, please look into this.",
		"Thank you for the quick answer last time, but the issue is back.",
		"Please find the screenshot attached, it shows the error message.",
		"I would like to cancel my subscription before the next billing date.",
	}
)

// Corpus returns n realistic support emails, deterministic for a seed: plain,
// multipart/alternative with HTML, and about one in twenty with a binary
// attachment (10-300 KB), from 1 KB to a few hundred KB. Each has a unique
// Message-ID and uses CRLF line endings, so a server returns it byte for byte.
func Corpus(n int, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	out := make([][]byte, n)
	for i := range out {
		out[i] = message(r, i, seed)
	}
	return out
}

func message(r *rand.Rand, i int, seed uint64) []byte {
	name := firstNames[r.IntN(len(firstNames))]
	from := fmt.Sprintf("%s <%s.%d@%s>", name, strings.ToLower(strings.ReplaceAll(name, "è", "e")), r.IntN(1000), domains[r.IntN(len(domains))])
	subject := fmt.Sprintf(subjects[r.IntN(len(subjects))], 10000+r.IntN(90000))
	date := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	var body strings.Builder
	paras := 1 + r.IntN(12)
	if r.IntN(10) == 0 {
		paras += 40 // a long thread quote now and then
	}
	body.WriteString("Hello,\r\n\r\n")
	for p := 0; p < paras; p++ {
		for s := 0; s < 2+r.IntN(4); s++ {
			body.WriteString(sentences[r.IntN(len(sentences))])
			body.WriteString(" ")
		}
		body.WriteString("\r\n\r\n")
	}
	body.WriteString("Best regards,\r\n" + name + "\r\n")

	var b bytes.Buffer
	fmt.Fprintf(&b, "Return-Path: <%s>\r\n", strings.Trim(from[strings.Index(from, "<"):], "<>"))
	fmt.Fprintf(&b, "Received: from mx.%s (mx.%s [192.0.2.%d]) by mail.acme.test with ESMTPS id %08x; %s\r\n",
		domains[r.IntN(len(domains))], domains[r.IntN(len(domains))], r.IntN(250), r.Uint32(), date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: %s\r\nTo: Support <support@acme.test>\r\nSubject: %s\r\n", from, subject)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <corpus-%d-%d@%s>\r\nMIME-Version: 1.0\r\n", date.Format(time.RFC1123Z), seed, i, domains[i%len(domains)])
	withAttachment := r.IntN(20) == 0
	withHTML := r.IntN(3) == 0
	switch {
	case withAttachment:
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"mix-%d\"\r\n\r\n", i)
		fmt.Fprintf(&b, "--mix-%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", i, body.String())
		data := make([]byte, 10<<10+r.IntN(290<<10))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		fmt.Fprintf(&b, "--mix-%d\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"screenshot-%d.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", i, i)
		writeBase64(&b, data)
		fmt.Fprintf(&b, "--mix-%d--\r\n", i)
	case withHTML:
		html := "<html><body><p>" + strings.ReplaceAll(body.String(), "\r\n\r\n", "</p><p>") + "</p></body></html>"
		fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=\"alt-%d\"\r\n\r\n", i)
		fmt.Fprintf(&b, "--alt-%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", i, body.String())
		fmt.Fprintf(&b, "--alt-%d\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n", i, html)
		fmt.Fprintf(&b, "--alt-%d--\r\n", i)
	default:
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
		b.WriteString(body.String())
	}
	return b.Bytes()
}

func writeBase64(b *bytes.Buffer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	b.WriteString("\r\n")
}

// LargeMessage returns a message with one attachment of about size bytes
// (decoded), for size-cap and memory tests.
func LargeMessage(id string, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Big Sender <big@example.com>\r\nTo: support@acme.test\r\nSubject: Large attachment %s\r\n", id)
	fmt.Fprintf(&b, "Date: Mon, 02 Nov 2026 09:00:00 +0000\r\nMessage-ID: <large-%s@example.com>\r\nMIME-Version: 1.0\r\n", id)
	b.WriteString("Content-Type: multipart/mixed; boundary=\"big\"\r\n\r\n--big\r\nContent-Type: text/plain\r\n\r\nSee the attached video.\r\n")
	b.WriteString("--big\r\nContent-Type: video/mp4\r\nContent-Disposition: attachment; filename=\"video.mp4\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	r := rand.New(rand.NewPCG(uint64(size), 7))
	data := make([]byte, size)
	for j := range data {
		data[j] = byte(r.Uint32())
	}
	writeBase64(&b, data)
	b.WriteString("--big--\r\n")
	return b.Bytes()
}
