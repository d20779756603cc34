package flight

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lead joins key and fails unless the caller leads a new call.
func lead(t *testing.T, g *Group[int], key string) *Call[int] {
	t.Helper()
	c, leader := g.Join(key)
	if !leader {
		t.Fatalf("Join(%q): a call was already in flight", key)
	}
	return c
}

func TestJoinCoalesces(t *testing.T) {
	var g Group[int]
	c := lead(t, &g, "k")
	const n = 50
	var wg sync.WaitGroup
	results := make(chan int, n)
	for range n {
		f, leader := g.Join("k")
		if leader || f != c {
			t.Fatal("a second Join of a key in flight led a call of its own")
		}
		wg.Go(func() {
			v, err := f.Wait(context.Background(), false)
			if err != nil {
				t.Error(err)
			}
			results <- v
		})
	}
	if !g.Active("k") || g.Active("other") {
		t.Fatal("Active does not reflect the call in flight")
	}
	// The leader neither left nor abandoned the call: it counts as waiting.
	if gone := g.Finish("k", c, 7, nil); gone {
		t.Error("Finish: the leader is reported gone, though it neither left nor abandoned the call")
	}
	wg.Wait()
	close(results)
	for v := range results {
		if v != 7 {
			t.Errorf("a waiter got %d, want 7", v)
		}
	}
	if g.Active("k") {
		t.Error("the key is still active after Finish")
	}
	if _, leader := g.Join("k"); !leader {
		t.Error("Join after Finish did not start a new call")
	}
}

func TestErrorsReachEveryWaiter(t *testing.T) {
	var g Group[int]
	c := lead(t, &g, "k")
	boom := errors.New("boom")
	done := make(chan error, 1)
	go func() {
		_, err := c.Wait(context.Background(), false)
		done <- err
	}()
	g.Finish("k", c, 0, boom)
	if err := <-done; !errors.Is(err, boom) {
		t.Errorf("waiter got %v, want %v", err, boom)
	}
	if _, err := c.Wait(context.Background(), true); !errors.Is(err, boom) {
		t.Errorf("leader got %v, want %v", err, boom)
	}
}

// TestWaiterLeavesWhenItsContextEnds: the call goes on for the others.
func TestWaiterLeavesWhenItsContextEnds(t *testing.T) {
	var g Group[int]
	c := lead(t, &g, "k")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Wait(ctx, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with an ended context = %v, want context.Canceled", err)
	}
	done := make(chan int, 1)
	go func() {
		v, _ := c.Wait(context.Background(), false)
		done <- v
	}()
	g.Finish("k", c, 3, nil)
	if v := <-done; v != 3 {
		t.Errorf("the other waiter got %d, want 3", v)
	}
}

// TestLeaderGone: a leader whose context ends is remembered, so that
// Finish reports nobody to hand a panic to; a leader that waits to the end
// is not.
func TestLeaderGone(t *testing.T) {
	var g Group[int]
	c := lead(t, &g, "gone")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Wait(ctx, true); !errors.Is(err, context.Canceled) {
		t.Fatalf("leader Wait = %v", err)
	}
	if gone := g.Finish("gone", c, 1, nil); !gone {
		t.Error("Finish after the leader left: want gone")
	}

	c = lead(t, &g, "stays")
	done := make(chan int, 1)
	go func() {
		v, _ := c.Wait(context.Background(), true)
		done <- v
	}()
	// Finish may come before or after the leader starts waiting; either
	// way the leader gets the result and is not gone.
	for !c.leaderWaitingForTest() {
		runtime.Gosched()
	}
	if gone := g.Finish("stays", c, 2, nil); gone {
		t.Error("Finish while the leader waits: reported gone")
	}
	if v := <-done; v != 2 {
		t.Errorf("leader got %d, want 2", v)
	}

	c = lead(t, &g, "abandoned")
	c.Abandon()
	if gone := g.Finish("abandoned", c, 0, nil); !gone {
		t.Error("Finish of an abandoned call: want gone")
	}
}

func (c *Call[V]) leaderWaitingForTest() bool { return c.leader.Load() == leaderWaiting }

// TestEndedCallWinsOverEndedContext: a result already there is returned
// even when the context has ended too.
func TestEndedCallWinsOverEndedContext(t *testing.T) {
	var g Group[int]
	c := lead(t, &g, "k")
	g.Finish("k", c, 5, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 100 {
		if v, err := c.Wait(ctx, true); v != 5 || err != nil {
			t.Fatalf("Wait = %d, %v; want the published 5", v, err)
		}
	}
}

func TestRunReturns(t *testing.T) {
	var got error = errors.New("not reported")
	Run(func() {}, func(err error) { got = err })
	if got != nil {
		t.Errorf("report(%v), want nil", got)
	}
}

// TestRunPanicCarriesStack: the panic value and the stack of the goroutine
// that panicked, including the function that panicked.
func TestRunPanicCarriesStack(t *testing.T) {
	var got error
	Run(panickingWork, func(err error) { got = err })
	var pe *PanicError
	if !errors.As(got, &pe) {
		t.Fatalf("report(%v), want a *PanicError", got)
	}
	if pe.Value != "boom" || !strings.Contains(string(pe.Stack), "panickingWork") {
		t.Errorf("PanicError{Value: %v, Stack: %s}: want boom and a stack through panickingWork", pe.Value, pe.Stack)
	}
	if !strings.Contains(pe.Error(), "boom") || !strings.Contains(pe.Error(), "goroutine") {
		t.Errorf("Error() = %q: want the value and the stack", pe.Error())
	}
	inner := errors.New("inner")
	Run(func() { panic(inner) }, func(err error) { got = err })
	if !errors.Is(got, inner) {
		t.Errorf("a panic with an error value: %v does not unwrap to it", got)
	}
	Run(func() { panic(nil) }, func(err error) { got = err })
	if !errors.As(got, &pe) {
		t.Errorf("panic(nil): report(%v), want a *PanicError", got)
	}
}

func panickingWork() { panic("boom") }

// TestGoexit: work that calls runtime.Goexit, as t.Fatal does, is
// reported with ErrGoexit, and the goroutine ends without running the
// rest of Run's caller.
func TestGoexit(t *testing.T) {
	reported := make(chan error, 1)
	after := atomic.Bool{}
	go func() {
		Run(func() { runtime.Goexit() }, func(err error) { reported <- err })
		after.Store(true)
	}()
	select {
	case err := <-reported:
		if !errors.Is(err, ErrGoexit) {
			t.Errorf("report(%v), want ErrGoexit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Goexit was never reported")
	}
	if after.Load() {
		t.Error("Run returned after a Goexit")
	}
}

// TestGoFinishesTheCallAfterGoexit: the waiters of a call whose work calls
// Goexit get an error instead of waiting for ever.
func TestGoFinishesTheCallAfterGoexit(t *testing.T) {
	var g Group[int]
	c := lead(t, &g, "k")
	Go(func() { runtime.Goexit() }, func(err error) { g.Finish("k", c, 0, err) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Wait(ctx, true); !errors.Is(err, ErrGoexit) {
		t.Errorf("Wait = %v, want ErrGoexit", err)
	}
}

func BenchmarkJoinActive(b *testing.B) {
	var g Group[int]
	c, _ := g.Join("k")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if f, leader := g.Join("k"); leader || f != c {
				b.Error("led a second call")
				return
			}
		}
	})
}

// TestPublishBeforeForget: callers joining between Publish and Forget get
// the result at once and lead nothing; after Forget a new call starts.
func TestPublishBeforeForget(t *testing.T) {
	var g Group[int]
	c := lead(t, &g, "k")
	c.Publish(9, nil)
	f, leader := g.Join("k")
	if leader || f != c {
		t.Fatal("Join between Publish and Forget started a new call")
	}
	if v, err := f.Wait(context.Background(), false); v != 9 || err != nil {
		t.Errorf("Wait = %d, %v; want the published 9", v, err)
	}
	g.Forget("k", c)
	if _, leader := g.Join("k"); !leader {
		t.Error("Join after Forget did not start a new call")
	}
}
