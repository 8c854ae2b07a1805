// Package salesforce is triage's Salesforce REST API client.
//
// It is written against Salesforce's documented request and response shapes
// so that it works unchanged against a real org and against the local
// emulator (package sfsim):
//
//   - OAuth 2.0 JWT bearer, client credentials and refresh token flows
//     (with refresh-token rotation); the REST base URL is the token
//     response's instance_url. Salesforce tokens carry no expires_in, so a
//     401 INVALID_SESSION_ID triggers one token refresh and one retry.
//   - sObject get/create/update/delete, upsert by external ID (201 created,
//     200 created:false, legacy 204, 300 multiple matches), SOQL query and
//     queryAll following nextRecordsUrl, SOSL search and parameterizedSearch,
//     describe (cached) and limits.
//   - Composite (25 subrequests, allOrNone, @{ref.id} references), composite
//     graph (500 nodes) and sObject Collections (200 records) through
//     builders that refuse requests Salesforce would reject.
//   - Errors from both documented shapes decoded into *APIError, classified
//     by behaviour (Permanent, Temporary, RetryAfter) as ARCHITECTURE.md asks.
//   - The daily API budget read from every Sforce-Limit-Info header, exposed
//     as Prometheus metrics, and a governor that refuses non-critical calls
//     above one share of the allocation and all calls above another.
//   - QuoteSOQL / QuoteSOQLLike / BuildSOQL: the only way SOQL literals are
//     built from data.
//
// Tokens and secrets are never logged nor put into errors.
package salesforce
