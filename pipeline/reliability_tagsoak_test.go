//go:build soak

package pipeline_test

// soakTag: built with `-tags soak`, the reliability suite runs its long versions.
const soakTag = true
