package classify

import (
	"regexp"
	"strings"
)

// Instruction-like text aimed at a language model, in English, German, French,
// Spanish, Dutch, Italian and Portuguese, plus chat-template markers. A match
// flags injection_suspected; it does not change what the LLM may output, which
// the schema and validation already restrict.
var injectionRes = []struct {
	hints []string // lower-case substrings; the expression runs only if one is present
	re    *regexp.Regexp
}{
	{[]string{"ignor", "disregard", "forget", "override", "bypass"}, regexp.MustCompile(`(?i)\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(previous|prior|above|earlier|all|any|your|the|system)\b.{0,20}\b(instructions?|prompts?|rules|directions|guidelines|context)`)},
	{[]string{"you are", "you're", "act as", "pretend", "instruction"}, regexp.MustCompile(`(?i)\b(you are|you're) (now|no longer)\b|\bact as (an?|the)\b|\bpretend (to be|you are)\b|\bnew instructions?\s*:`)},
	{[]string{"prompt", "developer mode", "jailbreak"}, regexp.MustCompile(`(?i)\b(system prompt|developer mode|jailbreak|prompt injection)\b`)},
	{[]string{"classif", "categori", "label", "mark", "flag", "tag"}, regexp.MustCompile(`(?i)\b(classify|categori[sz]e|label|mark|flag|tag)\b.{0,30}\b(this|the|my)\b.{0,20}\b(email|message|ticket|case|request)\b.{0,10}\bas\b`)},
	{[]string{"priority", "category", "escalat", "confidence"}, regexp.MustCompile(`(?i)\bset\b.{0,20}\b(priority|category|escalat\w*|confidence)\b.{0,10}\b(to|=|:)`)},
	{[]string{"respond", "reply", "answer", "output"}, regexp.MustCompile(`(?i)\b(respond|reply|answer|output)\b.{0,20}\b(only )?with\b.{0,30}\b(json|"category"|priority)`)},
	{[]string{"ai", "chatbot", "llm", "gpt", "language model"}, regexp.MustCompile(`(?i)\b(AI|chatbot|LLM|GPT|language model)\b.{0,30}\b(must|should|shall|need to|have to)\b`)},
	{[]string{"<|", "[inst", "[/inst", "<<sys", "system", "assistant", "###"}, regexp.MustCompile(`(?im)(<\|im_start\|>|<\|im_end\|>|<\|system\|>|\[INST\]|\[/INST\]|<<SYS>>|^\s*(system|assistant)\s*:|###\s*(instruction|system))`)},
	{[]string{"ignorier", "vergiss", "missachte"}, regexp.MustCompile(`(?i)\b(ignoriere|vergiss|missachte)\b.{0,40}\b(anweisungen|instruktionen|regeln|vorgaben)\b`)},
	{[]string{"ignore", "oublie"}, regexp.MustCompile(`(?i)\b(ignore[zr]?|oublie[zr]?)\b.{0,40}\b(instructions|consignes|règles)\b`)},
	{[]string{"ignora", "olvida", "omite"}, regexp.MustCompile(`(?i)\b(ignora|olvida|omite)\b.{0,40}\b(instrucciones|reglas|indicaciones)\b`)},
	{[]string{"negeer", "vergeet"}, regexp.MustCompile(`(?i)\b(negeer|vergeet)\b.{0,40}\b(instructies|regels|opdrachten)\b`)},
	{[]string{"ignora", "dimentica"}, regexp.MustCompile(`(?i)\b(ignora|dimentica)\b.{0,40}\b(istruzioni|regole)\b`)},
	{[]string{"ignore", "ignora", "esqueç", "esquec"}, regexp.MustCompile(`(?i)\b(ignore|ignora|esqueça|esqueca)\b.{0,40}\b(instruções|instrucoes|regras)\b`)},
	{[]string{"du bist", "tu es", "ahora eres", "je bent", "ora sei", "agora você"}, regexp.MustCompile(`(?i)\b(du bist jetzt|tu es maintenant|ahora eres|je bent nu|ora sei|agora você é)\b`)},
}

// InjectionSuspected reports whether text holds instruction-like text aimed at a model.
func InjectionSuspected(text string) bool {
	lower := strings.ToLower(text)
	for _, p := range injectionRes {
		for _, h := range p.hints {
			if strings.Contains(lower, h) {
				if p.re.MatchString(text) {
					return true
				}
				break
			}
		}
	}
	return false
}
