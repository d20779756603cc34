package memory

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// FakeClock is an otter.Clock for tests: its time moves only when told,
// and the cache's periodic clean-up runs when Tick is called.
type FakeClock struct {
	now   atomic.Int64
	ticks chan time.Time
}

// NewFakeClock returns a FakeClock at a fixed time.
func NewFakeClock() *FakeClock {
	c := &FakeClock{ticks: make(chan time.Time)}
	c.now.Store(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

// NowNano returns the fake time.
func (c *FakeClock) NowNano() int64 { return c.now.Load() }

// Tick returns the channel Advance delivers ticks on.
func (c *FakeClock) Tick(time.Duration) <-chan time.Time { return c.ticks }

// Advance moves the time by d and runs one periodic clean-up: it returns
// once the cache's clean-up goroutine has taken the tick.
func (c *FakeClock) Advance(d time.Duration) {
	c.now.Add(int64(d))
	c.ticks <- time.Unix(0, c.now.Load())
}

// NewOnClock is New on clock c.
func NewOnClock(opts Options, c *FakeClock) (*Backend, error) { return newBackend(opts, c) }

// NewBytesOnClock is NewBytes on clock c.
func NewBytesOnClock(opts Options, c *FakeClock) (*BytesBackend, error) {
	return newBytesBackend(opts, c)
}

// CleanUp runs the cache's pending work now.
func (b *Backend) CleanUp() { b.s.cache.CleanUp() }

// CleanUp runs the cache's pending work now.
func (b *BytesBackend) CleanUp() { b.s.cache.CleanUp() }

// Weights returns the bounds as otter sees them: the maximum weight and
// the least weight of an entry.
func (b *Backend) Weights() (maxWeight, minWeight uint64) {
	return b.s.lim.maxWeight, b.s.lim.minWeight
}

// WeightedSize returns the weight of the entries stored.
func (b *Backend) WeightedSize() uint64 { return b.s.cache.WeightedSize() }

// Limits returns the bounds of a backend that would be built from o.
func Limits(o Options) (maxEntries int, maxBytes int64) {
	l := newLimits(o)
	return l.maxEntries, l.maxBytes
}

// Weight returns the weight of an entry of cost bytes under o's bounds.
func Weight(o Options, cost int64) (uint32, bool) {
	l := newLimits(o)
	return l.weight(cost)
}

// ParseArguments reads the arguments of the registered names.
func ParseArguments(args driver.Arguments) (Options, error) { return parseArguments(Name, args) }

// Drain runs the cache's pending work, then waits until every eviction is
// delivered.
func (b *Backend) Drain() {
	b.s.cache.CleanUp()
	b.s.notify.idle()
}

// Drain runs the cache's pending work, then waits until every eviction is
// delivered.
func (b *BytesBackend) Drain() {
	b.s.cache.CleanUp()
	b.s.notify.idle()
}

// idle waits until no eviction is pending.
func (n *notifier) idle() {
	for {
		n.mu.Lock()
		idle := !n.running && len(n.pending) == 0
		n.mu.Unlock()
		if idle {
			return
		}
		runtime.Gosched()
	}
}
