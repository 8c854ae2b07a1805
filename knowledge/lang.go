package knowledge

import (
	"strings"

	"github.com/abadojack/whatlanggo"
)

// detectable are the languages detection may answer: the ones with their own
// analysis. Short English texts otherwise come back as Dutch or Afrikaans,
// and lose stemming and stop words.
var detectable = map[whatlanggo.Lang]bool{whatlanggo.Eng: true, whatlanggo.Deu: true, whatlanggo.Fra: true, whatlanggo.Spa: true}

// detect guesses the language of text among the supported ones; def when unsure.
func detect(text, def string) string {
	info := whatlanggo.DetectWithOptions(text, whatlanggo.Options{Whitelist: detectable})
	if info.IsReliable() {
		if l := langBase(info.Lang.Iso6391()); l != "" {
			return l
		}
	}
	return langBase(def)
}

// langBase reduces a language tag (en_US, de-DE, "fr") to its lower-case
// two- or three-letter base; "" when it is not a tag.
func langBase(tag string) string {
	tag = strings.ToLower(strings.TrimSpace(tag))
	if i := strings.IndexAny(tag, "_-"); i >= 0 {
		tag = tag[:i]
	}
	if len(tag) < 2 || len(tag) > 3 {
		return ""
	}
	for _, r := range tag {
		if r < 'a' || r > 'z' {
			return ""
		}
	}
	return tag
}
