// Package dedupe decides, for each received message, whether it may open a
// case at all (auto-replies, bounces, lists, loops, the app's own mail and
// repeated fetches never do), which thread and Salesforce case it belongs to,
// and which Contact sent it. It never writes a Case: it records its decision
// (Result) and the cases stage executes it.
package dedupe
