// Package cases writes each message's Salesforce effects: one /composite
// request per email (Contact, Case upsert by the thread's external ID,
// EmailMessage, CaseArticle links, a Task explaining what the app did), the
// intent-based field map validated against describe, the hash-chained audit
// trail of every write, dead-letter alerts, changes flowing back from
// Salesforce (poll and webhook) and /composite/graph backfills.
package cases
