//go:build !soak

package pipeline_test

// soakTag is set by `-tags soak` (see reliability_tagsoak_test.go).
const soakTag = false
