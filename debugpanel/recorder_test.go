package debugpanel_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/debugpanel"
	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
	"github.com/dogpilego/dogpile/tmplcache"
)

func observedRegion(t testing.TB, name, backend string) *dogpile.Region {
	t.Helper()
	r := dogpile.NewRegion(dogpile.WithName(name), dogpile.WithObserver(debugpanel.Observer{}))
	if err := r.Configure(backend, dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	return r
}

func recording(l debugpanel.Limits) (context.Context, *debugpanel.Recorder) {
	rec := debugpanel.NewRecorder(l)
	return debugpanel.NewContext(context.Background(), rec), rec
}

func constant[T any](v T) func(context.Context) (T, error) {
	return func(context.Context) (T, error) { return v, nil }
}

// opNames lists "op:result" for each operation, with the results of
// multi-key operations joined by "/".
func opNames(ops []debugpanel.Operation) []string {
	var out []string
	for _, o := range ops {
		var res []string
		for _, r := range o.Results {
			res = append(res, r.String())
		}
		out = append(out, o.Op+":"+strings.Join(res, "/"))
	}
	return out
}

func TestObserverEnabledOnlyWithRecorder(t *testing.T) {
	var o debugpanel.Observer
	if o.Enabled(context.Background()) {
		t.Error("enabled without a recorder")
	}
	ctx, rec := recording(debugpanel.Limits{})
	if !o.Enabled(ctx) {
		t.Error("not enabled with a recorder")
	}
	if debugpanel.FromContext(ctx) != rec || debugpanel.FromContext(context.Background()) != nil {
		t.Error("FromContext")
	}
	// Observe without a recorder is a no-op, not a panic.
	o.Observe(context.Background(), observe.Event{Op: observe.OpGet, Keys: []string{"k"}})

	// A call without a recorder records nothing anywhere.
	r := observedRegion(t, "quiet", "dogpile.cache.memory")
	if _, err := dogpile.GetOrCreate(context.Background(), r, "k", constant(1)); err != nil {
		t.Fatal(err)
	}
	if n := rec.Stats().Ops; n != 0 {
		t.Errorf("recorded %d operations of another context", n)
	}
}

func TestRecordsRegionOperationsInOrder(t *testing.T) {
	r := observedRegion(t, "users", "dogpile.cache.memory")
	ctx, rec := recording(debugpanel.Limits{})
	if _, _, err := dogpile.Get[any](ctx, r, "user:1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Set(ctx, "user:1", "ann"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dogpile.Get[any](ctx, r, "user:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "user:2", constant("bob")); err != nil {
		t.Fatal(err)
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "user:2", constant("bob")); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, "user:1"); err != nil {
		t.Fatal(err)
	}

	ops := rec.Operations()
	want := []string{"get:miss", "set:none", "get:hit", "get_or_create:created", "create:created", "get_or_create:hit", "delete:none"}
	if got := opNames(ops); !slices.Equal(got, want) {
		t.Fatalf("operations\n got %v\nwant %v", got, want)
	}
	for i, o := range ops {
		if o.Layer != debugpanel.LayerRegion || o.Region != "users" || o.Backend != "dogpile.cache.memory" {
			t.Errorf("op %d: layer %q region %q backend %q", i, o.Layer, o.Region, o.Backend)
		}
		if o.Size != -1 {
			t.Errorf("op %d: size %d for a backend keeping Go values", i, o.Size)
		}
		if o.Duration < 0 || o.Start < 0 {
			t.Errorf("op %d: start %v duration %v", i, o.Start, o.Duration)
		}
		if i > 0 && o.Start < ops[i-1].Start {
			t.Errorf("op %d starts before op %d", i, i-1)
		}
		if o.Keys[0] != map[bool]string{true: "user:2", false: "user:1"}[i >= 3 && i <= 5] {
			t.Errorf("op %d: keys %v", i, o.Keys)
		}
	}
	// The create ran inside its get_or_create: it finished first (lower
	// Seq) but is listed after it.
	if goc, cr := ops[3], ops[4]; cr.Seq >= goc.Seq || cr.Start < goc.Start || cr.Start+cr.Duration > goc.Start+goc.Duration {
		t.Errorf("create %+v not inside get_or_create %+v", cr, goc)
	}
	st := rec.Stats()
	if st.Ops != 7 || st.Hits != 2 || st.Misses != 1 || st.Created != 1 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
	if st.SizeKnown {
		t.Error("sizes known on a memory backend")
	}
}

func TestMultiKeyOperationsCountPerKey(t *testing.T) {
	r := observedRegion(t, "nav", "dogpile.cache.memory_pickle")
	ctx, rec := recording(debugpanel.Limits{})
	if err := r.SetMulti(ctx, map[string]any{"a": 1, "b": 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := dogpile.GetMulti[any](ctx, r, []string{"a", "x", "y"}); err != nil {
		t.Fatal(err)
	}
	if _, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b", "c", "d"}, func(_ context.Context, keys []string) (map[string]int, error) {
		m := make(map[string]int, len(keys))
		for _, k := range keys {
			m[k] = 0
		}
		return m, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteMulti(ctx, []string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}

	got := map[string]debugpanel.OpStats{}
	st := rec.Stats()
	for _, s := range st.ByOp {
		got[s.Op] = s
	}
	check := func(op string, calls, keys, hits, misses, created int) {
		t.Helper()
		s := got[op]
		if s.Calls != calls || s.Keys != keys || s.Hits != hits || s.Misses != misses || s.Created != created {
			t.Errorf("%s: %+v, want calls %d keys %d hits %d misses %d created %d", op, s, calls, keys, hits, misses, created)
		}
	}
	check("set_multi", 1, 2, 0, 0, 0)
	check("get_multi", 1, 3, 1, 2, 0)
	check("get_or_create_multi", 1, 4, 2, 0, 2)
	check("create", 1, 2, 0, 0, 2)
	check("delete_multi", 1, 3, 0, 0, 0)
	if st.Hits != 3 || st.Misses != 2 || st.Created != 2 || st.Lookups() != 7 {
		t.Errorf("totals %+v", st)
	}
	if !st.SizeKnown || st.Bytes <= 0 || !got["get_multi"].SizeKnown {
		t.Errorf("sizes unknown on a byte backend: %+v", st)
	}
	// The per-key results of the multi get, in the caller's order.
	for _, o := range rec.Operations() {
		if o.Op == "get_multi" {
			if want := []string{"get_multi:hit/miss/miss"}; !slices.Equal(opNames([]debugpanel.Operation{o}), want) {
				t.Errorf("get_multi %v", opNames([]debugpanel.Operation{o}))
			}
			if !slices.Equal(o.Keys, []string{"a", "x", "y"}) {
				t.Errorf("keys %v", o.Keys)
			}
		}
	}
	// Stats order is observe.Op's, whatever the order of first sight.
	var order []string
	for _, s := range st.ByOp {
		order = append(order, s.Op)
	}
	if want := []string{"get_multi", "get_or_create_multi", "set_multi", "delete_multi", "create"}; !slices.Equal(order, want) {
		t.Errorf("ByOp order %v, want %v", order, want)
	}
}

func TestRecorderBoundsOperationsAndKeys(t *testing.T) {
	r := observedRegion(t, "b", "dogpile.cache.memory")
	ctx, rec := recording(debugpanel.Limits{MaxOps: 5, MaxKeys: 2})
	if _, err := dogpile.GetMulti[any](ctx, r, []string{"k1", "k2", "k3", "k4"}); err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		if _, _, err := dogpile.Get[any](ctx, r, fmt.Sprint("g", i)); err != nil {
			t.Fatal(err)
		}
	}
	ops := rec.Operations()
	if len(ops) != 5 {
		t.Fatalf("kept %d operations, want 5", len(ops))
	}
	if ops[0].KeyCount != 4 || len(ops[0].Keys) != 2 || len(ops[0].Results) != 2 {
		t.Errorf("multi op kept %d keys, %d results, count %d", len(ops[0].Keys), len(ops[0].Results), ops[0].KeyCount)
	}
	st := rec.Stats()
	if st.Ops != 8 || st.Dropped != 3 {
		t.Errorf("ops %d dropped %d, want 8 and 3", st.Ops, st.Dropped)
	}
	// Statistics stay exact: every key of every operation is counted.
	if st.Misses != 4+7 {
		t.Errorf("misses %d, want 11", st.Misses)
	}
	snap := rec.Snapshot()
	if len(snap.Operations) != 5 || snap.Stats.Dropped != 3 {
		t.Errorf("snapshot %d ops, %d dropped", len(snap.Operations), snap.Stats.Dropped)
	}
}

func TestRecordCopiesSlices(t *testing.T) {
	ctx, rec := recording(debugpanel.Limits{})
	keys := []string{"a", "b"}
	res := []observe.Result{observe.Hit, observe.Miss}
	_ = ctx
	rec.Record(debugpanel.Operation{Layer: debugpanel.LayerRegion, Op: "get_multi", Keys: keys, Results: res, Size: -1})
	keys[0], res[0] = "changed", observe.Error
	o := rec.Operations()[0]
	if o.Keys[0] != "a" || o.Results[0] != observe.Hit || o.KeyCount != 2 || o.Seq != 1 {
		t.Fatalf("recorded %+v", o)
	}
}

func TestCacheTimeExcludesCreators(t *testing.T) {
	_, rec := recording(debugpanel.Limits{})
	ms := time.Millisecond
	for _, o := range []debugpanel.Operation{
		{Layer: debugpanel.LayerRegion, Op: "create", Keys: []string{"k"}, Results: []observe.Result{observe.Created}, Start: 2 * ms, Duration: 7 * ms, Size: -1},
		{Layer: debugpanel.LayerRegion, Op: "get_or_create", Keys: []string{"k"}, Results: []observe.Result{observe.Created}, Start: 1 * ms, Duration: 10 * ms, Size: -1},
		{Layer: debugpanel.LayerRegion, Op: "get", Keys: []string{"j"}, Results: []observe.Result{observe.Hit}, Start: 12 * ms, Duration: 1 * ms, Size: 5},
		{Layer: debugpanel.LayerBackend, Op: "get", Keys: []string{"j"}, Results: []observe.Result{observe.Hit}, Start: 12 * ms, Duration: ms / 2, Size: 30},
	} {
		rec.Record(o)
	}
	st := rec.Stats()
	if st.CacheTime != 4*ms || st.CreateTime != 7*ms {
		t.Errorf("cache %v create %v, want 4ms and 7ms", st.CacheTime, st.CreateTime)
	}
	// Region lookups count; the backend layer's are details of them.
	if st.Hits != 1 || st.Created != 1 || st.Bytes != 5 {
		t.Errorf("totals %+v", st)
	}
	if ops := rec.Operations(); ops[0].Op != "get_or_create" || ops[1].Op != "create" {
		t.Errorf("order %v", opNames(ops))
	}
}

func TestConcurrentOperationsOfOneRequest(t *testing.T) {
	r := observedRegion(t, "c", "dogpile.cache.memory")
	ctx, rec := recording(debugpanel.Limits{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if _, err := dogpile.GetOrCreate(ctx, r, fmt.Sprint("k", (g*50+i)%20), constant(i)); err != nil {
					t.Error(err)
				}
				if i%10 == 0 {
					_ = rec.Stats()
					_ = rec.Operations()
				}
			}
		})
	}
	wg.Wait()
	st := rec.Stats()
	var calls int
	for _, s := range st.ByOp {
		if s.Op == "get_or_create" {
			calls = s.Calls
		}
	}
	if calls != 400 {
		t.Fatalf("get_or_create calls %d, want 400", calls)
	}
	if st.Hits+st.Created+st.Waited+st.Stale != 400 {
		t.Fatalf("results %+v don't add up to 400", st)
	}
	if st.Created != 20 {
		t.Errorf("created %d, want one per key (20)", st.Created)
	}
}

func TestFragmentsAreNamed(t *testing.T) {
	r := observedRegion(t, "fragments", "dogpile.cache.memory")
	c := tmplcache.New(r)
	ctx, rec := recording(debugpanel.Limits{})
	outer := tmplcache.Fragment{Template: "blog/post.html", Name: "sidebar"}
	inner := tmplcache.Fragment{Template: "blog/_links.html", Name: "links"}
	html, err := c.Render(ctx, outer, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
		in, err := c.Render(ctx, inner, tmplcache.RenderOptions{}, func(context.Context) (string, error) { return "<a>", nil })
		return "<aside>" + in + "</aside>", err
	})
	if err != nil || html != "<aside><a></aside>" {
		t.Fatal(html, err)
	}
	// A plain call is not a fragment's.
	if _, err := dogpile.GetOrCreate(ctx, r, "plain", constant(1)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range rec.Operations() {
		if o.Op == "get_or_create" {
			got = append(got, o.Template+"#"+o.Fragment)
		}
	}
	want := []string{"blog/post.html#sidebar", "blog/_links.html#links", "#"}
	if !slices.Equal(got, want) {
		t.Fatalf("fragments %v, want %v", got, want)
	}
}

func TestProxyRecordsBackendCalls(t *testing.T) {
	ctx, rec := recording(debugpanel.Limits{})
	r := dogpile.NewRegion(dogpile.WithName("configured"))
	err := pyconfig.ConfigureFromConfig(r, map[string]any{
		"cache.configured.backend":         "dogpile.cache.memory_pickle",
		"cache.configured.expiration_time": "3600",
		"cache.configured.wrap":            "debugpanel",
	}, "cache.configured.")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "user:1", constant("ann")); err != nil { // get miss, set
		t.Fatal(err)
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "user:1", constant("ann")); err != nil { // get hit
		t.Fatal(err)
	}
	if _, err := dogpile.GetMulti[any](ctx, r, []string{"user:1", "user:2"}); err != nil {
		t.Fatal(err)
	}
	// Two keys: the region writes a single key with a plain set.
	if err := r.SetMulti(ctx, map[string]any{"user:3": "cy", "user:4": "dee"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, "user:1"); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteMulti(ctx, []string{"user:2", "user:3"}); err != nil {
		t.Fatal(err)
	}
	// A call without a recorder goes straight through.
	if _, _, err := dogpile.Get[any](context.Background(), r, "user:1"); err != nil {
		t.Fatal(err)
	}

	ops := rec.Operations()
	want := []string{"get:miss", "set:none", "get:hit", "get_multi:hit/miss", "set_multi:none/none", "delete:none", "delete_multi:none/none"}
	if got := opNames(ops); !slices.Equal(got, want) {
		t.Fatalf("backend operations\n got %v\nwant %v", got, want)
	}
	for i, o := range ops {
		if o.Layer != debugpanel.LayerBackend || o.Backend != "*memory.BytesBackend" {
			t.Errorf("op %d: layer %q backend %q", i, o.Layer, o.Backend)
		}
	}
	if ops[1].Size <= len(`"ann"`) || ops[2].Size != ops[1].Size || ops[0].Size != -1 {
		t.Errorf("sizes: miss %d, set %d, hit %d (whole entries)", ops[0].Size, ops[1].Size, ops[2].Size)
	}
	st := rec.Stats()
	if st.Hits != 2 || st.Misses != 2 || !st.SizeKnown || st.CacheTime <= 0 {
		t.Errorf("backend-only stats %+v", st)
	}

	// A value backend through Config.Wrap, with the Observer too: both
	// layers are recorded, and the totals are the region's.
	ctx2, rec2 := recording(debugpanel.Limits{})
	r2 := dogpile.NewRegion(dogpile.WithName("both"), dogpile.WithObserver(debugpanel.Observer{}))
	if err := r2.Configure("dogpile.cache.memory", dogpile.Config{Wrap: []driver.Proxy{debugpanel.Proxy}}); err != nil {
		t.Fatal(err)
	}
	if _, err := dogpile.GetOrCreate(ctx2, r2, "k", constant(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := dogpile.GetOrCreate(ctx2, r2, "k", constant(1)); err != nil {
		t.Fatal(err)
	}
	layers := map[debugpanel.Layer][]string{}
	for _, o := range rec2.Operations() {
		layers[o.Layer] = append(layers[o.Layer], o.Op)
	}
	if got, want := layers[debugpanel.LayerRegion], []string{"get_or_create", "create", "get_or_create"}; !slices.Equal(got, want) {
		t.Errorf("region layer %v, want %v", got, want)
	}
	if got, want := layers[debugpanel.LayerBackend], []string{"get", "set", "get"}; !slices.Equal(got, want) {
		t.Errorf("backend layer %v, want %v", got, want)
	}
	if st := rec2.Stats(); st.Hits != 1 || st.Created != 1 || st.Misses != 0 {
		t.Errorf("stats with both layers %+v", st)
	}
	if _, err := pyconfig.LookupProxy(debugpanel.ProxyName); err != nil {
		t.Error(err)
	}
}

func TestObserverTimesFromEventStart(t *testing.T) {
	ctx, rec := recording(debugpanel.Limits{})
	ms := time.Millisecond
	// An operation that started 5ms after the request and took 1ms, reported
	// whenever: its start is the event's, not the time of reporting less
	// its duration.
	debugpanel.Observer{}.Observe(ctx, observe.Event{Region: "r", Op: observe.OpGet, Keys: []string{"k"},
		Results: []observe.Result{observe.Hit}, Start: rec.Snapshot().Start.Add(5 * ms), Duration: ms, Size: -1})
	// One that claims to start before the request starts at 0.
	debugpanel.Observer{}.Observe(ctx, observe.Event{Region: "r", Op: observe.OpGet, Keys: []string{"j"},
		Results: []observe.Result{observe.Hit}, Start: rec.Snapshot().Start.Add(-ms), Duration: ms, Size: -1})
	ops := rec.Operations()
	if len(ops) != 2 || ops[0].Start != 0 || ops[0].Keys[0] != "j" || ops[1].Start != 5*ms || ops[1].Duration != ms {
		t.Fatalf("operations %+v", ops)
	}
}

func TestRecordsInvalidations(t *testing.T) {
	r := observedRegion(t, "inv", "dogpile.cache.memory")
	ctx, rec := recording(debugpanel.Limits{})
	if _, err := dogpile.GetOrCreate(ctx, r, "k", constant(1)); err != nil {
		t.Fatal(err)
	}
	if err := r.Invalidate(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "k", constant(2)); err != nil {
		t.Fatal(err)
	}
	if err := r.Invalidate(ctx, false); err != nil {
		t.Fatal(err)
	}
	ops := rec.Operations()
	want := []string{"get_or_create:created", "create:created", "invalidate:", "get_or_create:created", "create:created", "invalidate:"}
	if got := opNames(ops); !slices.Equal(got, want) {
		t.Fatalf("operations\n got %v\nwant %v", got, want)
	}
	inv := ops[2]
	if inv.Layer != debugpanel.LayerRegion || inv.Region != "inv" || inv.Backend != "dogpile.cache.memory" ||
		len(inv.Keys) != 0 || inv.KeyCount != 0 || inv.Err != "" {
		t.Errorf("invalidate %+v", inv)
	}
	st := rec.Stats()
	var order []string
	for _, s := range st.ByOp {
		order = append(order, s.Op)
		if s.Op == "invalidate" && (s.Calls != 2 || s.Keys != 0 || s.Hits+s.Misses+s.Created+s.Errors != 0) {
			t.Errorf("invalidate stats %+v", s)
		}
	}
	if want := []string{"get_or_create", "create", "invalidate"}; !slices.Equal(order, want) {
		t.Errorf("ByOp order %v, want %v", order, want)
	}
	if st.Ops != 6 || st.Created != 2 || st.Lookups() != 2 {
		t.Errorf("stats %+v", st)
	}
	if h := debugpanel.ServerTiming(st); !strings.Contains(h, `dogpile-invalidate;dur=`) || !strings.Contains(h, `desc="2 calls"`) {
		t.Errorf("Server-Timing %q lacks the invalidations", h)
	}
}
