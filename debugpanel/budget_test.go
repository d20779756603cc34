package debugpanel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dogpilego/dogpile/debugpanel"
	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/null"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
)

// failingGets makes the backend's Get fail for keys starting with "fail",
// with an error text that holds the key, as real backends' errors do.
type failingGets struct{ driver.ProxyBackend }

func (f *failingGets) Get(ctx context.Context, key string) (driver.CachedValue, bool, error) {
	if strings.HasPrefix(key, "fail") {
		return driver.CachedValue{}, false, errors.New("cannot read " + key)
	}
	return f.ProxyBackend.Get(ctx, key)
}

// hostileRegion is a region storing nothing (the null backend, so that the
// only memory that may grow is the panel's), observed by the panel, its
// backend calls recorded by the panel's proxy, failing gets of "fail" keys.
func hostileRegion(t testing.TB) *dogpile.Region {
	t.Helper()
	r := dogpile.NewRegion(dogpile.WithName("hostile"), dogpile.WithObserver(debugpanel.Observer{}))
	err := r.Configure("dogpile.cache.null", dogpile.Config{ExpirationTime: time.Hour, Wrap: []driver.Proxy{
		func(next driver.Backend) driver.Backend { return &failingGets{driver.ProxyBackend{Next: next}} },
		debugpanel.Proxy,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// hostileHandler makes many cache calls with keys taken from the request's
// path (substrings of it, as r.PathValue gives) and from a long key of
// its own.
func hostileHandler(r *dogpile.Region, keyLen, multis int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx := req.Context()
		path := req.URL.Path
		long := fresh("", 'k', keyLen) // a new long key each request
		_, _ = dogpile.GetOrCreate(ctx, r, long, constant(1))
		_, _, _ = dogpile.Get[int](ctx, r, path[1:])
		if len(path)%10 == 0 { // one request in ten: errors of 900 KiB
			_, _, _ = dogpile.Get[int](ctx, r, "fail"+long)
		}
		for i := range 20 { // short keys sharing the long path's memory
			_, _, _ = dogpile.Get[int](ctx, r, path[i:i+8])
		}
		keys := make([]string, 150)
		for i := range keys {
			keys[i] = long[i:]
		}
		for range multis {
			_, _ = dogpile.GetMulti[int](ctx, r, keys)
		}
		_ = r.Delete(ctx, long)
		_ = r.DeleteMulti(ctx, keys[:10])
		w.WriteHeader(http.StatusNotFound)
	})
}

// fresh returns a new string: prefix and n bytes b, in one allocation.
func fresh(prefix string, b byte, n int) string {
	chunk := strings.Repeat(string(b), 4096)
	var s strings.Builder
	s.Grow(len(prefix) + n)
	s.WriteString(prefix)
	for n > 0 {
		c := min(n, len(chunk))
		s.WriteString(chunk[:c])
		n -= c
	}
	return s.String()
}

// heapAfterGC returns the bytes of live heap objects.
func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestHostileRequestsStayWithinBudget sends 10,000 hostile requests (paths
// and keys of 900 KiB, about 70 operations each, many keys, errors holding
// the keys, methods of 64 KiB), from four clients at once, through the middleware of a panel
// with the default budget. The live heap after GC grows by no more than
// the budget and a constant (hostileSlack, 256 KiB), nor more than the
// panel's own account and that constant, and the account stays within
// the budget throughout.
func TestHostileRequestsStayWithinBudget(t *testing.T) {
	const hostileSlack = 256 << 10
	requests, clients := 10000, 4
	if testing.Short() || raceEnabled {
		// The race detector spends milliseconds on each allocation of
		// 900 KiB.
		requests = 1000
	}
	const long = 900 << 10
	region := hostileRegion(t)
	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.AllowAll})
	h := panel.Middleware(hostileHandler(region, long, 10))
	serve := func(i int) {
		path := fresh("/authors/", 'a', long+i%10) // a new one each request
		method := http.MethodGet
		if i%10 == 0 {
			method = strings.Repeat("M", 64<<10)
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Method, req.URL.Path = method, path
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	serve(0) // warm up what every request needs once
	panel.Reset()
	before := heapAfterGC()

	var wg sync.WaitGroup
	next := make(chan int)
	var over sync.Once
	for range clients {
		wg.Go(func() {
			for i := range next {
				serve(i)
				if i%500 == 0 {
					if used, budget := panel.Memory(); used > budget {
						over.Do(func() { t.Errorf("after request %d the panel keeps %d bytes, over its budget of %d", i, used, budget) })
					}
				}
			}
		})
	}
	start := time.Now()
	for i := range requests {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)

	after := heapAfterGC()
	used, budget := panel.Memory()
	growth := int64(after) - int64(before)
	reqs := panel.Requests()
	t.Logf("%d requests in %v: heap %d -> %d bytes after GC, growth %d (%.2f MiB); panel charged %d of %d bytes; %d requests kept, %d unrecorded",
		requests, elapsed.Round(time.Millisecond), before, after, growth, float64(growth)/(1<<20), used, budget, len(reqs), panel.Unrecorded())
	if used > budget {
		t.Errorf("the panel keeps %d bytes, over its budget of %d", used, budget)
	}
	if growth > budget+hostileSlack {
		t.Errorf("the heap grew by %d bytes, more than the budget %d and %d", growth, budget, hostileSlack)
	}
	// The account errs on the safe side: the heap holds no more than it.
	if growth > used+hostileSlack {
		t.Errorf("the heap grew by %d bytes, more than the %d charged and %d", growth, used, hostileSlack)
	}
	if budget != debugpanel.DefaultMaxBytes {
		t.Errorf("budget %d, want the default %d", budget, debugpanel.DefaultMaxBytes)
	}
	// The most recent requests are the ones kept (in the order they
	// finished, which four clients shuffle a little), and what they keep
	// is cut.
	if len(reqs) == 0 {
		t.Fatal("no request kept")
	}
	for _, r := range reqs {
		if oldest := uint64(requests + 1 - len(reqs) - clients); r.ID <= oldest {
			t.Errorf("request %d kept, not one of the last %d", r.ID, len(reqs)+clients)
		}
	}
	req, ok := panel.Request(reqs[0].ID)
	if !ok {
		t.Fatal("newest request gone")
	}
	if min := len("/authors/") + long; req.PathLen < min || req.PathLen > min+9 || len(req.Path) > debugpanel.DefaultMaxKeyLen ||
		req.Status != http.StatusNotFound {
		t.Errorf("path kept %d of %d bytes, status %d", len(req.Path), req.PathLen, req.Status)
	}
	if req.Stats.Dropped == 0 || len(req.Operations) == 0 {
		t.Errorf("%d operations kept, %d dropped: the request should fill its own limit", len(req.Operations), req.Stats.Dropped)
	}
	for _, o := range req.Operations {
		for i, k := range o.Keys {
			if len(k) > debugpanel.DefaultMaxKeyLen {
				t.Fatalf("%s key of %d bytes kept", o.Op, len(k))
			}
			if o.KeyLens != nil && o.KeyLens[i] < len(k) {
				t.Fatalf("%s key length %d < kept %d", o.Op, o.KeyLens[i], len(k))
			}
		}
		if len(o.Err) > 4*debugpanel.DefaultMaxKeyLen {
			t.Fatalf("error text of %d bytes kept", len(o.Err))
		}
	}
	runtime.KeepAlive(panel)
}

func TestLongKeysAndPathsAreCut(t *testing.T) {
	region := hostileRegion(t)
	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.AllowAll, Limits: debugpanel.Limits{MaxKeyLen: 16}})
	mux := http.NewServeMux()
	mux.Handle("/_dogpile/", panel)
	// "é" is two bytes: the 16th byte of the key is the first of one.
	key := strings.Repeat("k", 15) + strings.Repeat("é", 100)
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		ctx := req.Context()
		_, _, _ = dogpile.Get[int](ctx, region, key)
		_, _ = dogpile.GetMulti[int](ctx, region, []string{"short", key})
		_, _, _ = dogpile.Get[int](ctx, region, "fail"+strings.Repeat("x", 200))
		_, _, _ = dogpile.Get[int](ctx, region, "short")
	})
	srv := httptest.NewServer(panel.Middleware(mux))
	defer srv.Close()
	path := "/authors/" + strings.Repeat("p", 1000)
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	req, ok := panel.Request(1)
	if !ok {
		t.Fatal("request not kept")
	}
	if req.Path != path[:16] || req.PathLen != len(path) {
		t.Errorf("path %q of %d bytes", req.Path, req.PathLen)
	}
	var get, multi, failed *debugpanel.Operation
	for i, o := range req.Operations {
		switch {
		case o.Layer == debugpanel.LayerRegion && o.Op == "get" && o.Err == "" && get == nil:
			get = &req.Operations[i]
		case o.Layer == debugpanel.LayerRegion && o.Op == "get_multi":
			multi = &req.Operations[i]
		case o.Layer == debugpanel.LayerRegion && o.Err != "":
			failed = &req.Operations[i]
		}
	}
	if get == nil || multi == nil || failed == nil {
		t.Fatalf("operations %+v", req.Operations)
	}
	if want := strings.Repeat("k", 15); get.Keys[0] != want || get.KeyLens[0] != len(key) || !utf8.ValidString(get.Keys[0]) {
		t.Errorf("get kept %q, lengths %v", get.Keys, get.KeyLens)
	}
	if multi.Keys[0] != "short" || multi.KeyLens[0] != 5 || multi.KeyLens[1] != len(key) || len(multi.Keys[1]) != 15 {
		t.Errorf("get_multi kept %q, lengths %v", multi.Keys, multi.KeyLens)
	}
	if len(failed.Err) > 64 || !utf8.ValidString(failed.Err) || len(failed.Keys[0]) != 16 {
		t.Errorf("failed get: error %q (%d bytes), key %q", failed.Err, len(failed.Err), failed.Keys[0])
	}

	// The JSON has the full lengths; key_lens only where a key was cut.
	get2 := func(path string) string {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
		}
		return string(b)
	}
	var js struct {
		Path       string `json:"path"`
		PathLen    int    `json:"path_len"`
		Memory     int64  `json:"memory"`
		Operations []struct {
			Op      string   `json:"op"`
			Keys    []string `json:"keys"`
			KeyLens []int    `json:"key_lens"`
		} `json:"operations"`
	}
	if err := json.Unmarshal([]byte(get2("/_dogpile/requests/1.json")), &js); err != nil {
		t.Fatal(err)
	}
	if js.PathLen != len(path) || js.Path != path[:16] || js.Memory <= 0 {
		t.Errorf("JSON path %q, path_len %d, memory %d", js.Path, js.PathLen, js.Memory)
	}
	cutOps := 0
	for _, o := range js.Operations {
		if o.KeyLens != nil {
			cutOps++
			if len(o.KeyLens) != len(o.Keys) {
				t.Errorf("%s: %d key_lens for %d keys", o.Op, len(o.KeyLens), len(o.Keys))
			}
		}
	}
	if cutOps == 0 || cutOps == len(js.Operations) {
		t.Errorf("%d of %d operations with key_lens", cutOps, len(js.Operations))
	}
	if body := get2("/_dogpile/requests.json"); !strings.Contains(body, fmt.Sprintf(`"path_len": %d`, len(path))) {
		t.Errorf("list JSON lacks the path length: %s", body)
	}
	// The pages show the full lengths.
	page := get2("/_dogpile/requests/1")
	for _, want := range []string{fmt.Sprintf("… (%d bytes)", len(path)), fmt.Sprintf("… (%d bytes)", len(key))} {
		if !strings.Contains(page, want) {
			t.Errorf("detail page lacks %q", want)
		}
	}
	if list := get2("/_dogpile/"); !strings.Contains(list, fmt.Sprintf("… (%d bytes)", len(path))) || !strings.Contains(list, `id="memory"`) {
		t.Error("list page lacks the path's length or the memory")
	}
}

func TestCutKeepsBinaryKeys(t *testing.T) {
	_, rec := recording(debugpanel.Limits{MaxKeyLen: 8})
	// Continuation bytes only: the cut backs up at most three bytes.
	key := strings.Repeat("\x80", 20)
	rec.Record(debugpanel.Operation{Layer: debugpanel.LayerRegion, Op: "get", Keys: []string{key, "abc"}, Results: []observe.Result{observe.Miss}, Size: -1})
	o := rec.Operations()[0]
	if len(o.Keys[0]) < 5 || len(o.Keys[0]) > 8 || o.KeyLens[0] != 20 || o.Keys[1] != "abc" || o.KeyLens[1] != 3 {
		t.Errorf("kept %q, lengths %v", o.Keys, o.KeyLens)
	}
	if len(o.Results) != 1 || o.KeyCount != 2 {
		t.Errorf("results %v, key count %d", o.Results, o.KeyCount)
	}
}

func TestRecorderMemoryLimit(t *testing.T) {
	const limit = 40 << 10
	_, rec := recording(debugpanel.Limits{MaxBytes: limit})
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%03d:%s", i, strings.Repeat("x", 200))
	}
	res := make([]observe.Result, len(keys))
	for i := range res {
		res[i] = observe.Miss
	}
	for range 20 {
		rec.Record(debugpanel.Operation{Layer: debugpanel.LayerRegion, Op: "get_multi", Keys: keys, Results: res, Size: -1})
	}
	snap := rec.Snapshot()
	if snap.Memory > limit || snap.Memory < limit/2 {
		t.Errorf("the recorder keeps %d bytes, limit %d", snap.Memory, limit)
	}
	if snap.Stats.Dropped == 0 || len(snap.Operations)+snap.Stats.Dropped != 20 || len(snap.Operations) == 0 {
		t.Errorf("%d kept, %d dropped", len(snap.Operations), snap.Stats.Dropped)
	}
	// The statistics count every key of every operation.
	if snap.Stats.Misses != 20*100 || snap.Stats.Ops != 20 {
		t.Errorf("stats %+v", snap.Stats)
	}
	// An operation too big for what is left is dropped, a small one fits.
	rec.Record(debugpanel.Operation{Layer: debugpanel.LayerRegion, Op: "get", Keys: []string{"k"}, Results: []observe.Result{observe.Hit}, Size: -1})
	if after := rec.Snapshot(); after.Memory > limit {
		t.Errorf("%d bytes after a small operation", after.Memory)
	}
}

// pagesHandler makes n get_multi calls of 20 keys of 100 bytes.
func pagesHandler(r *dogpile.Region, n int) http.HandlerFunc {
	keys := make([]string, 20)
	for i := range keys {
		keys[i] = fmt.Sprintf("%03d%s", i, strings.Repeat("k", 97))
	}
	return func(w http.ResponseWriter, req *http.Request) {
		for range n {
			_, _ = dogpile.GetMulti[int](req.Context(), r, keys)
		}
	}
}

func TestPanelBudgetDropsOldestRequests(t *testing.T) {
	const budget = 64 << 10
	region := observedRegion(t, "budget", "dogpile.cache.memory")
	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.AllowAll, MaxBytes: budget})
	h := panel.Middleware(pagesHandler(region, 5))
	for range 40 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/page", nil))
		if used, b := panel.Memory(); used > b || b != budget {
			t.Fatalf("%d bytes of %d", used, b)
		}
	}
	reqs := panel.Requests()
	if len(reqs) == 0 || len(reqs) >= 40 {
		t.Fatalf("%d requests kept within %d bytes", len(reqs), budget)
	}
	// The most recent ones, complete: a request is kept or let go whole.
	var sum int64
	for i, r := range reqs {
		if r.ID != uint64(40-i) {
			t.Fatalf("kept %d at %d, want the most recent", r.ID, i)
		}
		if r.Stats.Dropped != 0 {
			t.Errorf("request %d dropped %d operations", r.ID, r.Stats.Dropped)
		}
		sum += r.Memory
	}
	if used, _ := panel.Memory(); used != sum {
		t.Errorf("panel charged %d bytes, its requests %d", used, sum)
	}
	// One more request would not fit with the oldest kept: it is let go.
	if used, _ := panel.Memory(); used+reqs[0].Memory <= budget {
		t.Errorf("%d bytes used, a request of %d would fit: the panel let go of more than it had to", used, reqs[0].Memory)
	}
	// A request bigger than the panel's whole budget keeps what fits.
	panel.Middleware(pagesHandler(region, 100)).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/big", nil))
	reqs = panel.Requests()
	if reqs[0].Path != "/big" || reqs[0].Stats.Dropped == 0 || reqs[0].Memory > budget || reqs[0].Stats.Ops != 100 {
		t.Errorf("big request kept as %+v", reqs[0])
	}
	if used, _ := panel.Memory(); used > budget {
		t.Errorf("%d bytes used", used)
	}
	panel.Reset()
	if used, _ := panel.Memory(); used != 0 {
		t.Errorf("%d bytes charged after Reset", used)
	}
}

// TestRunningRequestsShareTheBudget holds several requests open while they
// record: together they never go past the budget, the ones that find it
// held keep fewer operations or are not recorded, and kept requests make
// room for running ones.
func TestRunningRequestsShareTheBudget(t *testing.T) {
	const budget = 48 << 10
	region := observedRegion(t, "running", "dogpile.cache.memory")
	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.AllowAll, MaxBytes: budget})
	// A finished request, kept, to be let go for the running ones.
	panel.Middleware(pagesHandler(region, 2)).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/old", nil))
	if len(panel.Requests()) != 1 {
		t.Fatal("the first request was not kept")
	}
	recorded := make(chan bool)
	release := make(chan struct{})
	inner := pagesHandler(region, 10)
	h := panel.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		inner(w, req)
		recorded <- debugpanel.FromContext(req.Context()) != nil
		<-release
	}))
	const running = 12
	var wg sync.WaitGroup
	for i := range running {
		wg.Go(func() {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, fmt.Sprintf("/running/%d", i), nil))
		})
	}
	withRecorder := 0
	for range running {
		if <-recorded {
			withRecorder++
		}
		if used, _ := panel.Memory(); used > budget {
			t.Errorf("%d bytes charged while requests run, budget %d", used, budget)
		}
	}
	if n := len(panel.Requests()); n != 0 {
		t.Errorf("%d finished requests still kept: running ones need the room", n)
	}
	if got := uint64(running - withRecorder); panel.Unrecorded() != got {
		t.Errorf("%d requests unrecorded, %d ran without a recorder", panel.Unrecorded(), got)
	}
	close(release)
	wg.Wait()
	var dropped int
	for _, r := range panel.Requests() {
		dropped += r.Stats.Dropped
	}
	if dropped == 0 && panel.Unrecorded() == 0 {
		t.Error("12 requests of 10 operations of 20 keys fit in 48 KiB: the test proves nothing")
	}
	if used, _ := panel.Memory(); used > budget {
		t.Errorf("%d bytes charged, budget %d", used, budget)
	}
}

// TestLateOperationsOfLetGoRequests: a creation that outlives its request
// records into it; once the panel let go of the request, its operations
// are no longer charged.
func TestLateOperationsOfLetGoRequests(t *testing.T) {
	region := observedRegion(t, "late", "dogpile.cache.memory")
	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.AllowAll})
	var ctx context.Context
	panel.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx = req.Context()
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	before, _ := panel.Memory()
	if _, err := dogpile.GetOrCreate(ctx, region, "late", constant(1)); err != nil {
		t.Fatal(err)
	}
	grown, _ := panel.Memory()
	if grown <= before || panel.Requests()[0].Stats.Ops != 2 {
		t.Fatalf("a late operation of a kept request: %d -> %d bytes", before, grown)
	}
	panel.Reset()
	if _, err := dogpile.GetOrCreate(ctx, region, "late", constant(1)); err != nil {
		t.Fatal(err)
	}
	if used, _ := panel.Memory(); used != 0 {
		t.Errorf("%d bytes charged for a request the panel let go", used)
	}
	if st := debugpanel.FromContext(ctx).Stats(); st.Ops != 3 || st.Dropped != 1 {
		t.Errorf("the let-go recorder's stats %+v", st)
	}
}
