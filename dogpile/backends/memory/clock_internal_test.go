package memory

import (
	"testing"
	"time"
)

// TestClockStartsUnderLoad: a burst of reads starts the goroutine, and
// the time read stays within a tick of the system clock.
func TestClockStartsUnderLoad(t *testing.T) {
	c := &coarseClock{}
	before := systemNanos()
	if n := c.NowNano(); n < before || c.running.Load() {
		t.Fatalf("a single read: %d (before %d), running %v", n, before, c.running.Load())
	}
	for range 10 * clockBusy {
		c.NowNano()
	}
	if !c.running.Load() {
		t.Fatal("a burst of reads did not start the clock's goroutine")
	}
	for range 100 {
		got, sys := c.NowNano(), systemNanos()
		if got > sys || sys-got > int64(50*clockTick) {
			t.Fatalf("NowNano %d, system %d: %v apart", got, sys, time.Duration(sys-got))
		}
	}
}

// TestClockStopsWhenIdle: the goroutine runs while reads come at most
// ticks, and stops in the first period where fewer than a quarter of the
// ticks saw a read; readers then read the system clock.
func TestClockStopsWhenIdle(t *testing.T) {
	c := &coarseClock{}
	c.running.Store(true)
	c.now.Store(1)
	ticks := make(chan time.Time)
	stopped, done := make(chan struct{}), make(chan struct{})
	go func() {
		c.run(ticks, func() { close(stopped) })
		close(done)
	}()
	perPeriod := int(clockIdle / clockTick)
	// Two busy periods: a read after every other tick.
	for i := range 2 * perPeriod {
		ticks <- time.Time{}
		if i%2 == 0 {
			c.NowNano()
		}
	}
	select {
	case <-done:
		t.Fatal("the clock stopped while half of its ticks saw a read")
	default:
	}
	if !c.running.Load() || c.now.Load() == 0 {
		t.Fatal("the clock is not running after busy periods")
	}
	// An idle period: reads after a tenth of the ticks only.
	for i := range perPeriod {
		if i%10 == 0 {
			c.NowNano()
		}
		ticks <- time.Time{}
	}
	<-done
	<-stopped
	if c.running.Load() || c.now.Load() != 0 {
		t.Errorf("after an idle period: running %v, now %d", c.running.Load(), c.now.Load())
	}
	before := systemNanos()
	if n := c.NowNano(); n < before {
		t.Errorf("a stopped clock reads %d, before the system clock's %d", n, before)
	}
}

// TestClockTicks: the periodic clean-up's ticks come at the interval
// asked.
func TestClockTicks(t *testing.T) {
	ch := (&coarseClock{}).Tick(time.Millisecond)
	start := time.Now()
	<-ch
	<-ch
	if d := time.Since(start); d < time.Millisecond {
		t.Errorf("two ticks of 1ms in %v", d)
	}
}
