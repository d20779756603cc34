package dogpile_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/observe"
)

func TestObserver(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	var mu sync.Mutex
	var events []string
	obs := observe.Func(func(_ context.Context, e observe.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, fmt.Sprintf("%s %s %v %v", e.Region, e.Op, e.Keys, e.Results))
	})
	r := newRegion(t, must(memory.New(memory.Options{})), time.Second, dogpile.WithName("pages"), dogpile.WithObserver(obs), dogpile.WithClock(clock.Now))
	mustGetOrCreate(t, r, "k", counter("v"))
	mustGetOrCreate(t, r, "k", counter("v"))
	_, _ = dogpile.GetMulti[string](ctx, r, []string{"k", "nope"})
	_ = r.Delete(ctx, "k")
	_, _ = dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(context.Context, []string) (map[string]int, error) {
		return map[string]int{"a": 1}, nil
	})
	_, _, _ = dogpile.Get[int](ctx, r, "a")
	_ = r.Set(ctx, "s", 1)
	_ = r.Invalidate(ctx, true)
	want := []string{
		"pages create [k] [created]",
		"pages get_or_create [k] [created]",
		"pages get_or_create [k] [hit]",
		"pages get_multi [k nope] [hit miss]",
		"pages delete [k] [none]",
		"pages create [a b] [created miss]",
		"pages get_or_create_multi [a b] [created miss]",
		"pages get [a] [hit]",
		"pages set [s] [none]",
		"pages invalidate [] []",
	}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}
}

// Stale and waited results, with the times of the events.
func TestObserverStaleAndWaited(t *testing.T) {
	ctx := context.Background()
	clock := newStepClock()
	obs := &eventRecorder{}
	r := newRegion(t, must(memory.New(memory.Options{})), time.Second, dogpile.WithObserver(obs), dogpile.WithClock(clock.Now))
	_ = r.Set(ctx, "k", "old")
	clock.Advance(2 * time.Second)
	g := newGate()
	done := make(chan string)
	go func() { done <- mustGetOrCreate(t, r, "k", g.creator("new")) }()
	<-g.entered
	mustGetOrCreate(t, r, "k", g.creator("x")) // stale
	wctx := newWaitingCtx(ctx)
	waited := make(chan string)
	go func() {
		v, _ := dogpile.GetOrCreate(wctx, r, "k", g.creator("y"), dogpile.WaitForFresh())
		waited <- v
	}()
	<-wctx.waiting
	close(g.open)
	<-done
	<-waited
	var results []string
	for _, e := range obs.ops(observe.OpGetOrCreate) {
		results = append(results, e.Results[0].String())
		if e.Start.IsZero() || e.Duration < 0 || e.Backend != "*memory.Backend" || e.Size != -1 {
			t.Errorf("event %+v: want a start, a duration, the backend's type and size -1", e)
		}
	}
	slices.Sort(results) // the creating and the waiting caller end in either order
	if want := "[created stale waited]"; fmt.Sprint(results) != want {
		t.Errorf("get_or_create results %v, want %s", results, want)
	}
}

// ctxObserver observes only calls whose context carries a marker, as a
// request-scoped recorder does.
type ctxObserver struct {
	mu     sync.Mutex
	events []string
}

type markKey struct{}

func (o *ctxObserver) Enabled(ctx context.Context) bool { return ctx.Value(markKey{}) != nil }

func (o *ctxObserver) Observe(ctx context.Context, e observe.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, fmt.Sprintf("%v %s %v", ctx.Value(markKey{}), e.Op, e.Results))
}

func TestObserverEnabledPerContext(t *testing.T) {
	plain := context.Background()
	marked := context.WithValue(plain, markKey{}, "req1")
	o := &ctxObserver{}
	all := &ctxObserver{}
	everything := observe.Func(func(ctx context.Context, e observe.Event) {
		all.mu.Lock()
		defer all.mu.Unlock()
		all.events = append(all.events, e.Op.String())
	})
	r := newRegion(t, must(memory.New(memory.Options{})), time.Hour, dogpile.WithObserver(observe.Multi(o, nil, everything)))
	creator := func(context.Context) (int, error) { return 1, nil }
	_, _ = dogpile.GetOrCreate(plain, r, "k", creator)
	_, _ = dogpile.GetOrCreate(marked, r, "k", creator)
	if fmt.Sprint(o.events) != "[req1 get_or_create [hit]]" {
		t.Errorf("context-enabled observer saw %v", o.events)
	}
	if fmt.Sprint(all.events) != "[create get_or_create get_or_create]" {
		t.Errorf("always-enabled observer saw %v", all.events)
	}

	// An observer not enabled for a call costs it nothing.
	quietRegion := newRegion(t, must(memory.New(memory.Options{})), time.Hour, dogpile.WithObserver(o))
	_, _ = dogpile.GetOrCreate(plain, quietRegion, "k", creator)
	if allocs := testing.AllocsPerRun(1000, func() { _, _ = dogpile.GetOrCreate(plain, quietRegion, "k", creator) }); allocs != 0 {
		t.Errorf("a hit with a disabled observer allocates %v times", allocs)
	}
	if observe.Multi(nil, nil) != nil {
		t.Error("Multi of no observers is not nil")
	}
}

func TestCreationEventReportsBytesWritten(t *testing.T) {
	var mu sync.Mutex
	var sizes []string
	obs := observe.Func(func(_ context.Context, e observe.Event) {
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, fmt.Sprintf("%s %d", e.Op, e.Size))
	})
	r := newRegion(t, must(memory.NewBytes(memory.Options{})), time.Hour, dogpile.WithObserver(obs))
	mustGetOrCreate(t, r, "k", func(context.Context) (string, error) { return "12345678", nil })
	mustGetOrCreate(t, r, "k", func(context.Context) (string, error) { return "not called", nil })
	_, _, _ = dogpile.Get[string](context.Background(), r, "k")
	// The payload is the JSON string "12345678": 10 bytes.
	if want := "[create 10 get_or_create -1 get_or_create 10 get 10]"; fmt.Sprint(sizes) != want {
		t.Errorf("events %v, want %s", sizes, want)
	}
}

func TestObservedTypedHitStaysOnTheFastPath(t *testing.T) {
	ctx := context.Background()
	var hits int
	obs := observe.Func(func(_ context.Context, e observe.Event) {
		if e.Op == observe.OpGetOrCreate && e.Results[0] == observe.Hit {
			hits++
		}
	})
	r := newRegion(t, must(memory.New(memory.Options{})), time.Hour, dogpile.WithObserver(obs))
	creator := func(context.Context) (int, error) { return 1, nil }
	_, _ = dogpile.GetOrCreate(ctx, r, "k", creator)
	allocs := testing.AllocsPerRun(100, func() { _, _ = dogpile.GetOrCreate(ctx, r, "k", creator) })
	if allocs > 1 {
		t.Errorf("an observed typed hit allocates %v times, want at most 1 (the event's key slice)", allocs)
	}
	if hits != 101 {
		t.Errorf("observer saw %d hits, want 101", hits)
	}
}
