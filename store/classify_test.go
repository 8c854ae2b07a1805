package store

import (
	"errors"
	"fmt"
	"testing"
)

type codedErr int

func (c codedErr) Error() string { return fmt.Sprintf("sqlite error (%d)", int(c)) }
func (c codedErr) Code() int     { return int(c) }

func TestClassifyByResultCode(t *testing.T) {
	tests := []struct {
		err  error
		temp bool
	}{
		{codedErr(5), true},     // SQLITE_BUSY
		{codedErr(6), true},     // SQLITE_LOCKED
		{codedErr(13), true},    // SQLITE_FULL
		{codedErr(778), true},   // SQLITE_IOERR_WRITE: "disk I/O error (778)"
		{codedErr(19), false},   // SQLITE_CONSTRAINT: a bug, not a pause
		{codedErr(2067), false}, // SQLITE_CONSTRAINT_UNIQUE
		{fmt.Errorf("wrapped: %w", codedErr(13)), true},
		{errors.New("database is locked"), true},
		{errors.New("no such table: x"), false},
	}
	for _, tt := range tests {
		var te interface{ Temporary() bool }
		got := errors.As(classify(tt.err), &te) && te.Temporary()
		if got != tt.temp {
			t.Errorf("classify(%v): temporary %v, want %v", tt.err, got, tt.temp)
		}
	}
}
