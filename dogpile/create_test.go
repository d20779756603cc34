package dogpile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
)

// quiet discards the log of regions whose tests provoke warnings.
var quiet = dogpile.WithLogger(slog.New(slog.DiscardHandler))

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
// When read or wrote is set, every Get or Set also sends its key there.
type countingBackend struct {
	driver.ProxyBackend
	gets, getMultis, sets, setMultis atomic.Int64
	read, wrote                      chan string
}

func newCounting() *countingBackend {
	return &countingBackend{ProxyBackend: driver.ProxyBackend{Next: must(memory.New(memory.Options{}))}}
}

func (b *countingBackend) Get(ctx context.Context, key string) (driver.CachedValue, bool, error) {
	b.gets.Add(1)
	cv, ok, err := b.ProxyBackend.Get(ctx, key)
	if b.read != nil {
		b.read <- key
	}
	return cv, ok, err
}

func (b *countingBackend) GetMulti(ctx context.Context, keys []string) ([]driver.CachedValue, error) {
	b.getMultis.Add(1)
	return b.ProxyBackend.GetMulti(ctx, keys)
}

func (b *countingBackend) Set(ctx context.Context, key string, v driver.CachedValue) error {
	b.sets.Add(1)
	err := b.ProxyBackend.Set(ctx, key, v)
	if b.wrote != nil {
		b.wrote <- key
	}
	return err
}

func (b *countingBackend) SetMulti(ctx context.Context, items []driver.Item) error {
	b.setMultis.Add(1)
	return b.ProxyBackend.SetMulti(ctx, items)
}

func newRegion(t testing.TB, b driver.Backend, exp time.Duration, opts ...dogpile.Option) *dogpile.Region {
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

// waitingCtx tells, by closing waiting, when a caller first asks for its
// Done channel: the region does so when the caller starts waiting for
// a creation led by another.
type waitingCtx struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func newWaitingCtx(parent context.Context) *waitingCtx {
	return &waitingCtx{Context: parent, waiting: make(chan struct{})}
}

func (c *waitingCtx) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}

// logBuffer collects a region's log, and tells of each line on lines.
type logBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	lines chan struct{}
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	n, err := l.b.Write(p)
	l.mu.Unlock()
	select {
	case l.lines <- struct{}{}:
	default:
	}
	return n, err
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// bufferLogger returns a region option logging to the returned buffer.
func bufferLogger() (*logBuffer, dogpile.Option) {
	l := &logBuffer{lines: make(chan struct{}, 100)}
	return l, dogpile.WithLogger(slog.New(slog.NewTextHandler(l, nil)))
}

// eventRecorder keeps the events of an observer.
type eventRecorder struct {
	mu     sync.Mutex
	events []observe.Event
}

func (o *eventRecorder) Enabled(context.Context) bool { return true }

func (o *eventRecorder) Observe(_ context.Context, e observe.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e.Keys = append([]string(nil), e.Keys...)
	e.Results = append([]observe.Result(nil), e.Results...)
	o.events = append(o.events, e)
}

func (o *eventRecorder) ops(op observe.Op) []observe.Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []observe.Event
	for _, e := range o.events {
		if e.Op == op {
			out = append(out, e)
		}
	}
	return out
}

// eventually polls cond until it holds, for what only a background
// goroutine of the region makes true, with no event to wait for.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// receive returns the next value of ch, failing the test when none comes
// within 10s: what a caller should have returned at once.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing within 10s", what)
		panic("unreachable")
	}
}

func isLocked(t *testing.T, r *dogpile.Region, key string) bool {
	t.Helper()
	locked, err := r.KeyIsLocked(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return locked
}

func TestMissingValueOneCreatorManyWaiters(t *testing.T) {
	ctx := context.Background()
	b := newCounting()
	b.read = make(chan string, 1000)
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
	for range n {
		<-b.read
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
			r := newRegion(t, must(memory.New(memory.Options{})), time.Minute, dogpile.WithClock(clock.Now))
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
					if v := receive(t, others, "a caller served the stale value"); v != "old" {
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

// 1,000 callers on one expired key: one creation per expiry, and every
// caller but the one creating is served the stale value while it works.
func TestStampedeOnExpiredKeyCreatesOnce(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Second, dogpile.WithClock(clock.Now))
	var calls atomic.Int64
	var release chan struct{}
	creator := func(context.Context) (int, error) {
		n := int(calls.Add(1))
		<-release
		return n, nil
	}
	release = make(chan struct{})
	close(release)
	if _, err := dogpile.GetOrCreate(ctx, r, "hot", creator); err != nil {
		t.Fatal(err)
	}
	const callers = 1000
	for round := 1; round <= 5; round++ {
		clock.Advance(2 * time.Second)
		release = make(chan struct{})
		start := make(chan struct{})
		results := make(chan int, callers)
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				<-start
				v, err := dogpile.GetOrCreate(ctx, r, "hot", creator)
				if err != nil {
					t.Error(err)
				}
				results <- v
			})
		}
		close(start)
		// The creator is held: every other caller returns the stale value.
		for range callers - 1 {
			if v := receive(t, results, "a caller served during the regeneration"); v != round {
				t.Fatalf("round %d: a caller got %d while the value was regenerated, want the stale %d", round, v, round)
			}
		}
		close(release)
		if v := <-results; v != round+1 {
			t.Errorf("round %d: the creating caller got %d, want %d", round, v, round+1)
		}
		wg.Wait()
		if c := calls.Load(); c != int64(round+1) {
			t.Fatalf("after %d expiries the creator ran %d times, want %d", round, c, round+1)
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
	r := newRegion(t, must(memory.New(memory.Options{})), time.Minute, dogpile.WithName("r"))
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
	const waiters = 10
	errs := make(chan error, waiters+1)
	go func() { _, err := dogpile.GetOrCreate(ctx, r, "k", failing); errs <- err }()
	<-entered
	for range waiters {
		wctx := newWaitingCtx(ctx)
		go func() {
			_, err := dogpile.GetOrCreate(wctx, r, "k", func(context.Context) (string, error) { return "", errors.New("not me") })
			errs <- err
		}()
		<-wctx.waiting
	}
	close(release)
	for range waiters + 1 {
		err := <-errs
		if !errors.Is(err, boom) {
			t.Errorf("got %v, want the creator's error", err)
			continue
		}
		var de *dogpile.Error
		if !errors.As(err, &de) || de.Region != "r" || len(de.Keys) != 1 || de.Keys[0] != "k" {
			t.Errorf("error %#v does not name region r and key k", de)
		}
		if !strings.Contains(err.Error(), "creator: boom") || strings.Count(err.Error(), "dogpile:") != 1 {
			t.Errorf("error text %q", err)
		}
	}
	if c := calls.Load(); c != 1 {
		t.Errorf("failing creator called %d times, want 1", c)
	}
	if _, ok, _ := dogpile.Get[string](ctx, r, "k"); ok {
		t.Error("a failed creation was cached")
	}
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "ok", nil })
	if err != nil || v != "ok" {
		t.Errorf("after a failure: %q, %v", v, err)
	}
}

// goexitCreator is a creator that ends its goroutine, as t.Fatal does,
// once released.
func goexitCreator(entered, release chan struct{}) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		close(entered)
		<-release
		runtime.Goexit()
		return "unreachable", nil
	}
}

func TestCreatorGoexitGivesWaitersAnError(t *testing.T) {
	ctx := context.Background()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Minute, dogpile.WithName("r"))
	entered, release := make(chan struct{}), make(chan struct{})
	const waiters = 5
	errs := make(chan error, waiters+1)
	go func() {
		_, err := dogpile.GetOrCreate(ctx, r, "k", goexitCreator(entered, release))
		errs <- err
	}()
	<-entered
	var others atomic.Int64
	for range waiters {
		wctx := newWaitingCtx(ctx)
		go func() {
			_, err := dogpile.GetOrCreate(wctx, r, "k", func(context.Context) (string, error) {
				others.Add(1)
				return "other", nil
			})
			errs <- err
		}()
		<-wctx.waiting
	}
	if !isLocked(t, r, "k") {
		t.Error("key not locked during the creation")
	}
	close(release)
	for range waiters + 1 {
		err := <-errs
		if !errors.Is(err, dogpile.ErrCreatorGoexit) {
			t.Errorf("got %v, want an error wrapping ErrCreatorGoexit", err)
		}
		if de := (*dogpile.Error)(nil); !errors.As(err, &de) || de.Region != "r" {
			t.Errorf("got %#v, want a *dogpile.Error of region r", err)
		}
		if err != nil && strings.Count(err.Error(), "dogpile:") != 1 {
			t.Errorf("error text %q", err)
		}
	}
	if n := others.Load(); n != 0 {
		t.Errorf("waiters ran their own creators %d times, want 0", n)
	}
	if isLocked(t, r, "k") {
		t.Error("key still locked after the creator's Goexit")
	}
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "again", nil })
	if err != nil || v != "again" {
		t.Errorf("after a Goexit: %q, %v; want a new creation", v, err)
	}
}

// panickingCreator panics with value once released.
func panickingCreator(entered, release chan struct{}, value any) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		close(entered)
		<-release
		panic(value)
	}
}

func TestCreatorPanicCarriesStack(t *testing.T) {
	ctx := context.Background()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Minute, dogpile.WithName("r"))
	entered, release := make(chan struct{}), make(chan struct{})
	starter := make(chan any)
	go func() {
		defer func() { starter <- recover() }()
		_, _ = dogpile.GetOrCreate(ctx, r, "k", panickingCreator(entered, release, "kaboom"))
	}()
	<-entered
	const waiters = 5
	errs := make(chan error, waiters)
	for range waiters {
		wctx := newWaitingCtx(ctx)
		go func() {
			_, err := dogpile.GetOrCreate(wctx, r, "k", func(context.Context) (string, error) { return "never", nil })
			errs <- err
		}()
		<-wctx.waiting
	}
	close(release)

	p := <-starter
	perr, ok := p.(error)
	if !ok {
		t.Fatalf("starter recovered %#v, want an error", p)
	}
	if !errors.Is(perr, dogpile.ErrCreatorPanicked) {
		t.Errorf("starter's panic %v does not wrap ErrCreatorPanicked", perr)
	}
	if de := (*dogpile.Error)(nil); !errors.As(perr, &de) || de.Region != "r" || len(de.Keys) != 1 || de.Keys[0] != "k" {
		t.Errorf("starter's panic is %#v, want a *dogpile.Error of region r, key k", p)
	}
	text := perr.Error()
	first, _, _ := strings.Cut(text, "\n")
	if !strings.Contains(first, "kaboom") || strings.Count(first, "dogpile:") != 1 {
		t.Errorf("first line of the panic %q: want the panic value, one dogpile: prefix", first)
	}
	if !strings.Contains(text, "panickingCreator") || !strings.Contains(text, "goroutine ") {
		t.Errorf("the panic's text holds no stack through the creator:\n%s", text)
	}
	for range waiters {
		if err := <-errs; !errors.Is(err, dogpile.ErrCreatorPanicked) {
			t.Errorf("waiter got %v, want ErrCreatorPanicked", err)
		}
	}
	if isLocked(t, r, "k") {
		t.Error("key locked after a panic")
	}
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "fine", nil })
	if err != nil || v != "fine" {
		t.Errorf("after the panic: %q, %v", v, err)
	}
}

// A panic whose value is an error: errors.Is reaches it too.
func TestCreatorPanicWithError(t *testing.T) {
	r := newRegion(t, must(memory.New(memory.Options{})), time.Minute)
	boom := errors.New("boom")
	defer func() {
		p := recover()
		if err, _ := p.(error); !errors.Is(err, boom) || !errors.Is(err, dogpile.ErrCreatorPanicked) {
			t.Errorf("recovered %v, want an error wrapping ErrCreatorPanicked and the panic's error", p)
		}
	}()
	_, _ = dogpile.GetOrCreate(context.Background(), r, "k", func(context.Context) (int, error) { panic(boom) })
	t.Error("GetOrCreate returned after its creator panicked")
}

// The leader stopped waiting before its creator panicked: nobody
// re-panics, the panic goes to the log, and the waiters get the error.
func TestLeaderGoneWhileCreatorPanics(t *testing.T) {
	logs, logger := bufferLogger()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Minute, logger)
	entered, release := make(chan struct{}), make(chan struct{})
	lctx, cancel := context.WithCancel(context.Background())
	leader := make(chan error)
	go func() {
		_, err := dogpile.GetOrCreate(lctx, r, "k", panickingCreator(entered, release, "late kaboom"))
		leader <- err
	}()
	<-entered
	wctx := newWaitingCtx(context.Background())
	waiter := make(chan error)
	go func() {
		_, err := dogpile.GetOrCreate(wctx, r, "k", func(context.Context) (string, error) { return "never", nil })
		waiter <- err
	}()
	<-wctx.waiting
	cancel()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader: %v, want context.Canceled", err)
	}
	close(release)
	if err := <-waiter; !errors.Is(err, dogpile.ErrCreatorPanicked) {
		t.Errorf("waiter: %v, want ErrCreatorPanicked", err)
	}
	eventually(t, "the panic reaching the log", func() bool { return strings.Contains(logs.String(), "late kaboom") })
	if log := logs.String(); !strings.Contains(log, "panickingCreator") || !strings.Contains(log, "level=ERROR") {
		t.Errorf("log lacks the creator's stack or level ERROR:\n%s", log)
	}
	if isLocked(t, r, "k") {
		t.Error("key locked after the panic")
	}
}

func TestContextEndsWaitNotCreation(t *testing.T) {
	type ctxKey struct{}
	base := context.WithValue(context.Background(), ctxKey{}, "request-42")
	r := newRegion(t, must(memory.New(memory.Options{})), time.Minute)
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
	waiting := newWaitingCtx(waiterCtx)
	waiterErr := make(chan error)
	go func() {
		_, err := dogpile.GetOrCreate(waiting, r, "k", func(context.Context) (string, error) { return "no", nil })
		waiterErr <- err
	}()
	<-waiting.waiting
	cancelWaiter()
	if err := <-waiterErr; !errors.Is(err, context.Canceled) {
		t.Errorf("waiter: %v, want context.Canceled", err)
	}
	cancelStarter()
	if err := <-starterErr; !errors.Is(err, context.Canceled) {
		t.Errorf("starter: %v, want context.Canceled", err)
	}
	if !isLocked(t, r, "k") {
		t.Error("the creation ended with its callers")
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
	eventually(t, "the creation ending", func() bool { return !isLocked(t, r, "k") })
	v, err := dogpile.GetOrCreate(context.Background(), r, "k", func(context.Context) (string, error) { return "again", nil })
	if err != nil || v != "made" {
		t.Errorf("got %q, %v; want the value made after the callers left", v, err)
	}
}

func TestCreationTimeout(t *testing.T) {
	r := newRegion(t, must(memory.New(memory.Options{})), time.Minute, dogpile.WithCreationTimeout(20*time.Millisecond))
	_, err := dogpile.GetOrCreate(context.Background(), r, "k", func(ctx context.Context) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the creator's deadline error", err)
	}
	if isLocked(t, r, "k") {
		t.Error("key locked after the timed-out creation")
	}
}

// WithAsyncCreation: no value, created in the foreground; an expired
// value, served to every caller, the one starting the regeneration
// included, while one background creation runs.
func TestAsyncCreation(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	b := newCounting()
	r := newRegion(t, b, time.Second, dogpile.WithClock(clock.Now), dogpile.WithAsyncCreation())
	var calls atomic.Int64
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	creator := func(context.Context) (string, error) {
		n := calls.Add(1)
		if n > 1 {
			entered <- struct{}{}
			<-release
		}
		return fmt.Sprintf("v%d", n), nil
	}
	if v, err := dogpile.GetOrCreate(ctx, r, "k", creator); err != nil || v != "v1" {
		t.Fatalf("first call: %q, %v", v, err)
	}
	clock.Advance(2 * time.Second)
	b.wrote = make(chan string, 1)
	for range 3 {
		if v, err := dogpile.GetOrCreate(ctx, r, "k", creator); err != nil || v != "v1" {
			t.Fatalf("got %q, %v; want the stale v1", v, err)
		}
	}
	<-entered
	if !isLocked(t, r, "k") {
		t.Error("key not locked while it is regenerated")
	}
	close(release)
	if k := <-b.wrote; k != "k" {
		t.Fatalf("wrote %q", k)
	}
	eventually(t, "the background creation ending", func() bool { return !isLocked(t, r, "k") })
	if v, err := dogpile.GetOrCreate(ctx, r, "k", creator); err != nil || v != "v2" {
		t.Fatalf("after the regeneration: %q, %v; want v2", v, err)
	}
	if c := calls.Load(); c != 2 {
		t.Errorf("creator ran %d times, want 2", c)
	}
}

func TestAsyncCreatorPanicKeepsServingStale(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	logs, logger := bufferLogger()
	obs := &eventRecorder{}
	r := newRegion(t, must(memory.New(memory.Options{})), time.Second, dogpile.WithClock(clock.Now), dogpile.WithAsyncCreation(),
		logger, dogpile.WithObserver(obs), dogpile.WithName("r"))
	if err := r.Set(ctx, "k", "old"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	for round := 1; round <= 2; round++ {
		entered, release := make(chan struct{}), make(chan struct{})
		v, err := dogpile.GetOrCreate(ctx, r, "k", panickingCreator(entered, release, fmt.Sprintf("bg boom %d", round)))
		if err != nil || v != "old" {
			t.Fatalf("round %d: got %q, %v; want the stale value", round, v, err)
		}
		<-entered
		// While it runs, others are served the stale value too.
		if v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "other", nil }); err != nil || v != "old" {
			t.Errorf("round %d, during the creation: %q, %v", round, v, err)
		}
		close(release)
		eventually(t, "the panic reaching the log", func() bool { return strings.Contains(logs.String(), fmt.Sprintf("bg boom %d", round)) })
		eventually(t, "the key released", func() bool { return !isLocked(t, r, "k") })
	}
	log := logs.String()
	if !strings.Contains(log, "panickingCreator") || !strings.Contains(log, "goroutine ") {
		t.Errorf("log lacks the creator's stack:\n%s", log)
	}
	var creates []observe.Event
	for _, e := range obs.ops(observe.OpCreate) {
		if e.Err != nil {
			creates = append(creates, e)
		}
	}
	if len(creates) != 2 {
		t.Fatalf("observer saw %d failed creations, want 2: %+v", len(creates), obs.ops(observe.OpCreate))
	}
	for _, e := range creates {
		if !errors.Is(e.Err, dogpile.ErrCreatorPanicked) || len(e.Keys) != 1 || e.Keys[0] != "k" || e.Region != "r" {
			t.Errorf("creation event %+v, want key k and ErrCreatorPanicked", e)
		}
	}
	if v, ok, _ := dogpile.Get[string](ctx, r, "k", dogpile.IgnoreExpiration()); !ok || v != "old" {
		t.Errorf("stored value %q, %v; want the old one kept", v, ok)
	}
	// A creator that works replaces it.
	done := make(chan struct{})
	if v, _ := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { defer close(done); return "new", nil }); v != "old" {
		t.Errorf("got %q, want the stale value", v)
	}
	<-done
	eventually(t, "the new value stored", func() bool {
		v, ok, _ := dogpile.Get[string](ctx, r, "k")
		return ok && v == "new"
	})
}

func TestAsyncCreatorErrorAndGoexitAreLogged(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		creator func(context.Context) (string, error)
		want    error
		text    string
	}{
		{"error", func(context.Context) (string, error) { return "", errors.New("bg failure") }, nil, "bg failure"},
		{"goexit", func(context.Context) (string, error) { runtime.Goexit(); return "", nil }, dogpile.ErrCreatorGoexit, "Goexit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newStepClock()
			logs, logger := bufferLogger()
			obs := &eventRecorder{}
			r := newRegion(t, must(memory.New(memory.Options{})), time.Second, dogpile.WithClock(clock.Now), dogpile.WithAsyncCreation(), logger, dogpile.WithObserver(obs))
			if err := r.Set(ctx, "k", "old"); err != nil {
				t.Fatal(err)
			}
			clock.Advance(2 * time.Second)
			if v, err := dogpile.GetOrCreate(ctx, r, "k", tc.creator); err != nil || v != "old" {
				t.Fatalf("got %q, %v", v, err)
			}
			eventually(t, "the failure reaching the log", func() bool { return strings.Contains(logs.String(), tc.text) })
			eventually(t, "the key released", func() bool { return !isLocked(t, r, "k") })
			var failed []observe.Event
			for _, e := range obs.ops(observe.OpCreate) {
				if e.Err != nil {
					failed = append(failed, e)
				}
			}
			if len(failed) != 1 || (tc.want != nil && !errors.Is(failed[0].Err, tc.want)) {
				t.Errorf("failed creation events %+v, want one (%v)", failed, tc.want)
			}
			if v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "x", nil }); err != nil || v != "old" {
				t.Errorf("after the failure: %q, %v; want the stale value", v, err)
			}
		})
	}
}

// remoteLock stands for a distributed lock that another process may hold.
type remoteLock struct {
	mu       sync.Mutex
	held     bool
	released chan struct{}
	acquires atomic.Int64
	waiting  chan struct{} // gets a value when a blocking Acquire waits
	lostOnce atomic.Bool
}

func newRemoteLock() *remoteLock {
	return &remoteLock{released: make(chan struct{}), waiting: make(chan struct{}, 10)}
}

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
		l.waiting <- struct{}{}
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
		return fmt.Errorf("lock of k: %w", driver.ErrLockLost)
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

func (b lockingBackend) Mutex(string) driver.Mutex { return b.lock }

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
	if !isLocked(t, r, "k") {
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
	<-b.lock.waiting
	if err := other.Set(ctx, "k", "theirs"); err != nil {
		t.Fatal(err)
	}
	_ = b.lock.Release(ctx)
	if v := <-got; v != "theirs" {
		t.Errorf("got %q, want the value the lock holder created", v)
	}
	if n := b.lock.acquires.Load(); n != 3 {
		t.Errorf("lock acquired %d times, want 3 (the test's, a try, a wait)", n)
	}
}

func TestLostLockKeepsValue(t *testing.T) {
	ctx := context.Background()
	b := lockingBackend{newCounting(), newRemoteLock()}
	b.lock.lostOnce.Store(true)
	logs, logger := bufferLogger()
	obs := &eventRecorder{}
	r := newRegion(t, b, time.Minute, logger, dogpile.WithObserver(obs))
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "made", nil })
	if err != nil || v != "made" {
		t.Fatalf("got %q, %v; a lost lock must not lose the value", v, err)
	}
	if v, ok, _ := dogpile.Get[string](ctx, r, "k"); !ok || v != "made" {
		t.Errorf("stored %v %v", v, ok)
	}
	if !strings.Contains(logs.String(), "lock expired") {
		t.Errorf("lost lock not logged:\n%s", logs)
	}
	lost := false
	for _, e := range obs.ops(observe.OpLockWait) {
		lost = lost || errors.Is(e.Err, dogpile.ErrLockLost)
	}
	if !lost {
		t.Errorf("lost lock not observed: %+v", obs.ops(observe.OpLockWait))
	}
}

// refusingLock never grants a blocking Acquire, yet reports no error: a
// broken backend lock.
type refusingLock struct{}

func (refusingLock) Acquire(context.Context, bool) (bool, error) { return false, nil }
func (refusingLock) Release(context.Context) error               { return nil }
func (refusingLock) Locked(context.Context) (bool, error)        { return true, nil }

type refusingBackend struct{ *countingBackend }

func (refusingBackend) Mutex(string) driver.Mutex { return refusingLock{} }

func TestBlockingAcquireRefusedIsAnError(t *testing.T) {
	r := newRegion(t, refusingBackend{newCounting()}, time.Minute)
	v, err := dogpile.GetOrCreate(context.Background(), r, "missing", func(context.Context) (string, error) { return "made", nil })
	if err == nil {
		t.Fatalf("got %q and no error; a lock that was neither granted nor failed must not serve a zero value", v)
	}
	if strings.Count(err.Error(), "dogpile:") != 1 {
		t.Errorf("error text %q", err)
	}
}

// failingLock fails every Acquire, as a lock server that is down.
type failingLock struct{ err error }

func (l failingLock) Acquire(context.Context, bool) (bool, error) { return false, l.err }
func (l failingLock) Release(context.Context) error               { return nil }
func (l failingLock) Locked(context.Context) (bool, error)        { return false, l.err }

type failingLockBackend struct {
	*countingBackend
	err error
}

func (b failingLockBackend) Mutex(string) driver.Mutex { return failingLock{b.err} }

func TestLockErrors(t *testing.T) {
	ctx := context.Background()
	down := errors.New("lock server down")
	r := newRegion(t, failingLockBackend{newCounting(), down}, time.Minute)
	if _, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (int, error) { return 1, nil }); !errors.Is(err, down) {
		t.Errorf("GetOrCreate: %v, want the lock's error", err)
	}
	if _, err := r.KeyIsLocked(ctx, "k"); !errors.Is(err, down) || strings.Count(err.Error(), "dogpile:") != 1 {
		t.Errorf("KeyIsLocked: %v, want the lock's error", err)
	}
	// Failing open, the creation goes on without the lock.
	open := newRegion(t, failingLockBackend{newCounting(), down}, time.Minute, dogpile.WithFailOpen(), quiet)
	if v, err := dogpile.GetOrCreate(ctx, open, "k", func(context.Context) (int, error) { return 1, nil }); err != nil || v != 1 {
		t.Errorf("fail-open GetOrCreate: %v, %v", v, err)
	}
}

func TestKeyIsLocked(t *testing.T) {
	ctx := context.Background()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Minute)
	if isLocked(t, r, "k") {
		t.Error("locked before any creation")
	}
	g := newGate()
	done := make(chan string)
	go func() { done <- mustGetOrCreate(t, r, "k", g.creator("v")) }()
	<-g.entered
	if !isLocked(t, r, "k") {
		t.Error("not locked during its creation")
	}
	if isLocked(t, r, "other") {
		t.Error("another key locked")
	}
	close(g.open)
	if v := <-done; v != "v 1" {
		t.Errorf("got %q", v)
	}
	if isLocked(t, r, "k") {
		t.Error("locked after its creation")
	}
	if _, err := dogpile.NewRegion().KeyIsLocked(ctx, "k"); !errors.Is(err, dogpile.ErrNotConfigured) {
		t.Errorf("unconfigured: %v", err)
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
	creator := func(_ context.Context, keys []string) (map[string]string, error) {
		asked = append(asked, keys)
		out := make(map[string]string, len(keys))
		for _, k := range keys {
			out[k] = "made " + k
		}
		return out, nil
	}
	b.gets.Store(0)
	b.sets.Store(0)
	got, err := dogpile.GetOrCreateMulti(ctx, r, []string{"k3", "k2", "k5", "k3", "k1"}, creator)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"k3": "made k3", "k2": "have k2", "k5": "made k5", "k1": "made k1"}
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
	r := newRegion(t, must(memory.New(memory.Options{})), time.Minute)
	var created sync.Map // key → count
	creator := func(_ context.Context, keys []string) (map[string]int, error) {
		out := make(map[string]int, len(keys))
		for _, k := range keys {
			n, _ := created.LoadOrStore(k, new(atomic.Int64))
			out[k] = int(n.(*atomic.Int64).Add(1))
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
			for _, k := range keys {
				if v, ok := vals[k]; !ok || v != 1 {
					t.Errorf("key %s: value %d, %v, want the single creation", k, v, ok)
				}
			}
		})
	}
	wg.Wait()
	n := 0
	created.Range(func(k, c any) bool {
		n++
		if c := c.(*atomic.Int64).Load(); c != 1 {
			t.Errorf("key %v created %d times", k, c)
		}
		return true
	})
	if n != 7 {
		t.Errorf("%d keys created, want 7", n)
	}
}

// The creator's map decides which keys were produced: keys it leaves out
// are neither cached nor in the result, keys it was not asked for are
// ignored.
func TestMultiCreatorDecidesProducedKeys(t *testing.T) {
	ctx := context.Background()
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			r := newRegion(t, kind.new(), time.Minute)
			calls := 0
			creator := func(_ context.Context, keys []string) (map[string]int, error) {
				calls++
				return map[string]int{"a": 1, "c": 3, "stranger": 9}, nil
			}
			got, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b", "c"}, creator)
			if err != nil || fmt.Sprint(got) != "map[a:1 c:3]" {
				t.Fatalf("got %v, %v; want map[a:1 c:3]", got, err)
			}
			for k, want := range map[string]bool{"a": true, "b": false, "c": true, "stranger": false} {
				if _, ok, err := dogpile.Get[int](ctx, r, k); ok != want || err != nil {
					t.Errorf("%s cached: %v, %v; want %v", k, ok, err, want)
				}
			}
			// The omitted key is asked for again, alone.
			var asked []string
			got, err = dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b", "c"}, func(_ context.Context, keys []string) (map[string]int, error) {
				asked = keys
				return map[string]int{"b": 2}, nil
			})
			if err != nil || fmt.Sprint(got) != "map[a:1 b:2 c:3]" || fmt.Sprint(asked) != "[b]" {
				t.Errorf("second call: %v, %v, asked %v", got, err, asked)
			}
			// A creator that produces nothing: an empty result, no error.
			got, err = dogpile.GetOrCreateMulti(ctx, r, []string{"x", "y"}, func(context.Context, []string) (map[string]int, error) { return nil, nil })
			if err != nil || len(got) != 0 {
				t.Errorf("nothing produced: %v, %v", got, err)
			}
			if calls != 1 {
				t.Errorf("first creator called %d times", calls)
			}
		})
	}
}

// A GetOrCreate waiting on a key that a multi creator leaves out gets its
// own creator's value, not a type error or a marker value.
func TestMultiOmittedKeyConcurrentGetOrCreate(t *testing.T) {
	ctx := context.Background()
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			r := newRegion(t, kind.new(), time.Minute)
			entered, release := make(chan struct{}), make(chan struct{})
			multi := make(chan map[string]int)
			go func() {
				got, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(context.Context, []string) (map[string]int, error) {
					close(entered)
					<-release
					return map[string]int{"a": 1}, nil
				})
				if err != nil {
					t.Error(err)
				}
				multi <- got
			}()
			<-entered
			const waiters = 20
			var own atomic.Int64
			results := make(chan string, waiters)
			for range waiters {
				wctx := newWaitingCtx(ctx)
				go func() {
					v, err := dogpile.GetOrCreate(wctx, r, "b", func(context.Context) (string, error) {
						own.Add(1)
						return "own b", nil
					})
					if err != nil {
						t.Errorf("GetOrCreate[string](b): %v", err)
					}
					results <- v
				}()
				<-wctx.waiting
			}
			close(release)
			if got := <-multi; fmt.Sprint(got) != "map[a:1]" {
				t.Errorf("multi got %v", got)
			}
			for range waiters {
				if v := <-results; v != "own b" {
					t.Errorf("waiter got %q, want its own creator's value", v)
				}
			}
			if n := own.Load(); n != 1 {
				t.Errorf("the waiters' creator ran %d times, want 1", n)
			}
			if v, ok, err := dogpile.Get[string](ctx, r, "b"); !ok || err != nil || v != "own b" {
				t.Errorf("b cached as %q, %v, %v", v, ok, err)
			}
		})
	}
}

// A GetOrCreateMulti waiting on a key another multi creator leaves out
// asks its own creator for it.
func TestMultiOmittedKeyConcurrentMulti(t *testing.T) {
	ctx := context.Background()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Minute)
	entered, release := make(chan struct{}), make(chan struct{})
	first := make(chan map[string]int)
	go func() {
		got, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(context.Context, []string) (map[string]int, error) {
			close(entered)
			<-release
			return map[string]int{"a": 1}, nil
		})
		if err != nil {
			t.Error(err)
		}
		first <- got
	}()
	<-entered
	wctx := newWaitingCtx(ctx)
	second := make(chan map[string]int)
	var asked []string
	go func() {
		got, err := dogpile.GetOrCreateMulti(wctx, r, []string{"b"}, func(_ context.Context, keys []string) (map[string]int, error) {
			asked = keys
			return map[string]int{"b": 20}, nil
		})
		if err != nil {
			t.Error(err)
		}
		second <- got
	}()
	<-wctx.waiting
	close(release)
	if got := <-first; fmt.Sprint(got) != "map[a:1]" {
		t.Errorf("first: %v", got)
	}
	if got := <-second; fmt.Sprint(got) != "map[b:20]" || fmt.Sprint(asked) != "[b]" {
		t.Errorf("second: %v, asked %v", got, asked)
	}
}

func TestMultiCreatorPanicAndError(t *testing.T) {
	ctx := context.Background()
	r := newRegion(t, must(memory.New(memory.Options{})), time.Minute, dogpile.WithName("r"))
	boom := errors.New("boom")
	_, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(context.Context, []string) (map[string]int, error) { return nil, boom })
	if !errors.Is(err, boom) || strings.Count(err.Error(), "dogpile:") != 1 {
		t.Errorf("creator error: %v", err)
	}
	func() {
		defer func() {
			if err, _ := recover().(error); !errors.Is(err, dogpile.ErrCreatorPanicked) {
				t.Errorf("multi starter recovered %v, want ErrCreatorPanicked", err)
			}
		}()
		_, _ = dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(context.Context, []string) (map[string]int, error) { panic("multi kaboom") })
	}()
	if isLocked(t, r, "a") || isLocked(t, r, "b") {
		t.Error("keys locked after a panic")
	}
	got, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(context.Context, []string) (map[string]int, error) {
		return map[string]int{"a": 1, "b": 2}, nil
	})
	if err != nil || fmt.Sprint(got) != "map[a:1 b:2]" {
		t.Errorf("after: %v, %v", got, err)
	}
}

// slowTryLock is a remoteLock whose tries (Acquire without waiting) take
// until proceed is closed, as a round trip to a lock server does.
type slowTryLock struct {
	*remoteLock
	trying  chan struct{}
	proceed chan struct{}
}

func (l slowTryLock) Acquire(ctx context.Context, wait bool) (bool, error) {
	if !wait {
		l.trying <- struct{}{}
		<-l.proceed
	}
	return l.remoteLock.Acquire(ctx, wait)
}

type slowTryLockBackend struct {
	*countingBackend
	lock slowTryLock
}

func (b slowTryLockBackend) Mutex(string) driver.Mutex { return b.lock }

// A caller that must not be served the stale value, waiting on a
// creation that ends up serving it (the lock is held by another process),
// is not served it: it waits for a fresh one. Such a caller asked for a
// fresh value (WaitForFresh), or found none, the stale one having been
// deleted since the creation began.
func TestWaiterNotServedStaleWhenLockHeldElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name   string
		delete bool
		opts   []dogpile.CallOption
	}{
		{"WaitForFresh", false, []dogpile.CallOption{dogpile.WaitForFresh()}},
		{"deleted", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clock := newStepClock()
			lock := slowTryLock{remoteLock: newRemoteLock(), trying: make(chan struct{}, 1), proceed: make(chan struct{})}
			b := slowTryLockBackend{newCounting(), lock}
			r := newRegion(t, b, time.Second, dogpile.WithClock(clock.Now))
			if err := r.Set(ctx, "k", "old"); err != nil {
				t.Fatal(err)
			}
			clock.Advance(2 * time.Second)
			if ok, _ := lock.remoteLock.Acquire(ctx, false); !ok { // held by another process
				t.Fatal("could not take the lock")
			}
			leader := make(chan string)
			go func() { leader <- mustGetOrCreate(t, r, "k", counter("mine")) }()
			<-lock.trying
			if tc.delete {
				if err := r.Delete(ctx, "k"); err != nil {
					t.Fatal(err)
				}
			}
			wctx := newWaitingCtx(ctx)
			fresh := make(chan string)
			go func() {
				v, err := dogpile.GetOrCreate(wctx, r, "k", counter("fresh"), tc.opts...)
				if err != nil {
					t.Error(err)
				}
				fresh <- v
			}()
			<-wctx.waiting
			close(lock.proceed)
			if v := <-leader; v != "old" {
				t.Errorf("leader got %q, want the stale value (the lock is held elsewhere)", v)
			}
			// The caller waits for the lock; the other process creates its
			// value and releases it.
			select {
			case v := <-fresh:
				t.Fatalf("caller got %q at once, want it to wait for a fresh value", v)
			case <-lock.waiting:
			}
			if err := r.Set(ctx, "k", "theirs"); err != nil {
				t.Fatal(err)
			}
			_ = lock.Release(ctx)
			if v := <-fresh; v != "theirs" {
				t.Errorf("caller got %q, want the fresh value", v)
			}
		})
	}
}
