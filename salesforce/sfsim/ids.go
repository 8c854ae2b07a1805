package sfsim

import "strings"

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// idSuffix computes the 3-character case-safe suffix Salesforce appends to a
// 15-character ID: each 5-character chunk gives a 5-bit mask of its upper-case
// letters, mapped onto A-Z0-5.
func idSuffix(id15 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	var b [3]byte
	for chunk := 0; chunk < 3; chunk++ {
		mask := 0
		for i := 0; i < 5; i++ {
			c := id15[chunk*5+i]
			if c >= 'A' && c <= 'Z' {
				mask |= 1 << i
			}
		}
		b[chunk] = alphabet[mask]
	}
	return string(b[:])
}

// makeID builds an 18-character ID: key prefix, a fixed pod part, then a
// base-62 sequence number.
func makeID(prefix string, seq int64) string {
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = base62[seq%62]
		seq /= 62
	}
	id15 := prefix + "Sm0" + string(digits[:])
	return id15 + idSuffix(id15)
}

// normalizeID turns a 15- or 18-character ID into the 18-character form; ok is
// false when s is not a well-formed ID.
func normalizeID(s string) (string, bool) {
	if len(s) != 15 && len(s) != 18 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return "", false
		}
	}
	suffix := idSuffix(s[:15])
	if len(s) == 18 {
		// The suffix is case-insensitive on input, as in Salesforce.
		if !strings.EqualFold(s[15:], suffix) {
			return "", false
		}
	}
	return s[:15] + suffix, true
}
