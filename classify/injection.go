package classify

import "regexp"

// Instruction-like text aimed at a language model, in English, German, French,
// Spanish, Dutch, Italian and Portuguese, plus chat-template markers. A match
// flags injection_suspected; it does not change what the LLM may output, which
// the schema and validation already restrict.
var injectionRes = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(previous|prior|above|earlier|all|any|your|the|system)\b.{0,20}\b(instructions?|prompts?|rules|directions|guidelines|context)`),
	regexp.MustCompile(`(?i)\b(you are|you're) (now|no longer)\b|\bact as (an?|the)\b|\bpretend (to be|you are)\b|\bnew instructions?\s*:`),
	regexp.MustCompile(`(?i)\b(system prompt|developer mode|jailbreak|prompt injection)\b`),
	regexp.MustCompile(`(?i)\b(classify|categori[sz]e|label|mark|flag|tag)\b.{0,30}\b(this|the|my)\b.{0,20}\b(email|message|ticket|case|request)\b.{0,10}\bas\b`),
	regexp.MustCompile(`(?i)\bset\b.{0,20}\b(priority|category|escalat\w*|confidence)\b.{0,10}\b(to|=|:)`),
	regexp.MustCompile(`(?i)\b(respond|reply|answer|output)\b.{0,20}\b(only )?with\b.{0,30}\b(json|"category"|priority)`),
	regexp.MustCompile(`(?i)\b(AI|chatbot|LLM|GPT|language model)\b.{0,30}\b(must|should|shall|need to|have to)\b`),
	regexp.MustCompile(`(?i)(<\|im_start\|>|<\|im_end\|>|<\|system\|>|\[INST\]|\[/INST\]|<<SYS>>|^\s*(system|assistant)\s*:|###\s*(instruction|system))`),
	regexp.MustCompile(`(?i)\b(ignoriere|vergiss|missachte)\b.{0,40}\b(anweisungen|instruktionen|regeln|vorgaben)\b`),
	regexp.MustCompile(`(?i)\b(ignore[zr]?|oublie[zr]?)\b.{0,40}\b(instructions|consignes|règles)\b`),
	regexp.MustCompile(`(?i)\b(ignora|olvida|omite)\b.{0,40}\b(instrucciones|reglas|indicaciones)\b`),
	regexp.MustCompile(`(?i)\b(negeer|vergeet)\b.{0,40}\b(instructies|regels|opdrachten)\b`),
	regexp.MustCompile(`(?i)\b(ignora|dimentica)\b.{0,40}\b(istruzioni|regole)\b`),
	regexp.MustCompile(`(?i)\b(ignore|ignora|esqueça|esqueca)\b.{0,40}\b(instruções|instrucoes|regras)\b`),
	regexp.MustCompile(`(?i)\b(du bist jetzt|tu es maintenant|ahora eres|je bent nu|ora sei|agora você é)\b`),
}

// InjectionSuspected reports whether text holds instruction-like text aimed at a model.
func InjectionSuspected(text string) bool {
	for _, re := range injectionRes {
		if re.MatchString(text) {
			return true
		}
	}
	return false
}
