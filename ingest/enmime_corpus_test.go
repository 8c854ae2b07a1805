package ingest

// enmime is imported only so go.mod keeps requiring it: its testdata (87 raw,
// partly hostile messages) is a corpus the parser, dedupe, the review UI and
// the reliability suite run against, found with `go list -m`.
import _ "github.com/jhillyerd/enmime/v2"
