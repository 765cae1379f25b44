//go:build !race

package security

// raceEnabled reports whether the tests run under the race detector.
const raceEnabled = false
