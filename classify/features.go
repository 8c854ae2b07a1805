package classify

import (
	"unicode"
	"unicode/utf8"
)

// Feature hashing: word unigrams, word bigrams and character 3–5-grams of each
// word (with boundary marks, so typos still share most features), hashed with
// FNV-1a into dim buckets. Digits collapse to '0' so order numbers don't
// become features of their own.

const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

type featurizer struct {
	dim  uint32 // power of two
	word []byte // scratch: current lower-cased word with boundary marks
}

func fnvBytes(h uint32, b []byte) uint32 {
	for _, c := range b {
		h ^= uint32(c)
		h *= fnvPrime
	}
	return h
}

// features appends the hashed feature indices of text to dst. ns separates
// namespaces (0 body, 1 subject) so a subject word has its own weight.
func (f *featurizer) features(dst []uint32, text string, ns uint32) []uint32 {
	mask := f.dim - 1
	seed := uint32(fnvOffset) ^ (ns * 0x5bd1e995)
	var prev uint32 // hash of previous word, 0 = none
	f.word = f.word[:0]
	flush := func() {
		if len(f.word) == 0 {
			return
		}
		w := f.word
		hw := fnvBytes(seed^'w', w)
		dst = append(dst, hw&mask)
		if prev != 0 {
			dst = append(dst, (prev*31+hw^0x9e3779b9)&mask)
		}
		prev = hw
		// char n-grams over "<word>"
		var buf [64]byte
		n := copy(buf[1:63], w)
		buf[0] = '<'
		buf[n+1] = '>'
		b := buf[:n+2]
		for size := 3; size <= 5; size++ {
			for i := 0; i+size <= len(b); i++ {
				dst = append(dst, fnvBytes(seed^uint32(size), b[i:i+size])&mask)
			}
		}
		f.word = f.word[:0]
	}
	for _, r := range text {
		switch {
		case unicode.IsLetter(r):
			r = unicode.ToLower(r)
			f.word = utf8.AppendRune(f.word, r)
		case r >= '0' && r <= '9' || unicode.IsDigit(r):
			if n := len(f.word); n == 0 || f.word[n-1] != '0' {
				f.word = append(f.word, '0')
			}
		case r == '\'' || r == '’':
			// keep contractions together: don't, can't
		default:
			flush()
		}
	}
	flush()
	return dst
}

// EstimateTokens approximates BPE token counts (cl100k-like): a word costs one
// token per ~4 letters, each punctuation mark one token.
func EstimateTokens(s string) int {
	n, run := 0, 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			run++
		default:
			if run > 0 {
				n += 1 + (run-1)/4
				run = 0
			}
			if !unicode.IsSpace(r) {
				n++
			}
		}
	}
	if run > 0 {
		n += 1 + (run-1)/4
	}
	return n
}

// TruncateTokens cuts s so that EstimateTokens(s) <= budget, at a word boundary.
func TruncateTokens(s string, budget int) (string, int) {
	n, run := 0, 0
	lastCut := 0
	for i, r := range s {
		isWord := unicode.IsLetter(r) || unicode.IsDigit(r)
		if !isWord && run > 0 {
			n += 1 + (run-1)/4
			run = 0
			if n > budget {
				return s[:lastCut], EstimateTokens(s[:lastCut])
			}
			lastCut = i
		}
		if isWord {
			run++
			continue
		}
		if !unicode.IsSpace(r) {
			n++
			if n > budget {
				return s[:lastCut], EstimateTokens(s[:lastCut])
			}
		}
		lastCut = i
	}
	if run > 0 {
		n += 1 + (run-1)/4
	}
	if n > budget {
		return s[:lastCut], EstimateTokens(s[:lastCut])
	}
	return s, n
}
