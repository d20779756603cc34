package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/metrics"
)

func newRegion(t testing.TB, name string, obs observe.Observer, backend string) *dogpile.Region {
	t.Helper()
	r := dogpile.NewRegion(dogpile.WithName(name), dogpile.WithObserver(obs))
	if err := r.Configure(backend, dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCountsPerRegionAndResult(t *testing.T) {
	obs := metrics.New()
	ctx := context.Background()
	users := newRegion(t, "users", obs, "dogpile.cache.memory_pickle")
	pages := newRegion(t, "pages", obs, "dogpile.cache.memory")

	mk := func(v string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return v, nil }
	}
	for range 3 {
		if _, err := dogpile.GetOrCreate(ctx, users, "u:1", mk("ann")); err != nil { // created, then 2 hits
			t.Fatal(err)
		}
	}
	if err := users.Set(ctx, "u:2", "bob"); err != nil {
		t.Fatal(err)
	}
	// Per key: 1 hit (u:2), 2 misses.
	if _, err := dogpile.GetMulti[string](ctx, users, []string{"u:2", "u:3", "u:4"}); err != nil {
		t.Fatal(err)
	}
	// Multi get-or-create: u:1 and u:2 hit, u:5 and u:6 created.
	if _, err := dogpile.GetOrCreateMulti(ctx, users, []string{"u:1", "u:2", "u:5", "u:6"},
		func(_ context.Context, keys []string) (map[string]string, error) {
			m := make(map[string]string, len(keys))
			for _, k := range keys {
				m[k] = k
			}
			return m, nil
		}); err != nil {
		t.Fatal(err)
	}
	if err := users.Delete(ctx, "u:6"); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := dogpile.GetOrCreate(ctx, pages, "p:1", func(context.Context) (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, _, err := dogpile.Get[any](ctx, pages, "p:2"); err != nil {
		t.Fatal(err)
	}

	st := obs.Stats()
	if len(st.Regions) != 2 || st.Regions[0].Region != "pages" || st.Regions[1].Region != "users" {
		t.Fatalf("regions = %+v", st.Regions)
	}
	u, _ := st.Region("users")
	want := metrics.RegionStats{Region: "users", Hits: 2 + 1 + 2, Misses: 2, Created: 1 + 2, Creations: 3}
	if u.Hits != want.Hits || u.Misses != want.Misses || u.Created != want.Created || u.Creations != want.Creations ||
		u.Stale != 0 || u.Waited != 0 || u.Errors != 0 {
		t.Errorf("users = %+v, want %+v", u, want)
	}
	if u.BytesWritten != uint64(len(`"bob"`)) {
		t.Errorf("BytesWritten = %d, want %d", u.BytesWritten, len(`"bob"`))
	}
	if u.BytesRead == 0 {
		t.Errorf("BytesRead = 0 after hits on a byte backend")
	}
	if got := u.Ops["get_or_create"].Calls; got != 3 {
		t.Errorf("get_or_create calls = %d", got)
	}
	if got := u.Ops["create"].Calls; got != 2 {
		t.Errorf("create calls = %d (one single, one multi)", got)
	}
	if got := u.Ops["delete"].Calls; got != 1 {
		t.Errorf("delete calls = %d", got)
	}
	if got, want := u.HitRatio(), 5.0/10; got != want {
		t.Errorf("HitRatio = %v, want %v", got, want)
	}
	p, _ := st.Region("pages")
	if p.Errors != 2 || p.Misses != 1 || p.Creations != 0 || p.BytesRead != 0 {
		t.Errorf("pages = %+v (errors: the failed create and get_or_create)", p)
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	obs := metrics.New()
	ctx := context.Background()
	e := observe.Event{Region: "r", Backend: "b", Op: observe.OpGetMulti, Keys: []string{"a", "b"},
		Results: []observe.Result{observe.Hit, observe.Miss}, Duration: time.Microsecond, Size: 10}
	obs.Observe(ctx, e) // first sight of the region allocates its counters
	if n := testing.AllocsPerRun(1000, func() { obs.Observe(ctx, e) }); n != 0 {
		t.Fatalf("Observe allocates %v times", n)
	}
}

func TestConcurrentObserve(t *testing.T) {
	obs := metrics.New()
	ctx := context.Background()
	const goroutines, each = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				obs.Observe(ctx, observe.Event{Region: "r" + strconv.Itoa((g+i)%3), Op: observe.OpGet,
					Keys: []string{"k"}, Results: []observe.Result{observe.Hit}, Size: -1})
				if i%100 == 0 {
					_ = obs.Stats()
				}
			}
		})
	}
	wg.Wait()
	var hits uint64
	for _, r := range obs.Stats().Regions {
		hits += r.Hits
	}
	if hits != goroutines*each {
		t.Fatalf("hits = %d, want %d", hits, goroutines*each)
	}
}

// TestManyRegionNames registers thousands of names from several goroutines
// at once, each name first seen by several of them: every name gets one set
// of counters, and no count is lost to a concurrent registration.
func TestManyRegionNames(t *testing.T) {
	obs := metrics.New()
	ctx := context.Background()
	const names, goroutines = 5000, 4
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range names {
				// Each goroutine walks the names in its own order.
				n := (i*7 + g*1250) % names
				obs.Observe(ctx, observe.Event{Region: "region-" + strconv.Itoa(n), Op: observe.OpGet,
					Keys: []string{"k"}, Results: []observe.Result{observe.Hit}, Size: -1})
			}
		})
	}
	wg.Wait()
	st := obs.Stats()
	if len(st.Regions) != names {
		t.Fatalf("%d regions, want %d", len(st.Regions), names)
	}
	for i, r := range st.Regions {
		if r.Hits != goroutines || r.Ops["get"].Calls != goroutines {
			t.Fatalf("region %q: %d hits, %d gets, want %d", r.Region, r.Hits, r.Ops["get"].Calls, goroutines)
		}
		if i > 0 && st.Regions[i-1].Region >= r.Region {
			t.Fatalf("regions not sorted: %q before %q", st.Regions[i-1].Region, r.Region)
		}
	}
	if _, ok := st.Region("region-4999"); !ok {
		t.Error("region-4999 not found")
	}
}

func TestExpvar(t *testing.T) {
	obs := metrics.New()
	obs.Observe(context.Background(), observe.Event{Region: "users", Op: observe.OpGet, Keys: []string{"k"},
		Results: []observe.Result{observe.Hit}, Size: 3})
	name := fmt.Sprintf("dogpile_test_%p", obs)
	obs.Publish(name)
	v := expvar.Get(name)
	if v == nil {
		t.Fatal("not published")
	}
	var got metrics.Stats
	if err := json.Unmarshal([]byte(v.String()), &got); err != nil {
		t.Fatalf("%v: %s", err, v.String())
	}
	if len(got.Regions) != 1 || got.Regions[0].Region != "users" || got.Regions[0].Hits != 1 || got.Regions[0].BytesRead != 3 {
		t.Fatalf("expvar = %s", v.String())
	}
}

func TestCountsInvalidations(t *testing.T) {
	obs := metrics.New()
	ctx := context.Background()
	r := newRegion(t, "inv", obs, "dogpile.cache.memory")
	load := func(context.Context) (int, error) { return 1, nil }
	if _, err := dogpile.GetOrCreate(ctx, r, "k", load); err != nil {
		t.Fatal(err)
	}
	if err := r.Invalidate(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "k", load); err != nil { // created again
		t.Fatal(err)
	}
	if err := r.Invalidate(ctx, false); err != nil {
		t.Fatal(err)
	}
	// A failed invalidation is an error, not an invalidation.
	obs.Observe(ctx, observe.Event{Region: "inv", Op: observe.OpInvalidate, Size: -1, Err: errors.New("backend down")})

	s, _ := obs.Stats().Region("inv")
	if s.Invalidations != 2 || s.Errors != 1 || s.Ops["invalidate"].Calls != 3 {
		t.Errorf("invalidations %d, errors %d, invalidate calls %d; want 2, 1, 3", s.Invalidations, s.Errors, s.Ops["invalidate"].Calls)
	}
	if s.Created != 2 || s.Creations != 2 || s.Hits != 0 || s.Misses != 0 {
		t.Errorf("results %+v", s)
	}
}

// TestCountsEvictions: the entries a backend drops are counted per key,
// apart from lookups: an eviction is neither a miss nor an error.
func TestCountsEvictions(t *testing.T) {
	obs := metrics.New()
	ctx := context.Background()
	for _, e := range []observe.Event{
		{Region: "r", Op: observe.OpEvict, Keys: []string{"a"}, Results: []observe.Result{observe.None}, Size: -1},
		{Region: "r", Op: observe.OpEvict, Keys: []string{"b", "c"}, Results: []observe.Result{observe.None, observe.None}, Size: -1},
		{Region: "r", Op: observe.OpExpire, Keys: []string{"d"}, Results: []observe.Result{observe.None}, Size: -1},
	} {
		obs.Observe(ctx, e)
	}
	s, _ := obs.Stats().Region("r")
	if s.Evictions != 3 || s.Expirations != 1 || s.Ops["evict"].Calls != 2 || s.Ops["expire"].Calls != 1 {
		t.Errorf("evictions %d, expirations %d, ops %+v; want 3, 1", s.Evictions, s.Expirations, s.Ops)
	}
	if s.Misses != 0 || s.Hits != 0 || s.Errors != 0 || s.BytesRead != 0 || s.HitRatio() != 0 {
		t.Errorf("evictions counted as lookups: %+v", s)
	}
	b, err := json.Marshal(s)
	if err != nil || !strings.Contains(string(b), `"evictions":3`) || !strings.Contains(string(b), `"expirations":1`) {
		t.Errorf("JSON %s, %v", b, err)
	}
	e := observe.Event{Region: "r", Op: observe.OpExpire, Keys: []string{"d"}, Size: -1}
	if n := testing.AllocsPerRun(100, func() { obs.Observe(ctx, e) }); n != 0 {
		t.Errorf("counting an expiration allocates %v times", n)
	}
}

// TestCountsEvictionsOfMemoryBackend: a region on a bounded memory
// backend reports what the backend drops, for its bounds and its time to
// live, and the Observer counts them.
func TestCountsEvictionsOfMemoryBackend(t *testing.T) {
	obs := metrics.New()
	ctx := context.Background()
	dropped := make(chan observe.Op, 1000)
	r := dogpile.NewRegion(dogpile.WithName("bounded"), dogpile.WithObserver(observe.Multi(obs,
		observe.Func(func(_ context.Context, e observe.Event) {
			if e.Op == observe.OpEvict || e.Op == observe.OpExpire {
				dropped <- e.Op
			}
		}))))
	err := r.Configure("dogpile.cache.memory", dogpile.Config{
		ExpirationTime: time.Hour,
		Arguments:      map[string]any{"max_size": 100, "memory_expiration_time": 0.2},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if err := r.Set(ctx, "k"+strconv.Itoa(i), i); err != nil {
			t.Fatal(err)
		}
	}
	// At least 200 entries leave for the bound, then the rest for the
	// time to live (by the backend's clean-up, about a second later).
	var evicted, expired uint64
	timeout := time.After(10 * time.Second)
	for evicted+expired < 300 {
		select {
		case op := <-dropped:
			if op == observe.OpEvict {
				evicted++
			} else {
				expired++
			}
		case <-timeout:
			t.Fatalf("after 10s, %d evictions and %d expirations of 300 entries", evicted, expired)
		}
	}
	s, _ := obs.Stats().Region("bounded")
	if s.Evictions != evicted || s.Expirations != expired || evicted < 200 || expired == 0 {
		t.Errorf("counted %d evictions and %d expirations; observed %d and %d", s.Evictions, s.Expirations, evicted, expired)
	}
}
