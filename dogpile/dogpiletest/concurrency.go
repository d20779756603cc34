package dogpiletest

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/dogpilego/dogpile/dogpile"
)

// The dogpile lock under concurrent callers of one region.
var concurrencyTests = []test{
	{"OneCreator", anyKind, testConcurrencyOneCreator},
	{"StaleWhileCreating", anyKind, testConcurrencyStaleWhileCreating},
}

// heldCreator returns a creator that counts its calls, closes entered at
// the first, and returns value once release is closed (or the subtest
// ends).
func (e *env) heldCreator(value any, calls *atomic.Int32, entered, release chan struct{}) func(context.Context) (any, error) {
	var once sync.Once
	return func(context.Context) (any, error) {
		calls.Add(1)
		once.Do(func() { close(entered) })
		select {
		case <-release:
			return value, nil
		case <-e.ctx.Done():
			return nil, e.ctx.Err()
		}
	}
}

// testConcurrencyOneCreator: 100 callers of one missing key; the creator
// is held until every caller has started, runs once, and every caller gets
// its value.
func testConcurrencyOneCreator(e *env) {
	const n = 100
	r := e.plainRegion()
	k := e.key("some_key")
	var calls atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	creator := e.heldCreator("some value", &calls, entered, release)

	var started sync.WaitGroup
	started.Add(n)
	results := make(chan result, n)
	for range n {
		go func() {
			started.Done()
			v, err := dogpile.GetOrCreate(e.ctx, r, k, creator)
			results <- result{v, err}
		}()
	}
	wait(e, entered, "the creator to start")
	started.Wait()
	close(release)
	for i := range n {
		res := wait(e, results, "the callers to return")
		if res.err != nil || res.v != "some value" {
			e.t.Errorf("caller %d: GetOrCreate = %#v, %v; want %q", i, res.v, res.err, "some value")
		}
	}
	if c := calls.Load(); c != 1 {
		e.t.Errorf("the creator ran %d times for %d concurrent callers; want once", c, n)
	}
	e.wantString(r, k, ptr("some value"))
}

// testConcurrencyStaleWhileCreating: 50 callers of an expired key; one
// regenerates it, and while its creator is held the 49 others get the
// expired value at once.
func testConcurrencyStaleWhileCreating(e *env) {
	if e.opts.Evicts {
		e.t.Skip("the backend may evict the expired value this test serves")
	}
	const n = 50
	r, clk := e.fakeClockRegion()
	k := e.key("some_key")
	e.set(r, k, "old value")
	clk.Advance(2 * expiration)
	e.wantString(r, k, nil)

	var calls atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	creator := e.heldCreator("new value", &calls, entered, release)
	leader := make(chan result, 1)
	go func() {
		v, err := dogpile.GetOrCreate(e.ctx, r, k, creator)
		leader <- result{v, err}
	}()
	wait(e, entered, "the creator to start")

	others := make(chan result, n-1)
	for range n - 1 {
		go func() {
			v, err := dogpile.GetOrCreate(e.ctx, r, k, creator)
			others <- result{v, err}
		}()
	}
	// The creator is still held: these return without waiting for it.
	for i := range n - 1 {
		res := wait(e, others, "the callers served the expired value (they must not wait for the creator)")
		if res.err != nil || res.v != "old value" {
			e.t.Errorf("caller %d during the regeneration: GetOrCreate = %#v, %v; want the expired %q", i, res.v, res.err, "old value")
		}
	}
	if locked, err := r.KeyIsLocked(e.ctx, k); err != nil || !locked {
		e.t.Errorf("KeyIsLocked during the regeneration = %v, %v; want true", locked, err)
	}
	close(release)
	res := wait(e, leader, "the regenerating caller to return")
	if res.err != nil || res.v != "new value" {
		e.t.Errorf("regenerating caller: GetOrCreate = %#v, %v; want %q", res.v, res.err, "new value")
	}
	if c := calls.Load(); c != 1 {
		e.t.Errorf("the creator ran %d times for %d callers of an expired key; want once", c, n)
	}
	e.wantString(r, k, ptr("new value"))
	got, err := dogpile.GetOrCreate(e.ctx, r, k, func(context.Context) (any, error) { return nil, errNotCached })
	if err != nil || got != "new value" {
		e.t.Errorf("GetOrCreate after the regeneration = %#v, %v; want %q", got, err, "new value")
	}
}
