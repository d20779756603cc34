//go:build race

package debugpanel_test

// raceEnabled reports whether the race detector is on.
const raceEnabled = true
