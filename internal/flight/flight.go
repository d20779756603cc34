// Package flight coalesces concurrent work on one key, as
// golang.org/x/sync/singleflight does, for callers that may stop waiting
// before the work ends.
//
// A caller joins the call in flight for its key, or starts one and leads
// it. The leader runs the work (usually with Go, on a goroutine of its
// own, so that it too can stop waiting when its context ends) and
// publishes the result with Finish; every caller that waits gets it. A
// panic in the work is recovered with its stack (PanicError), and
// runtime.Goexit in the work (such as t.Fatal in a test) ends the call
// with ErrGoexit: neither leaves a call open or takes the process down by
// itself.
package flight

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// ErrGoexit is the error of a call whose work called runtime.Goexit.
var ErrGoexit = errors.New("runtime.Goexit was called")

// PanicError is a panic recovered from a call's work, with the stack of
// the goroutine that panicked.
type PanicError struct {
	Value any
	Stack []byte
}

// Error returns the panic value and the stack.
func (p *PanicError) Error() string { return fmt.Sprintf("%v\n\n%s", p.Value, p.Stack) }

// Unwrap returns the panic value when it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// Group is a set of calls in flight by key. Its zero value is ready to
// use. Looking up a call takes no lock shared by every key.
type Group[V any] struct {
	m sync.Map // string → *Call[V]
}

// Call is one call in flight.
type Call[V any] struct {
	done chan struct{}
	val  V
	err  error
	// leader is leaderWaiting until the leader stops waiting (leaderGone)
	// or the result is published while it waits (delivered).
	leader atomic.Int32
}

const (
	leaderWaiting int32 = iota
	leaderGone
	delivered
)

// Join returns the call in flight for key, and whether the caller leads
// it: then no call was in flight, and the caller must end the new one
// with Finish.
func (g *Group[V]) Join(key string) (c *Call[V], leader bool) {
	if v, ok := g.m.Load(key); ok {
		return v.(*Call[V]), false
	}
	c = &Call[V]{done: make(chan struct{})}
	if v, loaded := g.m.LoadOrStore(key, c); loaded {
		return v.(*Call[V]), false
	}
	return c, true
}

// Active reports whether a call is in flight for key.
func (g *Group[V]) Active(key string) bool {
	_, ok := g.m.Load(key)
	return ok
}

// Finish publishes the result of c, the call led for key, and ends it: the
// next Join of key starts a new call. It reports whether the leader had
// stopped waiting (or never waited: see Abandon) before the result came.
func (g *Group[V]) Finish(key string, c *Call[V], v V, err error) (leaderGone bool) {
	g.Forget(key, c)
	return c.Publish(v, err)
}

// Publish hands the result of c to its callers, and to those that join it
// until Forget, but does not end it: the leader can finish its work (a
// write after the result is known) while new callers of the key get the
// result rather than start the work again. It reports what Finish does,
// and must be called once.
func (c *Call[V]) Publish(v V, err error) (leaderGone bool) {
	c.val, c.err = v, err
	gone := !c.leader.CompareAndSwap(leaderWaiting, delivered)
	close(c.done)
	return gone
}

// Forget ends c, the call led for key, after Publish: the next Join of key
// starts a new call.
func (g *Group[V]) Forget(key string, c *Call[V]) { g.m.CompareAndDelete(key, c) }

// Abandon tells c that its leader will not wait for it, as when the work
// runs in the background: Finish then reports the leader gone.
func (c *Call[V]) Abandon() { c.leader.CompareAndSwap(leaderWaiting, leaderGone) }

// Wait returns the result of c, or ctx's error when ctx ends first. The
// call goes on for the others either way. leader tells whether the caller
// leads c: a leader that stops waiting is remembered, so that Finish
// reports it.
func (c *Call[V]) Wait(ctx context.Context, leader bool) (V, error) {
	select { // an ended call wins over an ended context
	case <-c.done:
		return c.val, c.err
	default:
	}
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
	}
	if leader && !c.leader.CompareAndSwap(leaderWaiting, leaderGone) {
		<-c.done // the result was published as ctx ended: take it
		return c.val, c.err
	}
	var zero V
	return zero, ctx.Err()
}

// Done returns a channel closed when c ends.
func (c *Call[V]) Done() <-chan struct{} { return c.done }

// Go runs work on a new goroutine, then report with how work ended: nil
// when it returned, a *PanicError when it panicked, ErrGoexit when it
// called runtime.Goexit. report runs in a deferred call on work's
// goroutine, so it runs after a Goexit too, and must not panic itself.
func Go(work func(), report func(err error)) {
	go Run(work, report)
}

// Run is Go on the calling goroutine. After a Goexit in work, Run calls
// report and then does not return: the goroutine ends.
func Run(work func(), report func(err error)) {
	returned := false
	defer func() {
		var err error
		if !returned {
			// recover returns nil during a Goexit; since Go 1.21 a
			// panic(nil) recovers as a *runtime.PanicNilError.
			if p := recover(); p != nil {
				err = &PanicError{Value: p, Stack: debug.Stack()}
			} else {
				err = ErrGoexit
			}
		}
		report(err)
	}()
	work()
	returned = true
}
