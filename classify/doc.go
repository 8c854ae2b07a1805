// Package classify turns an email into a triage decision: category, priority,
// sentiment, language, summary, a calibrated confidence and, when a human must
// look, an escalation reason from a fixed list.
//
// Two classifiers implement Classifier: an offline statistical model
// (multinomial logistic regression over hashed word unigrams, bigrams and
// character 3–5-grams, trained from the Bitext customer-service utterances and
// project emails in data/, temperature-scaled on a held-out split) and an LLM
// classifier for any OpenAI-compatible endpoint (go-openai). New picks one from
// the config and applies the calibration stored for the model.
//
// Both see only the new text of the email (NewText: quoted replies, reply
// headers, Outlook blocks, signatures and disclaimers removed), truncated to
// the token budget, after PII redaction (Redactor: cards with Luhn, IBANs with
// mod-97, SSNs, phones, secrets, API keys, dates of birth become [CARD_1]…).
// The LLM's answer must match a strict JSON schema generated from llmAnswer
// whose enums come from the taxonomy, and is validated again here, so whatever
// the email tells the model, a Result holds only enum values plus plain text
// (summary, explanation) that is stored, never interpreted.
//
// Priority, sentiment and escalation come from explainable signals (urgency,
// problem, legal, churn and safety terms in seven languages, a sentiment
// lexicon, account tier, repeat contact, the injection detector and the
// redaction findings); every Result says why in Explanation.
//
// Automation levels per field follow Salesforce Einstein: below
// thresholds.<field>.suggest a value is only shown, from suggest it is written
// as a suggestion, from automate it is written and acted on. Defaults
// (conservative): category and priority 0.60/0.90, sentiment 0.50/0.85,
// language 0.50/0.80, escalate 0.50/0.95. An escalated email never has a field
// automated.
package classify
