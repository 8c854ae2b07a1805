// Package classify turns an email into a triage decision: category, priority,
// sentiment, language, summary, a calibrated confidence and, when a human must
// look, an escalation reason from a fixed list.
//
// Two classifiers implement Classifier: an offline statistical model (logistic
// regression over hashed word and character n-grams, trained from the Bitext
// customer-service utterances shipped in data/) and an LLM classifier for any
// OpenAI-compatible endpoint. Both see only the new text of the email (NewText)
// after PII redaction (Redactor); the LLM's answer is validated against a
// schema whose enums come from the taxonomy, so whatever the model is told by
// the email it can only choose allowed values.
package classify
