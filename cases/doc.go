// Package cases writes each message's Salesforce effects and keeps the
// record of them.
//
// One email, one API call: a new email becomes a single /composite request
// with allOrNone — the Contact create (when dedupe found none), the Case
// upsert by the thread's external ID (field_map.external_id, Triage_Key__c),
// the EmailMessage, the CaseArticle links and a Task that tells agents what
// the app did and why. A reply updates the case by Id in the same shape.
// Only two situations cost more: a reply that may close its case reads the
// case first (its contact and whether a human closed it), and a request the
// org refuses for a reason that changes the plan is rebuilt once —
// DUPLICATES_DETECTED on the Contact (the matched contact is used; the
// duplicate rule header is sent with allowSave=false so the org's rule runs)
// and a create-only field refused because the thread's case already exists
// (the upsert becomes an update).
//
// Exactly once. The Case can never be duplicated (upsert by external ID).
// EmailMessage and Task have no external ID, so the stage keeps a ledger
// (store table cases_writes): before a request goes out its row is committed
// as "sending"; a definite refusal marks it "failed"; success marks it
// "committed" with the record ids. An attempt that finds "sending" — the
// previous one timed out or the process died after Salesforce committed but
// before our commit — first asks Salesforce for the EmailMessage by
// MessageIdentifier (the Task by its subject marker for activities). Because
// the request was all-or-none, one record found proves all were written: the
// stage records them and sends nothing. Two workers of one process never
// send the same message at once (an in-flight set answers the second with a
// temporary error); across processes, a crashed process's message comes back
// only when its lease expires, long after its last request ended, as long as
// the pipeline's lease is longer than the Salesforce timeout.
//
// Every write, sent, refused or only planned (dry-run, or no org
// configured), is appended to a hash-chained audit table (cases_audit, with
// triggers refusing UPDATE and DELETE); Verify walks the chain. Text written
// to Salesforce and to the trail is PII-redacted with classify.Redactor and
// truncated to the fields' limits.
//
// ValidateFieldMap checks the intent-based field map, status values and
// custom objects against describe. PollChanges and WebhookHandler bring
// Salesforce-side changes (a human closed or reassigned a case) back;
// Backfill sends many emails as /composite/graph requests (one graph per
// email); Alerter posts dead letters to a Slack-compatible webhook.
package cases
