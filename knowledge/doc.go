// Package knowledge suggests help-centre articles for each email and records
// where the knowledge base falls short.
//
// Articles come from Salesforce Knowledge (published latest versions, synced
// incrementally by SystemModstamp with a full id reconciliation so archived or
// deleted articles disappear) or from files (Markdown, HTML, JSONL). They are
// indexed in SQLite FTS5: text is stripped of markup, stop words are removed and
// words are stemmed in Go per language (English, German, French, Spanish) before
// indexing, so one FTS5 table with an indexed language column serves every
// language and BM25 weights title over summary over body.
//
// Emails whose best match scores under the relevance threshold are knowledge
// gaps; GapReport clusters them into topics a knowledge manager can act on.
package knowledge
