package memory

import (
	"sync/atomic"
	"time"
)

// A cache with a time to live reads its clock on every read and write.
// Reading the system clock costs 20–110 ns on common virtual machines, more
// than the rest of a hit, so under load the backends read a clock kept in
// memory instead: a goroutine stores the time every clockTick while reads
// are frequent. It starts once clockBusy reads of the system clock come
// within one clockTick, and stops when fewer than a quarter of the ticks of
// a clockIdle period saw a read: a process that reads rarely pays the
// system clock's price on those reads and runs no goroutine. The time read
// is then up to clockTick late, and entries leave up to that much early
// or late.
const (
	clockTick = time.Millisecond
	clockIdle = time.Second
	clockBusy = 16
)

// clock is the otter.Clock of the backends New and NewBytes return.
var clock = &coarseClock{}

// coarseClock is a monotonic clock in unix nanoseconds, kept in memory
// under load.
type coarseClock struct {
	now     atomic.Int64 // the time the goroutine stored last; 0 while none runs
	used    atomic.Bool  // read since the goroutine's last tick
	running atomic.Bool
	window  atomic.Int64 // when the current count of system clock reads began
	reads   atomic.Int64 // system clock reads since then
}

// epoch anchors the clock: time.Since reads the monotonic clock, which
// wall clock changes do not move.
var epoch = time.Now()

func systemNanos() int64 { return epoch.UnixNano() + int64(time.Since(epoch)) }

// NowNano returns the time in unix nanoseconds.
func (c *coarseClock) NowNano() int64 {
	if n := c.now.Load(); n != 0 {
		if !c.used.Load() {
			c.used.Store(true)
		}
		return n
	}
	t := systemNanos()
	if w := c.window.Load(); t-w > int64(clockTick) {
		c.window.Store(t)
		c.reads.Store(0)
	}
	if c.reads.Add(1) >= clockBusy && c.running.CompareAndSwap(false, true) {
		c.now.Store(t)
		ticker := time.NewTicker(clockTick)
		go c.run(ticker.C, ticker.Stop)
	}
	return t
}

// run stores the time at every tick until the clock is idle.
func (c *coarseClock) run(ticks <-chan time.Time, stop func()) {
	defer stop()
	perPeriod := int(clockIdle / clockTick)
	active := 0
	for n := 1; ; n++ {
		<-ticks
		c.now.Store(systemNanos())
		if c.used.Swap(false) {
			active++
		}
		if n%perPeriod != 0 {
			continue
		}
		if active >= perPeriod/4 {
			active = 0
			continue
		}
		c.now.Store(0) // from now on, readers read the system clock
		c.reads.Store(0)
		c.running.Store(false)
		return
	}
}

// Tick returns the ticks of the cache's periodic clean-up. The cache stops
// reading them once it is collected, and the ticker is collected with it.
func (c *coarseClock) Tick(d time.Duration) <-chan time.Time {
	return time.NewTicker(d).C
}
