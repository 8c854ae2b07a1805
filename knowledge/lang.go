package knowledge

import "strings"

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
