package ingest

import (
	"testing"

	"github.com/triage-dev/triage/ingest/imaptest"
)

// BenchmarkParseCorpus measures Parse alone over generated support mail.
func BenchmarkParseCorpus(b *testing.B) {
	msgs := imaptest.Corpus(500, 42)
	var bytes int64
	for _, m := range msgs {
		bytes += int64(len(m))
	}
	b.SetBytes(bytes / int64(len(msgs)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := msgs[i%len(msgs)]
		if _, err := Parse(m, ""); err != nil {
			b.Fatal(err)
		}
	}
}
