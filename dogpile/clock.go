package dogpile

import (
	"sync/atomic"
	"time"
)

// Reading the system clock costs 20–60 ns on common virtual machines, more
// than the rest of a memory hit. Freshness checks therefore read a clock
// kept in memory: one goroutine refreshes it every coarseTick while regions
// read it, and stops after coarseIdle without readers. Values expire up to
// coarseTick late; creation times are taken from the system clock.
const (
	coarseTick = time.Millisecond
	coarseIdle = time.Second
)

var coarse struct {
	now     atomic.Int64 // unix nanoseconds
	used    atomic.Bool  // read since the last idle check
	running atomic.Bool
}

// coarseNow returns the current time in unix nanoseconds, to within
// coarseTick.
func coarseNow() int64 {
	if !coarse.used.Load() {
		coarse.used.Store(true)
		if coarse.running.CompareAndSwap(false, true) {
			coarse.now.Store(time.Now().UnixNano())
			go coarseTicker()
		}
	}
	if n := coarse.now.Load(); n != 0 {
		return n
	}
	// No ticker keeps the clock (it stopped, and the reader that starts
	// the next has not stored the time yet): read the system clock.
	return time.Now().UnixNano()
}

func coarseTicker() {
	t := time.NewTicker(coarseTick)
	defer t.Stop()
	idleEvery := int(coarseIdle / coarseTick)
	for n := 1; ; n++ {
		<-t.C
		coarse.now.Store(time.Now().UnixNano())
		if n%idleEvery != 0 || coarse.used.Swap(false) {
			continue
		}
		coarse.now.Store(0) // from now on, readers read the system clock
		coarse.running.Store(false)
		// A reader that came between the Swap and the Store saw running
		// and did not start a ticker: carry on for it.
		if !coarse.used.Load() || !coarse.running.CompareAndSwap(false, true) {
			return
		}
		coarse.now.Store(time.Now().UnixNano())
	}
}
