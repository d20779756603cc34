package tmplcache_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memcached"
	"github.com/dogpilego/dogpile/dogpile/backends/redis"
	"github.com/dogpilego/dogpile/internal/multiproc"
	"github.com/dogpilego/dogpile/internal/testserver"
	"github.com/dogpilego/dogpile/tmplcache"
)

// The environment the multi-process tests give their children.
const (
	envBackend = "TMPLCACHE_TEST_BACKEND" // a registered backend name
	envURL     = "TMPLCACHE_TEST_URL"
	envStart   = "TMPLCACHE_TEST_START" // Unix nanoseconds
)

const (
	mpChildren = 2
	mpItems    = 20
	mpRetired  = 3 // the item whose tag the parent invalidates
	mpRefresh  = 200 * time.Millisecond
	mpTimeout  = 20 * time.Second
)

// mpResult is what a child reports: the collection it was given first,
// and when it saw item mpRetired rendered again, as what.
type mpResult struct {
	First  []string `json:"first"`
	SeenAt int64    `json:"seen_at"` // Unix nanoseconds
	After  []string `json:"after"`
}

// TestMultiProcessRedis and TestMultiProcessMemcached: two processes
// render one collection of tagged cards at once on a shared server with
// the distributed lock: each card is rendered once between them, with one
// multi read per call. Then a third process calls InvalidateTags for one
// card's tag: that card, and no other, is rendered once more between the
// two, and each serves the new card within the refresh period plus a
// round trip. The delays are logged.
func TestMultiProcessRedis(t *testing.T) {
	multiProcess(t, "TestMultiProcessRedis", "dogpile.cache.redis", func(t *testing.T) string {
		return "redis://" + testserver.StartRedis(t).Addr + "/0"
	})
}

func TestMultiProcessMemcached(t *testing.T) {
	multiProcess(t, "TestMultiProcessMemcached", "dogpile.cache.memcached", func(t *testing.T) string {
		return testserver.StartMemcached(t).Addr
	})
}

// mpCache returns a Cache on the server of the environment.
func mpCache(t *testing.T, backend, url string) *tmplcache.Cache {
	t.Helper()
	r := dogpile.NewRegion(dogpile.WithName("fragments"))
	if err := r.Configure(backend, dogpile.Config{
		ExpirationTime: time.Hour,
		Arguments:      map[string]any{"url": url, "distributed_lock": true, "lock_timeout": 10},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	c := tmplcache.New(r, tmplcache.WithTagRefresh(mpRefresh))
	t.Cleanup(func() { c.Close() })
	return c
}

func multiProcess(t *testing.T, test, backend string, start func(*testing.T) string) {
	if i, dir, ok := multiproc.Child(); ok {
		multiProcessChild(t, i, dir)
		return
	}
	t.Parallel()
	url := start(t)
	begin := time.Now().Add(time.Second) // the children need a moment to start
	g := multiproc.Start(t, test, mpChildren,
		envBackend+"="+backend, envURL+"="+url, envStart+"="+strconv.FormatInt(begin.UnixNano(), 10))
	deadline := time.Now().Add(mpTimeout)
	for i := range mpChildren {
		for !exists(filepath.Join(g.Dir(), fmt.Sprintf("first-%d", i))) {
			if time.Now().After(deadline) {
				t.Fatalf("child %d never rendered the collection:\n%s", i, g.Output(i))
			}
			time.Sleep(10 * time.Millisecond) // another process's progress
		}
	}
	if got := renders(t, g.Dir()); !slices.Equal(got, wantRenders(0)) {
		t.Fatalf("the children rendered cards %v between them; want each card once", got)
	}

	c := mpCache(t, backend, url)
	invalidated := time.Now()
	if err := c.InvalidateTags(context.Background(), fmt.Sprint("post:", mpRetired)); err != nil {
		t.Fatal(err)
	}
	if err := g.Wait(mpTimeout); err != nil {
		t.Fatal(err)
	}
	if got := renders(t, g.Dir()); !slices.Equal(got, wantRenders(1)) {
		t.Errorf("after InvalidateTags, the children had rendered cards %v between them; want card %d once more and no other", got, mpRetired)
	}
	var delays []time.Duration
	for i := range mpChildren {
		var res mpResult
		data, err := os.ReadFile(filepath.Join(g.Dir(), fmt.Sprintf("result-%d.json", i)))
		if err == nil {
			err = json.Unmarshal(data, &res)
		}
		if err != nil {
			t.Fatal(err)
		}
		for j := range mpItems {
			changed := res.After[j] != res.First[j]
			if changed != (j+1 == mpRetired) {
				t.Errorf("child %d: card %d was %q and became %q", i, j+1, res.First[j], res.After[j])
			}
		}
		delays = append(delays, time.Duration(res.SeenAt-invalidated.UnixNano()))
	}
	t.Logf("%s: refresh %v: the processes served the retired card again after %v", backend, mpRefresh, delays)
	for i, d := range delays {
		// Refresh plus a round trip, and the distributed lock's wait for
		// the process that did not render, with room for a slow machine.
		if d > mpRefresh+500*time.Millisecond {
			t.Errorf("child %d served the new card %v after InvalidateTags, want about the refresh period %v", i, d, mpRefresh)
		}
	}
}

// wantRenders is each card once, plus the retired one extra times.
func wantRenders(extra int) []int {
	var out []int
	for id := 1; id <= mpItems; id++ {
		out = append(out, id)
		if id == mpRetired {
			for range extra {
				out = append(out, id)
			}
		}
	}
	return out
}

// renders returns the cards the children rendered, sorted.
func renders(t *testing.T, dir string) []int {
	t.Helper()
	var out []int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasPrefix(d.Name(), "renders-") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			id, err := strconv.Atoi(sc.Text())
			if err != nil {
				return err
			}
			out = append(out, id)
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

func multiProcessChild(t *testing.T, child int, dir string) {
	ctx := context.Background()
	c := mpCache(t, os.Getenv(envBackend), os.Getenv(envURL))
	log, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("renders-%d", child)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	ids := make([]int, mpItems)
	for i := range ids {
		ids[i] = i + 1
	}
	fs := cards(ids...)
	generation := 0
	render := func(_ context.Context, i int) (string, error) {
		if _, err := fmt.Fprintln(log, fs[i].Vary[0]); err != nil {
			return "", err
		}
		return fmt.Sprintf("<card %v by %d at %d>", fs[i].Vary[0], child, generation), nil
	}
	renderAll := func() []string {
		out, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, render)
		if err != nil {
			t.Fatalf("child %d: %v", child, err)
		}
		for i, html := range out {
			if !strings.HasPrefix(html, fmt.Sprintf("<card %d by ", i+1)) {
				t.Fatalf("child %d: item %d is %q", child, i, html)
			}
		}
		return out
	}
	n, err := strconv.ParseInt(os.Getenv(envStart), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.Unix(0, n))) // both children start together
	res := mpResult{First: renderAll()}
	generation = 1
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("first-%d", child)), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(mpTimeout)
	for {
		out := renderAll()
		if out[mpRetired-1] != res.First[mpRetired-1] {
			res.SeenAt, res.After = time.Now().UnixNano(), out
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d: card %d never rendered again", child, mpRetired)
		}
		time.Sleep(2 * time.Millisecond) // a page every few milliseconds
	}
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("result-%d.json", child)), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// commandCounts returns how many times the Redis server ran each command
// (INFO commandstats), INFO itself and the connection handshake left out.
func commandCounts(t *testing.T, raw *goredis.Client) map[string]int {
	t.Helper()
	info, err := raw.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for line := range strings.SplitSeq(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_")
		if !ok {
			continue
		}
		name, stats, _ := strings.Cut(rest, ":calls=")
		n, err := strconv.Atoi(stats[:strings.IndexByte(stats, ',')])
		if err != nil {
			t.Fatal(err)
		}
		if name != "info" && name != "hello" && name != "client|setinfo" {
			out[name] = n
		}
	}
	return out
}

// roundTrips is a go-redis hook that counts the client's round trips: one
// per command sent alone, one per pipeline, a new connection's handshake
// left out.
type roundTrips struct{ n atomic.Int64 }

func (*roundTrips) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *roundTrips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if name := cmd.Name(); name != "hello" && name != "client" { // a new connection's handshake
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if name := cmds[0].Name(); name != "hello" && name != "client" {
			h.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// TestRenderEachRedisRoundTrips counts what a collection costs on a real
// Redis server, from the client (round trips) and from the server
// (commands run): one read round trip (MGET) and one write round trip when
// its items are missing (a pipeline of SET ... PX, since entries carry the
// server-side time to live, which MSET cannot give), one MGET when they are
// cached; tagged items add one MGET of their tags' versions while this
// process does not hold them, and nothing once it does, whether the items
// declare their tags or add them while they render.
func TestRenderEachRedisRoundTrips(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	raw := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer raw.Close()
	client := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	hook := &roundTrips{}
	client.AddHook(hook)
	b, err := redis.New(client, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := dogpile.NewRegion()
	if err := r.ConfigureBackend(b, dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := tmplcache.New(r, tmplcache.WithTagRefresh(time.Hour))
	defer c.Close()
	ctx := context.Background()
	adding := false // whether each card adds a tag of its own with AddTags
	render := func(ctx context.Context, i int) (string, error) {
		if adding {
			tmplcache.AddTags(ctx, fmt.Sprint("author:", i))
		}
		return fmt.Sprint("<card ", i, ">"), nil
	}
	collection := func(tagged bool, ids ...int) []tmplcache.Fragment {
		fs := cards(ids...)
		if !tagged {
			for i := range fs {
				fs[i].Tags = nil
			}
		}
		return fs
	}
	if _, err := c.RenderEach(ctx, collection(false, 0), tmplcache.RenderOptions{}, render); err != nil { // connects
		t.Fatal(err)
	}
	ids, others := make([]int, 100), make([]int, 100)
	for i := range ids {
		ids[i], others[i] = i+1, i+201
	}
	for _, step := range []struct {
		name     string
		fs       []tmplcache.Fragment
		adding   bool
		trips    int64
		commands string
	}{
		{"100 missing", collection(false, ids...), false, 2, "map[mget:1 set:100]"},
		{"100 cached", collection(false, ids...), false, 1, "map[mget:1]"},
		{"100 tagged missing", collection(true, slices.Concat(ids, []int{101})...), false, 3, "map[mget:2 set:1]"},
		{"100 tagged cached, versions held", collection(true, slices.Concat(ids, []int{101})...), false, 1, "map[mget:1]"},
		// Tags AddTags adds while the items render: their versions are
		// read in one call after the items rendered, not one per item.
		{"100 missing adding tags", collection(false, others...), true, 3, "map[mget:2 set:100]"},
	} {
		adding = step.adding
		before := commandCounts(t, raw)
		trips := hook.n.Load()
		out, err := c.RenderEach(ctx, step.fs, tmplcache.RenderOptions{}, render)
		if err != nil || len(out) != len(step.fs) {
			t.Fatalf("%s: %d items, %v", step.name, len(out), err)
		}
		trips = hook.n.Load() - trips
		after := commandCounts(t, raw)
		delta := map[string]int{}
		for cmd, n := range after {
			if n > before[cmd] {
				delta[cmd] = n - before[cmd]
			}
		}
		if got := fmt.Sprint(delta); got != step.commands || trips != step.trips {
			t.Errorf("%s: %d round trips running %s, want %d running %s", step.name, trips, got, step.trips, step.commands)
		}
	}
}
