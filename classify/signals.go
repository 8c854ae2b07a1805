package classify

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/abadojack/whatlanggo"
)

// Explainable signals for priority, sentiment and escalation, in English,
// German, French, Spanish, Dutch, Italian and Portuguese. Each matched term is
// named in the explanation, so an agent can see why.

func termRe(terms ...string) *regexp.Regexp {
	return regexp.MustCompile(`(?i)(?:^|[^\p{L}])(` + strings.Join(terms, "|") + `)(?:[^\p{L}]|$)`)
}

var (
	urgentRe = termRe(`urgent(?:ly)?`, `asap`, `as soon as possible`, `immediately`, `right now`, `emergency`, `critical`, `time[- ]sensitive`,
		`deadline`, `cannot wait`, `can't wait`, `still waiting`, `dringend`, `sofort`, `eilig`, `notfall`, `umgehend`, `schnellstmöglich`,
		`urgente?`, `immédiatement`, `tout de suite`, `au plus vite`, `inmediatamente`, `cuanto antes`, `lo antes posible`, `urgentemente`,
		`spoed`, `dringend`, `onmiddellijk`, `zo snel mogelijk`, `subito`, `immediatamente`, `al più presto`, `imediatamente`, `o mais rápido possível`)
	legalRe = termRe(`lawyers?`, `attorneys?`, `solicitors?`, `sue`, `suing`, `lawsuit`, `legal action`, `court`, `small claims`, `class action`, `ombudsman`,
		`consumer protection`, `chargeback`, `anwalt`, `rechtsanwalt`, `anwältin`, `klage`, `verklagen`, `gericht`, `rechtliche schritte`, `verbraucherzentrale`,
		`avocats?`, `poursuites?`, `tribunal`, `action en justice`, `abogados?`, `demandaré`, `demandar`, `acciones legales`, `advocaat`, `rechtszaak`, `aanklacht`,
		`avvocato`, `denuncia`, `tribunale`, `advogado`, `processo judicial`, `processar`)
	churnRe = termRe(`cancel (?:my|our|the) (?:subscription|contract|account|membership)`, `close my account`, `switch(?:ing)? to (?:a |another )?(?:competitor|provider)`,
		`take my business elsewhere`, `never (?:buy|order) (?:from you )?again`, `leaving you`, `terminate (?:my|our|the) contract`, `delete my account`,
		`kündigen`, `kündigung`, `vertrag beenden`, `anbieter wechseln`, `résilier`, `résiliation`, `changer de fournisseur`, `darme de baja`, `dar de baja`,
		`cancelar mi suscripción`, `opzeggen`, `overstappen`, `disdire`, `disdetta`, `cancelar minha assinatura`, `rescindir`)
	safetyRe = termRe(`fire`, `caught fire`, `smoke`, `smoking`, `burn(?:ed|t|s)?`, `explod(?:ed|es|e)`, `electric shock`, `injur(?:y|ed|ies)`, `hurt`, `hospital`,
		`dangerous`, `hazard`, `choking`, `toxic`, `poison(?:ed|ing)?`, `overheat(?:ed|ing|s)?`, `sparks?`, `rauch`, `verletzt`, `verletzung`, `gefährlich`,
		`stromschlag`, `feu`, `fumée`, `blessé`, `blessure`, `dangereux`, `incendio`, `humo`, `herido`, `lesión`, `peligroso`, `vuur`, `rook`, `gewond`, `gevaarlijk`,
		`fuoco`, `fumo`, `ferito`, `pericoloso`, `fogo`, `fumaça`, `ferido`, `perigoso`)
	resolvedRe = termRe(`(?:issue|problem|it)(?:'s| is| has been| was) (?:now )?(?:resolved|solved|fixed|sorted)`, `works now`, `working now`, `never ?mind`,
		`no longer need`, `problem solved`, `all sorted`, `please (?:close|disregard)`, `hat sich erledigt`, `ist gelöst`, `funktioniert wieder`,
		`c'est réglé`, `problème résolu`, `ça marche maintenant`, `ya está resuelto`, `ya funciona`, `problema resuelto`, `is opgelost`, `werkt weer`,
		`è risolto`, `funziona di nuovo`, `está resolvido`, `já funciona`)
)

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

func scoreSentiment(text string) sentimentScore {
	var s sentimentScore
	negate := 0
	caps := 0
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' && r != '*' }) {
		if len([]rune(w)) >= 4 && strings.ToUpper(w) == w && strings.ToLower(w) != w {
			caps++
		}
		lw := strings.ToLower(strings.Trim(w, "'"))
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
	whatlanggo.Ita: true, whatlanggo.Por: true, whatlanggo.Pol: true, whatlanggo.Swe: true, whatlanggo.Dan: true,
	whatlanggo.Nob: true, whatlanggo.Fin: true, whatlanggo.Ces: true, whatlanggo.Rus: true, whatlanggo.Tur: true,
	whatlanggo.Jpn: true, whatlanggo.Cmn: true, whatlanggo.Kor: true, whatlanggo.Arb: true, whatlanggo.Ukr: true,
}

func detectLanguage(text string) (string, float64) {
	if strings.TrimSpace(text) == "" {
		return "und", 0
	}
	info := whatlanggo.DetectWithOptions(text, whatlanggo.Options{Whitelist: langWhitelist})
	code := info.Lang.Iso6391()
	if code == "" {
		return "und", 0
	}
	return code, info.Confidence
}

// matches returns the distinct terms of re found in text (at most 3, for explanations).
func matches(re *regexp.Regexp, text string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		t := strings.ToLower(m[1])
		dup := false
		for _, o := range out {
			dup = dup || o == t
		}
		if !dup {
			out = append(out, t)
		}
		if len(out) == 3 {
			break
		}
	}
	return out
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
