package classify

import (
	"regexp"
	"strings"
)

// Reply headers that introduce quoted history ("On Mon, 1 Jan 2024, Ann <a@x> wrote:")
// in English, German, French, Spanish, Dutch, Italian and Portuguese. They may wrap
// over two lines, so they are matched on a line joined with the next.
var replyHeaderRe = regexp.MustCompile(`(?i)^\s*(on\s.+\swrote|am\s.+\sschrieb\s*.*|le\s.+\sa\s+écrit|el\s.+\sescribió|op\s.+\sschreef\s*.*|il\s.+\sha\s+scritto|em\s.+\sescreveu)\s*:\s*$`)

// Separator lines of forwarded or quoted originals.
var originalRe = regexp.MustCompile(`(?i)^\s*-{2,}\s*(original message|ursprüngliche nachricht|original nachricht|message d'origine|message original|mensaje original|oorspronkelijk bericht|messaggio originale|mensagem original)\s*-{2,}\s*$`)

// Outlook header blocks: "From:" followed shortly by "Sent:" (or Date:), per language.
var (
	outlookFromRe = regexp.MustCompile(`(?i)^\s*\*?(from|von|de|van|da)\s*:\*?\s*\S`)
	outlookSentRe = regexp.MustCompile(`(?i)^\s*\*?(sent|date|gesendet|datum|envoyé|enviado|fecha|verzonden|inviato|data)\s*:\*?\s*\S`)
)

// Sign-offs that start a signature when they stand alone on a line, or are
// followed by a comma and a capitalised name ("Thanks, Ann"); "Thanks for the
// quick reply" is content and stays.
var signOffRe = regexp.MustCompile(`^\s*(?i:best regards|kind regards|warm regards|regards|best wishes|best|thanks|thank you|thanks a lot|many thanks|thanks in advance|cheers|sincerely|yours sincerely|yours truly|mit freundlichen grüßen|mit freundlichen gruessen|freundliche grüße|viele grüße|beste grüße|lg|mfg|cordialement|bien cordialement|bien à vous|salutations|merci|saludos|un saludo|saludos cordiales|atentamente|gracias|met vriendelijke groet|met vriendelijke groeten|groeten|vriendelijke groet|cordiali saluti|distinti saluti|saluti|grazie|atenciosamente|cumprimentos|obrigado|obrigada|abraços)\s*(?:[,.!]?|,\s*\p{Lu}[\p{L}.'-]*(?:\s+\p{Lu}[\p{L}.'-]*){0,2}[.!]?)\s*$`)

// Mobile footers.
var mobileFooterRe = regexp.MustCompile(`(?i)^\s*(sent from my|envoyé de mon|von meinem .* gesendet|enviado desde mi|verzonden vanaf mijn|inviato da|enviado do meu|get outlook for)`)

// Legal disclaimers: a line starting one cuts the rest.
var disclaimerRe = regexp.MustCompile(`(?i)^\s*(confidentiality notice|disclaimer\s*:|this (e-?mail|message)( and any (attachments?|files)( transmitted with it)?)? (is|are|may be) (confidential|intended)|the information (contained )?in this (e-?mail|message) is (confidential|intended)|diese e-?mail (enthält|ist) vertraulich|ce (message|courriel)( et ses pièces jointes)? (est|sont) (confidentiel|strictement)|este (mensaje|correo)( y sus anexos)? (es|son|puede contener) (confidencial|información)|dit e-?mailbericht is vertrouwelijk|questo messaggio (è|e') (riservato|confidenziale)|esta mensagem (é|pode conter) (confidencial|informação))`)

// NewText returns only what the sender wrote in this message: quoted lines
// ("> …"), quoted history after a reply header ("On … wrote:", "Am … schrieb:",
// "Le … a écrit :", "El … escribió:", Outlook From:/Sent: blocks), signatures
// ("-- " and common sign-offs) and legal disclaimers are removed.
func NewText(body string) string {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	lines := strings.Split(body, "\n")
	out := make([]string, 0, len(lines))
	content := 0 // non-blank lines kept so far
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, ">") {
			continue
		}
		if originalRe.MatchString(l) || disclaimerRe.MatchString(l) || mobileFooterRe.MatchString(l) {
			break
		}
		if l == "-- " || t == "--" || t == "—" {
			break
		}
		if isReplyHeader(lines, i) {
			break
		}
		if outlookFromRe.MatchString(l) && outlookBlock(lines, i) {
			break
		}
		if strings.HasPrefix(t, "____") && i+1 < len(lines) && outlookFromRe.MatchString(nextNonBlank(lines, i+1)) {
			break
		}
		if content > 0 && signOffRe.MatchString(t) {
			break
		}
		if t != "" {
			content++
		}
		out = append(out, strings.TrimRight(l, " \t"))
	}
	// Collapse runs of blank lines and trim.
	var b strings.Builder
	blank := 0
	for _, l := range out {
		if strings.TrimSpace(l) == "" {
			blank++
			continue
		}
		if b.Len() > 0 {
			if blank > 0 {
				b.WriteString("\n\n")
			} else {
				b.WriteByte('\n')
			}
		}
		blank = 0
		b.WriteString(l)
	}
	return b.String()
}

func isReplyHeader(lines []string, i int) bool {
	l := strings.TrimSpace(lines[i])
	if l == "" || len(l) > 400 {
		return false
	}
	if replyHeaderRe.MatchString(l) {
		return true
	}
	// Wrapped header: "On Mon, … John Doe <" / "john@x> wrote:".
	if i+1 < len(lines) {
		j := l + " " + strings.TrimSpace(lines[i+1])
		if len(j) < 400 && replyHeaderRe.MatchString(j) {
			return true
		}
	}
	return false
}

// outlookBlock reports whether a From: line at i is followed within four lines by Sent:/Date:.
func outlookBlock(lines []string, i int) bool {
	for j := i + 1; j < len(lines) && j <= i+4; j++ {
		if outlookSentRe.MatchString(lines[j]) {
			return true
		}
	}
	return false
}

func nextNonBlank(lines []string, i int) string {
	for ; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "" {
			return lines[i]
		}
	}
	return ""
}
