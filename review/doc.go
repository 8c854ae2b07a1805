// Package review is triage's web UI and JSON API for support managers,
// knowledge managers and operators: the dashboard, the escalation queue with
// corrections, knowledge gaps, dead letters and skipped messages, and the
// audit trail.
//
// Pages are server-rendered html/template with embedded assets and work
// without JavaScript; every action is a form protected by a session-bound
// CSRF token. Email content is hostile: HTML bodies go through bluemonday's
// UGC policy with images and remote loads stripped, and a strict
// Content-Security-Policy forbids inline script. Every view is also served as
// JSON under /api/ behind the same authentication.
//
// Everything that belongs to other packages (Salesforce writes, corrections,
// contact picks, knowledge gaps, the cases audit trail) is reached through the
// small interfaces in Deps; a nil dependency shows the feature as unavailable.
package review
