package knowledge

import "strings"

// Light stemmers. They conflate inflections (plural, tense, common derivations)
// rather than reproduce Snowball exactly: index and query pass through the same
// function, so only consistency matters, and light stemming over-merges less
// than Porter on short support texts. German, French and Spanish follow the
// shape of J. Savoy's light stemmers for those languages.

// SupportedLanguages are the languages with their own stop words and stemmer;
// any other language is indexed with folding only.
var SupportedLanguages = []string{"en", "de", "fr", "es"}

func stemmer(lang string) func(string) string {
	switch lang {
	case "en":
		return stemEN
	case "de":
		return stemDE
	case "fr":
		return stemFR
	case "es":
		return stemES
	}
	return func(s string) string { return s }
}

func hasVowel(s string) bool { return strings.ContainsAny(s, "aeiouy") }

func undouble(s string) string {
	n := len(s)
	if n >= 4 && s[n-1] == s[n-2] && !strings.ContainsRune("aeiouslz", rune(s[n-1])) {
		return s[:n-1]
	}
	return s
}

func stemEN(w string) string {
	w = strings.TrimSuffix(strings.TrimSuffix(w, "'s"), "’s")
	n := len(w)
	if n <= 3 {
		return w
	}
	// plurals
	switch {
	case strings.HasSuffix(w, "sses"):
		w = w[:n-2]
	case strings.HasSuffix(w, "ies") && n > 4:
		w = w[:n-3] + "y"
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
	case strings.HasSuffix(w, "s"):
		w = w[:n-1]
	}
	// derivations and tenses; keep a stem of at least three letters with a vowel
	for _, suf := range []string{"ications", "ication", "ations", "ation", "ments", "ingly", "ings", "ing", "edly", "ed", "ly"} {
		if strings.HasSuffix(w, suf) {
			stem := w[:len(w)-len(suf)]
			if len(stem) >= 3 && hasVowel(stem) {
				if strings.HasPrefix(suf, "ication") {
					stem += "i"
				}
				if suf == "ments" {
					stem += "ment"
				}
				w = undouble(stem)
			}
			break
		}
	}
	if strings.HasSuffix(w, "y") && len(w) > 3 && !strings.ContainsRune("aeiou", rune(w[len(w)-2])) {
		w = w[:len(w)-1] + "i"
	}
	if strings.HasSuffix(w, "e") && len(w) > 3 {
		w = w[:len(w)-1]
	}
	// cancel/cancelled/cancellation: applied to every word so bases and
	// inflections agree (install → instal as well as installed → instal).
	if len(w) >= 5 && strings.HasSuffix(w, "ll") {
		w = w[:len(w)-1]
	}
	return w
}

func stemDE(w string) string {
	w = strings.NewReplacer("ä", "a", "ö", "o", "ü", "u", "ß", "ss").Replace(w)
	n := len(w)
	// step 1: inflection endings
	switch {
	case n > 6 && strings.HasSuffix(w, "ern"):
		w = w[:n-3]
	case n > 5 && (strings.HasSuffix(w, "em") || strings.HasSuffix(w, "en") || strings.HasSuffix(w, "er") || strings.HasSuffix(w, "es")):
		w = w[:n-2]
	case n > 4 && strings.HasSuffix(w, "e"):
		w = w[:n-1]
	case n > 4 && strings.HasSuffix(w, "s") && strings.ContainsRune("bdfghklmnrt", rune(w[n-2])):
		w = w[:n-1]
	}
	n = len(w)
	// step 2: comparative/superlative and verb endings
	switch {
	case n > 6 && strings.HasSuffix(w, "est"):
		w = w[:n-3]
	case n > 5 && (strings.HasSuffix(w, "er") || strings.HasSuffix(w, "en")):
		w = w[:n-2]
	case n > 5 && strings.HasSuffix(w, "st") && strings.ContainsRune("bdfghklmnt", rune(w[n-3])):
		w = w[:n-2]
	}
	return w
}

var frSuffixes = []string{
	"issements", "issement", "atrices", "atrice", "ateurs", "ateur", "ations", "ation",
	"ements", "ement", "ences", "ence", "ances", "ance", "ables", "able", "iques", "ique",
	"istes", "iste", "ismes", "isme", "euses", "euse", "ités", "ité", "ives", "ive", "ifs", "if",
	"ées", "és", "ée", "é", "ions", "ez", "er", "ir", "es", "e",
}

func stemFR(w string) string {
	// elided articles arrive split by words(); plural first
	n := len([]rune(w))
	if n > 4 && (strings.HasSuffix(w, "aux")) {
		w = strings.TrimSuffix(w, "aux") + "al"
	} else if n > 3 && (strings.HasSuffix(w, "s") || strings.HasSuffix(w, "x")) && !strings.HasSuffix(w, "ss") {
		w = w[:len(w)-1]
	}
	for _, suf := range frSuffixes {
		if strings.HasSuffix(w, suf) {
			stem := strings.TrimSuffix(w, suf)
			if len([]rune(stem)) >= 3 {
				w = stem
			}
			break
		}
	}
	return undouble(w)
}

var esSuffixes = []string{
	"amientos", "imientos", "amiento", "imiento", "aciones", "uciones", "ación", "ución", "adoras", "adores", "adora", "ador",
	"ancias", "ancia", "encias", "encia", "mente", "idades", "idad", "ibles", "ible", "ables", "able",
	"ando", "iendo", "adas", "ados", "idas", "idos", "ada", "ado", "ida", "ido", "ar", "er", "ir",
}

func stemES(w string) string {
	w = strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u").Replace(w)
	n := len(w)
	switch {
	case n > 5 && strings.HasSuffix(w, "ces"):
		w = w[:n-3] + "z"
	case n > 4 && strings.HasSuffix(w, "es") && !strings.ContainsRune("aeiou", rune(w[n-3])):
		w = w[:n-2]
	case n > 3 && strings.HasSuffix(w, "s"):
		w = w[:n-1]
	}
	for _, suf := range esSuffixes {
		if strings.HasSuffix(w, suf) {
			stem := strings.TrimSuffix(w, suf)
			if len(stem) >= 3 {
				w = stem
			}
			break
		}
	}
	if len(w) > 4 && strings.ContainsRune("aoe", rune(w[len(w)-1])) {
		w = w[:len(w)-1]
	}
	return w
}
