//go:build darwin || dragonfly || freebsd || illumos || netbsd || openbsd

package file

import "os"

// newRangeLocker returns the whole-file flock fallback: these systems have
// no open file description locks, and their process-owned fcntl locks
// cannot tell two goroutines (or two descriptors of one process) apart.
func newRangeLocker(f *os.File, _ bool) (rangeLocker, error) {
	return newFlockLocker(f)
}
