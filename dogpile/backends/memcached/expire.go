package memcached

import (
	"math"
	"time"
)

// Server-side expiry. memcached counts time in whole seconds on a clock
// that ticks once a second, and drops an item once its clock reaches the
// item's expiry: an item stored with a TTL of n seconds lives for more than
// n-1 and at most n seconds. The TTLs this package derives itself (from the
// region's expiration, and for locks) are rounded up and given one more
// second, so they last at least as long as intended.

// maxRelativeExpiration is the longest TTL memcached takes as a number of
// seconds from now: larger values are read as absolute unix times.
const maxRelativeExpiration = 30 * 24 * 60 * 60 // 2592000 seconds, 30 days

// ceilSeconds rounds d up to whole seconds; d <= 0 gives 0.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// derivedTTL is the server-side TTL, in seconds, for values of a region
// whose values expire after d: twice d rounded up to whole seconds, plus
// one second, so that an expired value stays readable (served stale while
// one caller regenerates it) for at least as long again. A region that
// never expires (d == 0) gives 0: no server-side TTL.
func derivedTTL(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	whole, frac := int64(d/time.Second), d%time.Second
	s := 2 * whole
	if frac != 0 {
		s += ceilSeconds(2 * frac)
	}
	return s + 1
}

// lockTTL is the server-side TTL, in seconds, of a lock held for at most
// timeout: rounded up, plus one second.
func lockTTL(timeout time.Duration) int64 {
	return ceilSeconds(timeout) + 1
}

// expirationField returns memcached's exptime for a TTL of secs seconds
// stored at now: 0 (never) for secs <= 0, secs itself up to 30 days, and
// the absolute unix time now+secs beyond, which memcached requires for
// longer TTLs. Times past the int32 range (2038) are clamped to its end.
func expirationField(secs int64, now time.Time) int32 {
	switch {
	case secs <= 0:
		return 0
	case secs <= maxRelativeExpiration:
		return int32(secs)
	}
	abs := now.Unix() + secs
	if abs > math.MaxInt32 || abs < 0 {
		return math.MaxInt32
	}
	return int32(abs)
}
