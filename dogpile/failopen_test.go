package dogpile_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// stalled is a bytes backend that answers nothing: every call waits for
// its context, as a SIGSTOPped server does until the socket times out. It
// has a lock, which stalls too.
type stalled struct{}

func (stalled) wait(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
func (s stalled) GetBytes(ctx context.Context, _ string) ([]byte, bool, error) {
	return nil, false, s.wait(ctx)
}
func (s stalled) GetBytesMulti(ctx context.Context, _ []string) ([][]byte, error) {
	return nil, s.wait(ctx)
}
func (s stalled) SetBytes(ctx context.Context, _ string, _ []byte) error { return s.wait(ctx) }
func (s stalled) SetBytesMulti(ctx context.Context, _ []driver.BytesItem) error {
	return s.wait(ctx)
}
func (s stalled) Delete(ctx context.Context, _ string) error        { return s.wait(ctx) }
func (s stalled) DeleteMulti(ctx context.Context, _ []string) error { return s.wait(ctx) }
func (s stalled) Mutex(string) driver.Mutex                         { return stalledMutex{} }

type stalledMutex struct{}

func (stalledMutex) Acquire(ctx context.Context, _ bool) (bool, error) {
	<-ctx.Done()
	return false, ctx.Err()
}
func (stalledMutex) Release(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
func (stalledMutex) Locked(ctx context.Context) (bool, error) {
	<-ctx.Done()
	return false, ctx.Err()
}

// TestFailOpenServesWithinTheDeadline: with a backend that stopped
// answering, a fail-open caller with a deadline gives the backend half of
// its time, then creates without the backend's lock, and gets the value
// before its deadline; callers that join the creation get it too, and the
// write that stalls after it keeps nobody waiting.
func TestFailOpenServesWithinTheDeadline(t *testing.T) {
	const deadline = 600 * time.Millisecond
	r := dogpile.NewRegion(dogpile.WithFailOpen(), quiet, dogpile.WithCreationTimeout(5*time.Second))
	if err := r.ConfigureBackend(stalled{}, dogpile.Config{ExpirationTime: time.Minute}); err != nil {
		t.Fatal(err)
	}
	creatorStarted := make(chan struct{})
	var once sync.Once
	creator := func(context.Context) (string, error) {
		once.Do(func() { close(creatorStarted) })
		time.Sleep(50 * time.Millisecond) // the creator's own work
		return "fresh", nil
	}
	type result struct {
		v    string
		err  error
		took time.Duration
	}
	call := func(out chan<- result) {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		start := time.Now()
		v, err := dogpile.GetOrCreate(ctx, r, "k", creator)
		out <- result{v, err, time.Since(start)}
	}
	first := make(chan result, 1)
	go call(first)
	<-creatorStarted
	joined := make(chan result, 1)
	go call(joined)
	for name, ch := range map[string]chan result{"the first caller": first, "a caller that joined": joined} {
		res := <-ch
		if res.err != nil || res.v != "fresh" {
			t.Errorf("%s: %q, %v after %v; want the created value", name, res.v, res.err, res.took)
		}
		if res.took >= deadline {
			t.Errorf("%s took %v, not within its %v deadline", name, res.took, deadline)
		}
	}
}

// TestFailOpenReadErrorSkipsTheLock: after a read that failed, failing
// open, the creation asks the stalled backend neither for its lock nor
// again, so a caller gets the value before its deadline; a region that
// does not fail open returns the deadline's error.
func TestFailOpenReadErrorSkipsTheLock(t *testing.T) {
	r := dogpile.NewRegion(dogpile.WithFailOpen(), quiet)
	if err := r.ConfigureBackend(stalled{}, dogpile.Config{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (int, error) { return 7, nil })
	if err != nil || v != 7 {
		t.Fatalf("GetOrCreate = %d, %v; want 7", v, err)
	}
	// Without fail-open, the same call is an error, after the deadline.
	strict := dogpile.NewRegion()
	if err := strict.ConfigureBackend(stalled{}, dogpile.Config{}); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := dogpile.GetOrCreate(ctx2, strict, "k", func(context.Context) (int, error) { return 7, nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("strict region: %v; want the deadline", err)
	}
}
