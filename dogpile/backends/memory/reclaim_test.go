package memory_test

import (
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
)

func heapInUse() (alloc, inuse uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.HeapInuse
}

// TestMillionKeysReclaimed: a million keys set through a region whose
// values expire after a second (a time to live of two) leave by themselves
// while the process is idle for five seconds, and give their memory back:
// the heap after a collection is under 5% of what the keys took. The
// backend runs on a fake clock, frozen while the keys are written: the
// writes take longer than the time to live (otter inserts a new key in
// about 3.5 µs at this size here), so on the real clock the first keys
// would expire before the last are written. Then five ticks of the clock,
// a second each, run the periodic clean-up, and nothing else touches the
// cache. The test takes about 5 s; with the race detector, which makes it
// forty times slower, it writes 2^17 keys. What stays is otter's frequency
// sketch, sized for the most entries the cache held (rounded up to a
// power of two) and never shrunk: 8 MiB for a million, 3% of their heap.
func TestMillionKeysReclaimed(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a million keys (about 5s)")
	}
	n := 1_000_000
	if raceEnabled {
		n = 1 << 17
	}
	start := time.Now()
	clock := memory.NewFakeClock()
	b, err := memory.NewOnClock(memory.Options{MaxEntries: 2 * n, MaxBytes: 1 << 30}, clock)
	if err != nil {
		t.Fatal(err)
	}
	r := dogpile.NewRegion()
	if err := r.ConfigureBackend(b, dogpile.Config{ExpirationTime: time.Second}); err != nil {
		t.Fatal(err)
	}
	// Counted here rather than by an observer of the region, which would
	// be told of every write too.
	var expired atomic.Int64
	done := make(chan struct{})
	b.NotifyEvictions(func(_ string, exp bool) {
		if exp && expired.Add(1) == int64(n) {
			close(done)
		}
	})
	if b.TTL() != 2*time.Second {
		t.Fatalf("TTL = %v, want 2s", b.TTL())
	}
	baseAlloc, baseInuse := heapInUse()

	pad := strings.Repeat("v", 90)
	for i := range n {
		id := strconv.Itoa(100000 + i)
		if err := r.Set(ctx, "user:"+id, pad+id); err != nil {
			t.Fatal(err)
		}
	}
	filled := time.Now()
	b.CleanUp()
	fullAlloc, fullInuse := heapInUse()
	if b.Len() != n {
		t.Fatalf("Len() = %d after %d writes within the bounds", b.Len(), n)
	}

	// Idle for five seconds of the backend's clock: the periodic
	// clean-up alone removes what expired.
	for range 5 {
		clock.Advance(time.Second)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%d keys expired 30s after five seconds of the backend's clock, with a TTL of 2s", expired.Load())
	}
	b.CleanUp() // the table forgets an entry just after it is reported
	if b.Len() != 0 {
		t.Fatalf("Len() = %d once every key expired", b.Len())
	}
	if b.Bytes() != 0 {
		t.Errorf("Bytes() = %d once empty", b.Bytes())
	}
	endAlloc, endInuse := heapInUse()

	grownAlloc, grownInuse := fullAlloc-baseAlloc, fullInuse-baseInuse
	leftAlloc, leftInuse := int64(endAlloc)-int64(baseAlloc), int64(endInuse)-int64(baseInuse)
	t.Logf("filled in %v: heap alloc +%.1f MB, in use +%.1f MB (%.0f bytes per entry); "+
		"left: alloc %+.2f MB (%.2f%%), in use %+.2f MB (%.2f%%); test took %v",
		filled.Sub(start).Round(time.Millisecond), mb(grownAlloc), mb(grownInuse), float64(grownAlloc)/float64(n),
		float64(leftAlloc)/1e6, 100*float64(leftAlloc)/float64(grownAlloc),
		float64(leftInuse)/1e6, 100*float64(leftInuse)/float64(grownInuse), time.Since(start).Round(time.Millisecond))
	if float64(leftAlloc) >= 0.05*float64(grownAlloc) || float64(leftInuse) >= 0.05*float64(grownInuse) {
		t.Errorf("the expired entries left %.1f MB allocated and %.1f MB in use, of %.1f and %.1f MB filled: over 5%%",
			float64(leftAlloc)/1e6, float64(leftInuse)/1e6, mb(grownAlloc), mb(grownInuse))
	}
	runtime.KeepAlive(b)
}

// TestReclaimedOnRealClock: on the clock of the backends New returns,
// expired entries leave an idle cache within a few ticks of its clean-up.
// It takes about two seconds.
func TestReclaimedOnRealClock(t *testing.T) {
	b := mustNew(t, memory.Options{})
	ev := newEvents()
	r := dogpile.NewRegion(dogpile.WithName("r"), dogpile.WithObserver(ev.observer()))
	if err := r.ConfigureBackend(b, dogpile.Config{ExpirationTime: 250 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	keys := keysN("k", 1000)
	for _, k := range keys {
		if err := r.Set(ctx, k, k); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	ev.wait(t, len(keys)) // the periodic clean-up expires them: nothing else touches the cache
	_, expired := ev.snapshot()
	b.CleanUp() // the table forgets an entry just after it is reported
	if len(expired) != len(keys) || b.Len() != 0 {
		t.Errorf("%d keys expired, Len() = %d", len(expired), b.Len())
	}
	t.Logf("expired %v after the writes, with a TTL of %v", time.Since(start).Round(time.Millisecond), b.TTL())
}

func mb(n uint64) float64 { return float64(n) / 1e6 }
