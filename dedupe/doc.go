// Package dedupe decides, for each received message, whether it may open a
// case at all (auto-replies, bounces, lists, loops, the app's own mail and
// repeated fetches never do), which thread and Salesforce case it belongs to,
// and which Contact sent it. It never writes a Case: it records its decision
// (Result) and the cases stage executes it.
//
// What a decision needs from Salesforce is fetched for a whole batch and
// the messages waiting behind it by Stage.Prefetch (the pipeline's batch
// hook) in a few queries; Process asks Salesforce itself only for what no
// fresh prefetched answer covers.
package dedupe
