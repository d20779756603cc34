package driver

import (
	"math"
	"sync/atomic"
	"time"
)

// DefaultTTLFactor is the server-side time to live backends derive from
// a region's expiration time, as a multiple of it: an expired value stays
// readable for as long again, so that callers are served it while one of
// them regenerates it (dogpile.cache issue #230).
const DefaultTTLFactor = 2

// DerivedTTL is the server-side time to live of a backend that derives it
// from the expiration times of the regions using it (ExpirationAware):
// DefaultTTLFactor times the longest of them, or none once one of them
// never expires, so that no region's expired values are dropped before
// they can be served. It holds none until a region is added. The zero
// value is ready to use; it is safe for concurrent use.
type DerivedTTL struct {
	longest atomic.Int64 // 0: no region yet; -1: one never expires; otherwise the longest expiration
}

// Add accounts for a region whose values expire after d (zero: never).
func (t *DerivedTTL) Add(d time.Duration) {
	next := int64(d)
	if d <= 0 {
		next = -1
	}
	for {
		cur := t.longest.Load()
		want := next
		switch {
		case cur == 0: // the first region
		case cur == -1 || next == -1:
			want = -1
		default:
			want = max(cur, next)
		}
		if t.longest.CompareAndSwap(cur, want) {
			return
		}
	}
}

// Longest returns the longest expiration time of the regions added, or
// zero when there are none or one of them never expires: the figure a
// backend with its own rounding (whole seconds, say) derives its time to
// live from.
func (t *DerivedTTL) Longest() time.Duration { return time.Duration(max(t.longest.Load(), 0)) }

// Load returns the time to live: DefaultTTLFactor times Longest, at most
// the longest duration; zero for none.
func (t *DerivedTTL) Load() time.Duration {
	d := t.Longest()
	if d > math.MaxInt64/DefaultTTLFactor {
		return math.MaxInt64
	}
	return d * DefaultTTLFactor
}
