//go:build race

package memory_test

// raceEnabled reports a test binary built with the race detector, which
// makes the cache's writes tens of times slower.
const raceEnabled = true
