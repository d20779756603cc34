package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
)

// stepClock is a fake clock that moves only when told.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func newStepClock() *stepClock {
	return &stepClock{now: time.Unix(1_700_000_000, 0)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingBackend counts the calls a region makes to a memory backend.
type countingBackend struct {
	dogpile.ProxyBackend
	gets, getMultis, sets, setMultis atomic.Int64
}

func newCounting() *countingBackend {
	return &countingBackend{ProxyBackend: dogpile.ProxyBackend{Next: dogpile.NewMemoryBackend()}}
}

func (b *countingBackend) Get(ctx context.Context, key string) (dogpile.CachedValue, bool, error) {
	b.gets.Add(1)
	return b.ProxyBackend.Get(ctx, key)
}

func (b *countingBackend) GetMulti(ctx context.Context, keys []string) ([]dogpile.CachedValue, error) {
	b.getMultis.Add(1)
	return b.ProxyBackend.GetMulti(ctx, keys)
}

func (b *countingBackend) Set(ctx context.Context, key string, v dogpile.CachedValue) error {
	b.sets.Add(1)
	return b.ProxyBackend.Set(ctx, key, v)
}

func (b *countingBackend) SetMulti(ctx context.Context, items []dogpile.Item) error {
	b.setMultis.Add(1)
	return b.ProxyBackend.SetMulti(ctx, items)
}

func newRegion(t testing.TB, b dogpile.Backend, exp time.Duration, opts ...dogpile.Option) *dogpile.Region {
	t.Helper()
	r := dogpile.NewRegion(opts...)
	if err := r.ConfigureBackend(b, dogpile.Config{ExpirationTime: exp}); err != nil {
		t.Fatal(err)
	}
	return r
}

// gate holds creators until it is opened, and counts them.
type gate struct {
	calls   atomic.Int64
	entered chan struct{}
	open    chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 1000), open: make(chan struct{})} }

func (g *gate) creator(value string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		n := g.calls.Add(1)
		g.entered <- struct{}{}
		<-g.open
		return fmt.Sprintf("%s %d", value, n), nil
	}
}

func TestMissingValueOneCreatorManyWaiters(t *testing.T) {
	ctx := context.Background()
	b := newCounting()
	r := newRegion(t, b, time.Minute)
	g := newGate()
	const n = 100
	results := make(chan string, n)
	for range n {
		go func() {
			v, err := dogpile.GetOrCreate(ctx, r, "k", g.creator("v"))
			if err != nil {
				t.Error(err)
			}
			results <- v
		}()
	}
	<-g.entered
	// Every caller has read the backend and found nothing before the
	// creator is let go.
	for b.gets.Load() < n {
		time.Sleep(time.Millisecond)
	}
	close(g.open)
	for range n {
		if v := <-results; v != "v 1" {
			t.Errorf("got %q, want %q", v, "v 1")
		}
	}
	if c := g.calls.Load(); c != 1 {
		t.Errorf("creator called %d times, want 1", c)
	}
	if s := b.sets.Load(); s != 1 {
		t.Errorf("backend Set called %d times, want 1", s)
	}
}

func TestExpiredValueServedStaleWhileOneRegenerates(t *testing.T) {
	for _, waitForFresh := range []bool{false, true} {
		t.Run(fmt.Sprintf("waitForFresh=%v", waitForFresh), func(t *testing.T) {
			ctx := context.Background()
			clock := newStepClock()
			r := newRegion(t, dogpile.NewMemoryBackend(), time.Minute, dogpile.WithClock(clock.Now))
			if err := r.Set(ctx, "k", "old"); err != nil {
				t.Fatal(err)
			}
			clock.Advance(2 * time.Minute)
			g := newGate()
			leader := make(chan string)
			go func() {
				v, err := dogpile.GetOrCreate(ctx, r, "k", g.creator("new"))
				if err != nil {
					t.Error(err)
				}
				leader <- v
			}()
			<-g.entered
			var opts []dogpile.CallOption
			if waitForFresh {
				opts = append(opts, dogpile.WaitForFresh())
			}
			const n = 50
			others := make(chan string, n)
			for range n {
				go func() {
					v, err := dogpile.GetOrCreate(ctx, r, "k", g.creator("other"), opts...)
					if err != nil {
						t.Error(err)
					}
					others <- v
				}()
			}
			want := "new 1"
			if !waitForFresh {
				// Served at once, while the creator is still held.
				for range n {
					if v := <-others; v != "old" {
						t.Errorf("got %q while regenerating, want the stale %q", v, "old")
					}
				}
			}
			close(g.open)
			if v := <-leader; v != want {
				t.Errorf("creator's caller got %q, want %q", v, want)
			}
			if waitForFresh {
				for range n {
					if v := <-others; v != want {
						t.Errorf("got %q, want the fresh %q", v, want)
					}
				}
			}
			if c := g.calls.Load(); c != 1 {
				t.Errorf("creator called %d times, want 1", c)
			}
		})
	}
}

func TestStampedeOnExpiredKeyCreatesOnce(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Second, dogpile.WithClock(clock.Now))
	var calls atomic.Int64
	creator := func(context.Context) (int, error) { return int(calls.Add(1)), nil }
	for round := 1; round <= 5; round++ {
		clock.Advance(2 * time.Second)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 1000 {
			wg.Go(func() {
				<-start
				if _, err := dogpile.GetOrCreate(ctx, r, "hot", creator); err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if c := calls.Load(); c != int64(round) {
			t.Fatalf("after %d expiries the creator ran %d times", round, c)
		}
	}
}

func TestNoDoubleGetOnExpiredValue(t *testing.T) {
	// dogpile.cache's RaceConditionTest: an expired value is read once.
	ctx := context.Background()
	clock := newStepClock()
	b := newCounting()
	r := newRegion(t, b, 10*time.Second, dogpile.WithClock(clock.Now))
	if err := r.Set(ctx, "k", "old"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(12 * time.Second)
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "the value", nil })
	if err != nil || v != "the value" {
		t.Fatalf("got %q, %v", v, err)
	}
	if g := b.gets.Load(); g != 1 {
		t.Errorf("backend read %d times, want 1", g)
	}
}

func TestCreatorErrorReturnedToWaitersAndNotCached(t *testing.T) {
	ctx := context.Background()
	b := newCounting()
	r := newRegion(t, b, time.Minute)
	boom := errors.New("boom")
	release := make(chan struct{})
	entered := make(chan struct{})
	var calls atomic.Int64
	failing := func(context.Context) (string, error) {
		calls.Add(1)
		close(entered)
		<-release
		return "", boom
	}
	errs := make(chan error, 11)
	go func() { _, err := dogpile.GetOrCreate(ctx, r, "k", failing); errs <- err }()
	<-entered
	for range 10 {
		go func() {
			_, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "", errors.New("not me") })
			errs <- err
		}()
	}
	for b.gets.Load() < 11 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	for range 11 {
		if err := <-errs; !errors.Is(err, boom) {
			t.Errorf("got %v, want the creator's error", err)
		}
	}
	if _, ok, _ := r.Get(ctx, "k"); ok {
		t.Error("a failed creation was cached")
	}
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "ok", nil })
	if err != nil || v != "ok" {
		t.Errorf("after a failure: %q, %v", v, err)
	}
}

func TestCreatorPanic(t *testing.T) {
	ctx := context.Background()
	b := newCounting()
	r := newRegion(t, b, time.Minute)
	entered := make(chan struct{})
	release := make(chan struct{})
	starter := make(chan any)
	go func() {
		defer func() { starter <- recover() }()
		_, _ = dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
			close(entered)
			<-release
			panic("kaboom")
		})
	}()
	<-entered
	waiter := make(chan error)
	go func() {
		_, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "never", nil })
		waiter <- err
	}()
	// The waiter has read the backend: it waits on the creation, or, if it
	// joins after the flight ended, creates its own value.
	for b.gets.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if p := <-starter; p != "kaboom" {
		t.Errorf("starter recovered %v, want the creator's panic value", p)
	}
	if err := <-waiter; err != nil && !errors.Is(err, dogpile.ErrCreatorPanicked) {
		t.Errorf("waiter got %v, want ErrCreatorPanicked", err)
	}
	if locked, err := r.KeyIsLocked(ctx, "k"); locked || err != nil {
		t.Errorf("key locked after a panic: %v, %v", locked, err)
	}
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "fine", nil })
	if err != nil || (v != "fine" && v != "never") {
		t.Errorf("after the panic: %q, %v", v, err)
	}
}

func TestContextEndsWaitNotCreation(t *testing.T) {
	type ctxKey struct{}
	base := context.WithValue(context.Background(), ctxKey{}, "request-42")
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Minute)
	entered := make(chan struct{})
	release := make(chan struct{})
	creatorCtx := make(chan context.Context, 1)
	starterCtx, cancelStarter := context.WithCancel(base)
	starterErr := make(chan error)
	go func() {
		_, err := dogpile.GetOrCreate(starterCtx, r, "k", func(ctx context.Context) (string, error) {
			close(entered)
			<-release
			creatorCtx <- ctx
			return "made", nil
		})
		starterErr <- err
	}()
	<-entered
	waiterCtx, cancelWaiter := context.WithCancel(context.Background())
	waiterErr := make(chan error)
	go func() {
		_, err := dogpile.GetOrCreate(waiterCtx, r, "k", func(context.Context) (string, error) { return "no", nil })
		waiterErr <- err
	}()
	cancelWaiter()
	if err := <-waiterErr; !errors.Is(err, context.Canceled) {
		t.Errorf("waiter: %v, want context.Canceled", err)
	}
	cancelStarter()
	if err := <-starterErr; !errors.Is(err, context.Canceled) {
		t.Errorf("starter: %v, want context.Canceled", err)
	}
	close(release)
	cctx := <-creatorCtx
	if cctx.Err() != nil {
		t.Errorf("creator's context ended with its starter: %v", cctx.Err())
	}
	if cctx.Value(ctxKey{}) != "request-42" {
		t.Error("creator's context lost the starter's values")
	}
	// The creation went on and was stored.
	v, err := dogpile.GetOrCreate(context.Background(), r, "k", func(context.Context) (string, error) { return "again", nil })
	if err != nil || v != "made" {
		t.Errorf("got %q, %v; want the value made after the callers left", v, err)
	}
}

func TestCreationTimeout(t *testing.T) {
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Minute, dogpile.WithCreationTimeout(20*time.Millisecond))
	_, err := dogpile.GetOrCreate(context.Background(), r, "k", func(ctx context.Context) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the creator's deadline error", err)
	}
}

func TestAsyncRunner(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	var tasks []func()
	var keys []string
	runner := func(key string, task func()) { keys, tasks = append(keys, key), append(tasks, task) }
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Second, dogpile.WithClock(clock.Now), dogpile.WithAsyncRunner(runner))
	var calls atomic.Int64
	creator := func(context.Context) (string, error) { return fmt.Sprintf("v%d", calls.Add(1)), nil }

	// No value: created in the foreground, the runner is not used.
	if v, _ := dogpile.GetOrCreate(ctx, r, "k", creator); v != "v1" || len(tasks) != 0 {
		t.Fatalf("first call: %q, %d tasks", v, len(tasks))
	}
	clock.Advance(2 * time.Second)
	// Expired: everyone, the caller that starts the regeneration included,
	// is served the stale value; the runner gets one task.
	for range 3 {
		if v, _ := dogpile.GetOrCreate(ctx, r, "k", creator); v != "v1" {
			t.Fatalf("got %q, want the stale v1", v)
		}
	}
	if len(tasks) != 1 || keys[0] != "k" || calls.Load() != 1 {
		t.Fatalf("%d tasks for %v, %d creations; want 1 task, creator not yet called", len(tasks), keys, calls.Load())
	}
	if locked, _ := r.KeyIsLocked(ctx, "k"); !locked {
		t.Error("key not locked while its regeneration is queued")
	}
	tasks[0]()
	if locked, _ := r.KeyIsLocked(ctx, "k"); locked {
		t.Error("key still locked after the task ran")
	}
	if v, _ := dogpile.GetOrCreate(ctx, r, "k", creator); v != "v2" {
		t.Fatalf("after the task: %q, want v2", v)
	}
}

func TestAsyncRunnerReleasesOnPanic(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	var task func()
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Second, dogpile.WithClock(clock.Now),
		dogpile.WithAsyncRunner(func(_ string, f func()) { task = f }))
	if err := r.Set(ctx, "k", "old"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { panic("bg boom") })
	if err != nil || v != "old" {
		t.Fatalf("got %q, %v", v, err)
	}
	func() {
		defer func() {
			if p := recover(); p != "bg boom" {
				t.Errorf("task re-raised %v, want the creator's panic", p)
			}
		}()
		task()
	}()
	if locked, _ := r.KeyIsLocked(ctx, "k"); locked {
		t.Error("key locked after a panicking background creation")
	}
}

func TestGoRunnerServesStaleAndRegenerates(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Second, dogpile.WithClock(clock.Now), dogpile.WithAsyncRunner(dogpile.GoRunner))
	done := make(chan struct{})
	if err := r.Set(ctx, "k", "old"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	v, _ := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
		defer close(done)
		return "new", nil
	})
	if v != "old" {
		t.Fatalf("got %q, want the stale value", v)
	}
	<-done
	for {
		if locked, _ := r.KeyIsLocked(ctx, "k"); !locked {
			break
		}
	}
	if v, ok, _ := r.Get(ctx, "k"); !ok || v != "new" {
		t.Fatalf("after regeneration: %v %v", v, ok)
	}
}

// remoteLock stands for a distributed lock that another process may hold.
type remoteLock struct {
	mu       sync.Mutex
	held     bool
	released chan struct{}
	acquires atomic.Int64
	lostOnce atomic.Bool
}

func newRemoteLock() *remoteLock { return &remoteLock{released: make(chan struct{})} }

func (l *remoteLock) Acquire(ctx context.Context, wait bool) (bool, error) {
	l.acquires.Add(1)
	for {
		l.mu.Lock()
		if !l.held {
			l.held = true
			l.mu.Unlock()
			return true, nil
		}
		ch := l.released
		l.mu.Unlock()
		if !wait {
			return false, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

func (l *remoteLock) Release(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = false
	close(l.released)
	l.released = make(chan struct{})
	if l.lostOnce.CompareAndSwap(true, false) {
		return dogpile.ErrLockLost
	}
	return nil
}

func (l *remoteLock) Locked(context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held, nil
}

type lockingBackend struct {
	*countingBackend
	lock *remoteLock
}

func (b lockingBackend) Mutex(string) dogpile.Mutex { return b.lock }

func TestDistributedLockHeldElsewhere(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	b := lockingBackend{newCounting(), newRemoteLock()}
	r := newRegion(t, b, time.Second, dogpile.WithClock(clock.Now))
	other := newRegion(t, b.countingBackend, time.Second, dogpile.WithClock(clock.Now)) // "another process"

	// Expired value and the lock held elsewhere: served stale, no creation.
	if err := r.Set(ctx, "k", "old"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	if ok, _ := b.lock.Acquire(ctx, false); !ok {
		t.Fatal("could not take the lock")
	}
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "mine", nil })
	if err != nil || v != "old" {
		t.Fatalf("got %q, %v; want the stale value", v, err)
	}
	if locked, _ := r.KeyIsLocked(ctx, "k"); !locked {
		t.Error("KeyIsLocked false while another process holds the lock")
	}

	// No value: wait for the lock, then find the other process's value.
	if err := r.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "mine", nil })
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	for b.lock.acquires.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	if err := other.Set(ctx, "k", "theirs"); err != nil {
		t.Fatal(err)
	}
	_ = b.lock.Release(ctx)
	if v := <-got; v != "theirs" {
		t.Errorf("got %q, want the value the lock holder created", v)
	}
}

func TestLostLockKeepsValue(t *testing.T) {
	ctx := context.Background()
	b := lockingBackend{newCounting(), newRemoteLock()}
	b.lock.lostOnce.Store(true)
	r := newRegion(t, b, time.Minute)
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "made", nil })
	if err != nil || v != "made" {
		t.Fatalf("got %q, %v; a lost lock must not lose the value", v, err)
	}
	if v, ok, _ := r.Get(ctx, "k"); !ok || v != "made" {
		t.Errorf("stored %v %v", v, ok)
	}
}

func TestMultiCreatorGetsMissingKeysInCallerOrder(t *testing.T) {
	ctx := context.Background()
	b := newCounting()
	r := newRegion(t, b, time.Minute)
	if err := r.Set(ctx, "k2", "have k2"); err != nil {
		t.Fatal(err)
	}
	var asked [][]string
	creator := func(_ context.Context, keys []string) ([]string, error) {
		asked = append(asked, keys)
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = "made " + k
		}
		return out, nil
	}
	b.gets.Store(0)
	b.sets.Store(0)
	got, err := dogpile.GetOrCreateMulti(ctx, r, []string{"k3", "k2", "k5", "k3", "k1"}, creator)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"made k3", "have k2", "made k5", "made k3", "made k1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if fmt.Sprint(asked) != "[[k3 k5 k1]]" {
		t.Errorf("creator asked for %v, want [[k3 k5 k1]]", asked)
	}
	if b.getMultis.Load() != 1 || b.gets.Load() != 0 || b.setMultis.Load() != 1 || b.sets.Load() != 0 {
		t.Errorf("round trips: %d GetMulti, %d Get, %d SetMulti, %d Set; want one read and one write",
			b.getMultis.Load(), b.gets.Load(), b.setMultis.Load(), b.sets.Load())
	}
}

func TestMultiConcurrentOverlappingKeys(t *testing.T) {
	ctx := context.Background()
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Minute)
	var created sync.Map // key → count
	creator := func(_ context.Context, keys []string) ([]int, error) {
		out := make([]int, len(keys))
		for i, k := range keys {
			n, _ := created.LoadOrStore(k, new(atomic.Int64))
			out[i] = int(n.(*atomic.Int64).Add(1))
		}
		return out, nil
	}
	var wg sync.WaitGroup
	for g := range 50 {
		wg.Go(func() {
			keys := []string{fmt.Sprint(g % 7), fmt.Sprint((g + 3) % 7), fmt.Sprint((g * 5) % 7)}
			vals, err := dogpile.GetOrCreateMulti(ctx, r, keys, creator)
			if err != nil {
				t.Error(err)
				return
			}
			for i, v := range vals {
				if v != 1 {
					t.Errorf("key %s: value %d, want the single creation", keys[i], v)
				}
			}
		})
	}
	wg.Wait()
	created.Range(func(k, n any) bool {
		if c := n.(*atomic.Int64).Load(); c != 1 {
			t.Errorf("key %v created %d times", k, c)
		}
		return true
	})
}

func TestMultiCreatorWrongLength(t *testing.T) {
	r := newRegion(t, dogpile.NewMemoryBackend(), time.Minute)
	_, err := dogpile.GetOrCreateMulti(context.Background(), r, []string{"a", "b"}, func(context.Context, []string) ([]int, error) {
		return []int{1}, nil
	})
	if !errors.Is(err, dogpile.ErrCreatorLength) {
		t.Fatalf("got %v, want ErrCreatorLength", err)
	}
}

// refusingLock never grants a blocking Acquire, yet reports no error: a
// broken backend lock.
type refusingLock struct{}

func (refusingLock) Acquire(context.Context, bool) (bool, error) { return false, nil }
func (refusingLock) Release(context.Context) error               { return nil }
func (refusingLock) Locked(context.Context) (bool, error)        { return true, nil }

type refusingBackend struct{ *countingBackend }

func (refusingBackend) Mutex(string) dogpile.Mutex { return refusingLock{} }

func TestBlockingAcquireRefusedIsAnError(t *testing.T) {
	r := newRegion(t, refusingBackend{newCounting()}, time.Minute)
	v, err := dogpile.GetOrCreate(context.Background(), r, "missing", func(context.Context) (string, error) { return "made", nil })
	if err == nil {
		t.Fatalf("got %q and no error; a lock that was neither granted nor failed must not serve a zero value", v)
	}
}
