package classify

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/abadojack/whatlanggo"
)

// Explainable signals for priority, sentiment and escalation, in English,
// German, French, Spanish, Dutch, Italian and Portuguese. Each matched term is
// named in the explanation, so an agent can see why.

var (
	urgentLex = newLexicon(`urgent*`, `asap`, `as soon as possible`, `immediately`, `right now`, `emergency`, `critical`, `time sensitive`,
		`deadline`, `cannot wait`, `can't wait`, `still waiting`, `dringend`, `sofort`, `eilig`, `notfall`, `umgehend`, `schnellstmöglich`,
		`immédiatement`, `tout de suite`, `au plus vite`, `inmediatamente`, `cuanto antes`, `lo antes posible`,
		`spoed`, `onmiddellijk`, `zo snel mogelijk`, `subito`, `immediatamente`, `al più presto`, `imediatamente`, `o mais rápido possível`)
	legalLex = newLexicon(`lawyer*`, `attorney*`, `solicitor*`, `sue`, `suing`, `lawsuit*`, `legal action`, `court`, `small claims`, `class action`, `ombudsman`,
		`consumer protection`, `chargeback`, `anwalt`, `rechtsanwalt*`, `anwältin`, `klage`, `verklagen`, `gericht`, `rechtliche schritte`, `verbraucherzentrale`,
		`avocat*`, `poursuite*`, `tribunal`, `action en justice`, `abogado*`, `demandaré`, `demandar`, `acciones legales`, `advocaat`, `rechtszaak`, `aanklacht`,
		`avvocato`, `tribunale`, `advogado`, `processo judicial`, `processar`)
	churnLex = newLexicon(`cancel my subscription`, `cancel our subscription`, `cancel my contract`, `cancel our contract`, `cancel my membership`,
		`switch to a competitor`, `switch to another provider`, `switching to a competitor`, `switching to another provider`, `take my business elsewhere`,
		`never buy from you again`, `never order from you again`, `terminate my contract`, `terminate our contract`, `leaving for a competitor`,
		`kündigen`, `kündigung`, `vertrag beenden`, `anbieter wechseln`, `résilier`, `résiliation`, `changer de fournisseur`, `darme de baja`,
		`cancelar mi suscripción`, `opzeggen`, `overstappen`, `disdire`, `disdetta`, `cancelar minha assinatura`, `rescindir`)
	safetyLex = newLexicon(`fire`, `caught fire`, `smoke`, `smoking`, `burn`, `burned`, `burnt`, `burns`, `exploded`, `explodes`, `explode`, `electric shock`,
		`injury`, `injured`, `injuries`, `hurt`, `hospital`, `dangerous`, `hazard`, `choking`, `toxic`, `poison*`, `overheat*`, `spark`, `sparks`,
		`rauch`, `verletzt`, `verletzung`, `gefährlich`, `stromschlag`, `feu`, `fumée`, `blessé`, `blessure`, `dangereux`, `incendio`, `humo`, `herido`,
		`lesión`, `peligroso`, `vuur`, `rook`, `gewond`, `gevaarlijk`, `fuoco`, `fumo`, `ferito`, `pericoloso`, `fogo`, `fumaça`, `ferido`, `perigoso`)
	// privacyLex: data-protection requests have legal deadlines (GDPR art. 12: one month).
	privacyLex = newLexicon(`gdpr`, `dsgvo`, `rgpd`, `lgpd`, `right to erasure`, `right to be forgotten`, `subject access request`, `data subject`,
		`delete my personal data`, `erase my personal data`, `erasure of my personal data`, `datenschutzbeauftragte*`, `datenauskunft`, `auskunft nach art`,
		`données personnelles`, `datos personales`, `persoonsgegevens`, `dati personali`, `dados pessoais`)
	// problemLex: something is wrong (priority at least medium).
	problemLex = newLexicon(`broken`, `missing`, `wrong`, `incorrect`, `error*`, `failed`, `fails`, `failing`, `not working`, `doesn't work`, `does not work`,
		`never arrived`, `not arrived`, `hasn't arrived`, `has not arrived`, `never arrives`, `damaged`, `declined`, `charged twice`, `double charge*`, `defect*`, `faulty`,
		`not received`, `haven't received`, `have not received`, `still not`, `problem*`, `issue*`, `kaputt`, `fehlt`, `falsch*`, `fehler*`, `funktioniert nicht`, `defekt`,
		`nicht angekommen`, `manquant*`, `cassé*`, `erreur*`, `ne fonctionne pas`, `pas reçu`, `roto`, `rota`, `falta`, `no funciona`, `no ha llegado`, `kapot`, `ontbreekt`,
		`fout*`, `werkt niet`, `niet ontvangen`, `rotto`, `manca`, `non funziona`, `quebrado`, `erro`, `não funciona`, `não chegou`)
	// blockedLex: the customer cannot work (priority high).
	blockedLex = newLexicon(`outage`, `down`, `locked out`, `can't log in`, `cannot log in`, `can't login`, `unable to log in`, `can't sign in`, `cannot sign in`,
		`can't access`, `cannot access`, `unable to access`, `suspended`, `suspension`, `blocking`, `blocked`, `crash*`, `not able to open`, `production`,
		`stürzt ab`, `abgestürzt`, `gesperrt`, `ausfall`, `bloqué*`, `panne`, `bloquead*`, `caído`, `geblokkeerd`, `storing`, `bloccat*`, `bloquead*`, `fora do ar`)
	// questionLex: an information request (priority low when nothing is wrong).
	questionLex = newLexicon(`how do i`, `how can i`, `how to`, `can i`, `can you tell`, `do you`, `is it possible`, `what is`, `what are`, `where can i`, `which`,
		`wie kann`, `wie`, `gibt es`, `kann ich`, `comment`, `est-ce que`, `quels`, `quelles`, `cómo`, `puedo`, `aceptan`, `hay`, `hoe`, `kan ik`, `welke`,
		`zijn er`, `come`, `posso`, `como`, `é possível`)
	resolvedLex = newLexicon(`issue is resolved`, `issue has been resolved`, `problem is resolved`, `problem has been resolved`, `issue is solved`,
		`problem is solved`, `issue is fixed`, `problem is fixed`, `it's fixed`, `it is fixed`, `it's resolved`, `is now resolved`, `works now`, `working now`,
		`nevermind`, `never mind`, `no longer need`, `problem solved`, `all sorted`, `please close`, `please disregard`, `hat sich erledigt`, `ist gelöst`,
		`funktioniert wieder`, `c'est réglé`, `problème résolu`, `ça marche maintenant`, `ya está resuelto`, `ya funciona`, `problema resuelto`,
		`is opgelost`, `werkt weer`, `è risolto`, `funziona di nuovo`, `está resolvido`, `já funciona`)
)

// lexicon matches phrases word by word; a word ending in '*' matches as a prefix.
type lexicon struct {
	byFirst  map[string][][]string
	prefixed [][]string // phrases whose first word is a prefix pattern
}

func newLexicon(phrases ...string) *lexicon {
	l := &lexicon{byFirst: map[string][][]string{}}
	for _, p := range phrases {
		w := strings.Fields(p)
		if strings.HasSuffix(w[0], "*") {
			l.prefixed = append(l.prefixed, w)
		} else {
			l.byFirst[w[0]] = append(l.byFirst[w[0]], w)
		}
	}
	return l
}

func wordMatch(pat, w string) bool {
	if p, ok := strings.CutSuffix(pat, "*"); ok {
		return strings.HasPrefix(w, p)
	}
	return pat == w
}

// find returns up to three distinct phrases of l found in words.
func (l *lexicon) find(words []string) []string {
	var out []string
	try := func(i int, ph []string) {
		if i+len(ph) > len(words) {
			return
		}
		for j, pw := range ph {
			if !wordMatch(pw, words[i+j]) {
				return
			}
		}
		m := strings.Join(words[i:i+len(ph)], " ")
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	for i, w := range words {
		for _, ph := range l.byFirst[w] {
			try(i, ph)
		}
		for _, ph := range l.prefixed {
			try(i, ph)
		}
		if len(out) >= 3 {
			break
		}
	}
	return out
}

// lowerWords splits text into lower-case words (letters and apostrophes).
func lowerWords(text string) []string {
	text = strings.ReplaceAll(text, "’", "'")
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' && r != '*' })
}

// Sentiment lexicon (lower case). Strong negatives also count toward "angry".
var (
	positiveWords = wordSet(`thanks thank great excellent happy pleased love wonderful amazing perfect helpful appreciate appreciated awesome good fantastic glad satisfied
		danke super toll zufrieden hervorragend prima klasse merci génial parfait excellent ravi satisfait gracias genial perfecto excelente contento encantado
		bedankt geweldig tevreden uitstekend fijn grazie ottimo perfetto contento soddisfatto obrigado obrigada ótimo perfeito satisfeito`)
	negativeWords = wordSet(`bad poor problem issue broken wrong error fail failed failing disappointed unhappy annoyed frustrated frustrating slow late missing damaged
		complaint complain terrible awful horrible worst useless unacceptable ridiculous angry furious outraged disgusted disgusting scam fraud incompetent
		pathetic joke nightmare shameful hate damn bloody crap hell
		schlecht kaputt fehler falsch enttäuscht verärgert ärgerlich beschwerde schrecklich furchtbar unmöglich inakzeptabel wütend betrug frechheit
		mauvais cassé erreur déçu mécontent plainte terrible horrible inacceptable furieux arnaque honteux nul
		malo roto error decepcionado molesto queja terrible horrible inaceptable furioso estafa vergüenza
		slecht kapot fout teleurgesteld boos klacht vreselijk onacceptabel oplichting
		cattivo rotto errore deluso arrabbiato reclamo terribile inaccettabile truffa vergogna
		ruim quebrado erro decepcionado irritado reclamação terrível inaceitável furioso golpe`)
	strongNegative = wordSet(`terrible awful horrible worst useless unacceptable ridiculous angry furious outraged disgusted disgusting scam fraud incompetent pathetic
		nightmare shameful hate damn bloody crap frechheit inakzeptabel wütend betrug unmöglich inacceptable furieux arnaque honteux inaceptable furioso estafa
		onacceptabel oplichting inaccettabile truffa inaceitável golpe`)
	negators = wordSet(`not no never don't doesn't didn't isn't wasn't can't cannot won't nicht kein keine nie pas jamais ne no nunca niet geen nooit non mai não nunca`)
)

func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// sentimentScore is a lexicon score with negation (a negator flips the next
// two words) plus the number of strong negatives and shouting signs.
type sentimentScore struct {
	pos, neg, strong int
	shout            bool // !!! or several all-caps words
}

func scoreSentiment(text string, words []string) sentimentScore {
	var s sentimentScore
	negate := 0
	caps := 0
	for _, w := range strings.Fields(text) {
		if len(w) >= 4 && strings.ToUpper(w) == w && strings.ToLower(w) != w {
			caps++
		}
	}
	for _, w := range words {
		lw := strings.Trim(w, "'")
		if strings.Contains(lw, "**") { // "f******" in Bitext's offensive variants
			s.neg++
			s.strong++
			continue
		}
		switch {
		case negators[lw]:
			negate = 2
			continue
		case positiveWords[lw]:
			if negate > 0 {
				s.neg++
			} else {
				s.pos++
			}
		case negativeWords[lw]:
			if negate > 0 {
				s.pos++ // "not bad": weakly positive
			} else {
				s.neg++
				if strongNegative[lw] {
					s.strong++
				}
			}
		}
		if negate > 0 {
			negate--
		}
	}
	s.shout = strings.Contains(text, "!!!") || caps >= 3
	return s
}

// label maps the score to a sentiment and a confidence.
func (s sentimentScore) label() (string, float64) {
	d := s.pos - s.neg
	switch {
	case s.strong > 0 || d <= -2:
		return "negative", 0.9
	case d < 0:
		return "negative", 0.7
	case d >= 2:
		return "positive", 0.85
	case d > 0:
		return "positive", 0.65
	}
	if s.pos == 0 && s.neg == 0 {
		return "neutral", 0.7
	}
	return "neutral", 0.55
}

func (s sentimentScore) angry() bool { return s.strong >= 2 || (s.strong >= 1 && s.shout) }

// detectLanguage returns a BCP 47 tag and a confidence, restricted to the
// languages a European support desk sees so short texts aren't taken for
// something exotic.
var langWhitelist = map[whatlanggo.Lang]bool{
	whatlanggo.Eng: true, whatlanggo.Deu: true, whatlanggo.Fra: true, whatlanggo.Spa: true, whatlanggo.Nld: true,
	whatlanggo.Ita: true, whatlanggo.Por: true, whatlanggo.Rus: true, whatlanggo.Ukr: true, whatlanggo.Jpn: true, whatlanggo.Cmn: true, whatlanggo.Kor: true, whatlanggo.Arb: true,
}

// Function words of the languages the signals cover. Counting them decides
// most emails in a few microseconds; whatlanggo (trigram profiles, ~100 µs)
// decides the rest.
var stopwords = map[string][]string{
	"en": strings.Fields("the and to of is it you that for my have with this on be are not can your was me please would what how do i"),
	"de": strings.Fields("der die das und ist nicht ich sie mit den ein eine zu auf für mein meine ihr ihre wie wir bitte haben kann von dem"),
	"fr": strings.Fields("le la les et est je vous de des une un pour pas mon ma mes que qui sur avec votre vos merci comment ce dans"),
	"es": strings.Fields("el la los las y es no que de en un una por para mi mis con su sus como gracias quiero puedo del al está"),
	"nl": strings.Fields("de het een en is niet ik u je mijn met van op voor dat die zijn kan hoe wat graag bedankt heb wil"),
	"it": strings.Fields("il lo la gli le e è non che di un una per mio mia con come grazie sono ho vorrei può del della"),
	"pt": strings.Fields("o a os as e é não que de em um uma para meu minha com como obrigado obrigada estou tenho quero pode do da"),
}

var stopwordLang = func() map[string][]string {
	m := map[string][]string{}
	for lang, ws := range stopwords {
		for _, w := range ws {
			m[w] = append(m[w], lang)
		}
	}
	return m
}()

func stopwordLanguage(words []string) (string, float64, bool) {
	var counts [7]int
	langs := [7]string{"en", "de", "fr", "es", "nl", "it", "pt"}
	total := 0
	for _, w := range words {
		for _, l := range stopwordLang[w] {
			for i := range langs {
				if langs[i] == l {
					counts[i]++
				}
			}
			total++
		}
	}
	best, second := 0, -1
	for i := 1; i < len(counts); i++ {
		if counts[i] > counts[best] {
			best = i
		}
	}
	for i := range counts {
		if i != best && (second < 0 || counts[i] > counts[second]) {
			second = i
		}
	}
	b, s := counts[best], counts[second]
	if (b >= 3 && b >= 2*s+1) || (b >= 2 && s == 0) {
		return langs[best], min(0.99, 0.5+0.5*float64(b-s)/float64(b+1)), true
	}
	return "", 0, false
}

func detectLanguage(text string, words []string) (string, float64) {
	if strings.TrimSpace(text) == "" {
		return "und", 0
	}
	if l, c, ok := stopwordLanguage(words); ok {
		return l, c
	}
	// The first few hundred bytes decide the language; whatlanggo's cost grows with length.
	if len(text) > 160 {
		cut := 160
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	info := whatlanggo.DetectWithOptions(text, whatlanggo.Options{Whitelist: langWhitelist})
	code := info.Lang.Iso6391()
	if code == "" {
		return "und", 0
	}
	return code, info.Confidence
}

// summarize returns the first sentences of text up to ~300 characters, on one line.
func summarize(subject, text string) string {
	t := strings.Join(strings.Fields(text), " ")
	if t == "" {
		t = strings.Join(strings.Fields(subject), " ")
	}
	const max = 300
	if len(t) <= max {
		return t
	}
	cut := strings.LastIndexAny(t[:max], ".!?")
	if cut < 80 {
		cut = strings.LastIndex(t[:max], " ")
		if cut < 0 {
			cut = max
		}
		return t[:cut] + " …"
	}
	return t[:cut+1]
}
