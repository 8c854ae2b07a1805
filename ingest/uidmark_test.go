package ingest

import (
	"fmt"
	"testing"
)

// The mark a message commits with never passes a UID of the fetch that has
// not been read yet, whatever order the server answers in.
func TestUIDMark(t *testing.T) {
	tests := []struct {
		name    string
		start   uint32     // the folder's last UID before the sync
		batches [][]uint32 // requested UIDs per FETCH, ascending
		order   [][]uint32 // the order the server returns them (a UID left out vanished)
		marks   [][]uint32 // the mark after each message read
		final   uint32     // the mark after the last FETCH completed
	}{
		{"in order", 0, [][]uint32{{1, 2, 3}}, [][]uint32{{1, 2, 3}}, [][]uint32{{1, 2, 3}}, 3},
		{"reversed", 10, [][]uint32{{11, 12, 13}}, [][]uint32{{13, 12, 11}}, [][]uint32{{10, 10, 13}}, 13},
		{"first out of order in a new folder", 0, [][]uint32{{1, 2}}, [][]uint32{{2, 1}}, [][]uint32{{0, 2}}, 2},
		{"a vanished UID holds the mark until its FETCH is done", 0, [][]uint32{{4, 5, 6}, {7, 8}},
			[][]uint32{{4, 6}, {8, 7}}, [][]uint32{{4, 4}, {6, 8}}, 8},
		{"gaps in the UIDs", 100, [][]uint32{{105, 230, 231}}, [][]uint32{{105, 231, 230}}, [][]uint32{{105, 105, 231}}, 231},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &uidMark{mark: tt.start}
			for b, want := range tt.batches {
				u.start(want)
				var got []uint32
				for _, uid := range tt.order[b] {
					got = append(got, u.read(uid))
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.marks[b]) {
					t.Fatalf("batch %d read in order %v: marks %v, want %v", b, tt.order[b], got, tt.marks[b])
				}
				u.done()
			}
			if u.mark != tt.final {
				t.Fatalf("final mark %d, want %d", u.mark, tt.final)
			}
		})
	}
}
