package tmplcache_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/tmplcache"
)

// cards returns one fragment per id, varying on the id and tagged with
// "post:<id>".
func cards(ids ...int) []tmplcache.Fragment {
	fs := make([]tmplcache.Fragment, len(ids))
	for i, id := range ids {
		fs[i] = tmplcache.Fragment{Template: "home.html", Name: "card", Vary: []any{id}, Tags: []string{fmt.Sprint("post:", id)}}
	}
	return fs
}

// cardRenderer renders fs[i] as "<card id gen>" and records which items
// it rendered, in order.
type cardRenderer struct {
	fs       []tmplcache.Fragment
	mu       sync.Mutex
	rendered []int
	gen      int
}

func (r *cardRenderer) render(_ context.Context, i int) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rendered = append(r.rendered, i)
	return fmt.Sprintf("<card %v %d>", r.fs[i].Vary[0], r.gen), nil
}

func (r *cardRenderer) take() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.rendered
	r.rendered = nil
	return out
}

// TestRenderEachOneRoundTrip: a collection is read with one multi read;
// only the items missing, expired or retired by a tag are rendered, each
// once (duplicates too), written with one multi write, and returned in
// order; a fully cached collection writes nothing.
func TestRenderEachOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, kind := range backendKinds {
		t.Run(kind.name, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			var mu sync.Mutex
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			region, counted := countedRegion(t, kind.bytes, dogpile.WithClock(clock))
			c := tmplcache.New(region, tmplcache.WithRegion("tags", memRegion(t, time.Hour)), tmplcache.WithTagRegion("tags"))
			defer c.Close()
			c.Declare(tmplcache.Declaration{Template: "home.html", Name: "card"})
			fs := cards(1, 2, 3, 2, 4, 1)
			r := &cardRenderer{fs: fs, gen: 1}
			check := func(step string, wantRendered []int, wantCalls string, gens ...int) {
				t.Helper()
				out, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, r.render)
				if err != nil {
					t.Fatalf("%s: %v", step, err)
				}
				var want []string
				for i, f := range fs {
					want = append(want, fmt.Sprintf("<card %v %d>", f.Vary[0], gens[i]))
				}
				if !slices.Equal(out, want) {
					t.Errorf("%s: %q, want %q", step, out, want)
				}
				if got := r.take(); !slices.Equal(got, wantRendered) {
					t.Errorf("%s: rendered items %v, want %v", step, got, wantRendered)
				}
				if calls := counted.take(); calls != wantCalls {
					t.Errorf("%s: backend calls %s, want %s", step, calls, wantCalls)
				}
			}
			check("all missing", []int{0, 1, 2, 4}, "get_multi:1 set_multi:1", 1, 1, 1, 1, 1, 1)
			check("all cached", nil, "get_multi:1", 1, 1, 1, 1, 1, 1)

			r.gen = 2
			if err := c.Invalidate(ctx, "home.html", "card", "3"); err != nil {
				t.Fatal(err)
			}
			counted.take()
			check("one deleted", []int{2}, "get_multi:1 set:1", 1, 1, 2, 1, 1, 1) // one item: a single write

			r.gen = 3
			if err := c.InvalidateTags(ctx, "post:4", "post:2"); err != nil {
				t.Fatal(err)
			}
			check("two retired by tags", []int{1, 4}, "get_multi:1 set_multi:1", 1, 3, 2, 3, 3, 1)

			r.gen = 4
			mu.Lock()
			now = now.Add(2 * time.Hour)
			mu.Unlock()
			check("all expired", []int{0, 1, 2, 4}, "get_multi:1 set_multi:1", 4, 4, 4, 4, 4, 4)
			check("cached again", nil, "get_multi:1", 4, 4, 4, 4, 4, 4)

			if out, err := c.RenderEach(ctx, nil, tmplcache.RenderOptions{}, r.render); err != nil || len(out) != 0 {
				t.Errorf("an empty collection: %q, %v", out, err)
			}
			if calls := counted.take(); calls != "none" {
				t.Errorf("an empty collection made backend calls %s", calls)
			}
		})
	}
}

// TestRenderEachConcurrentCallers: 100 callers of one collection while
// its items are missing render each item once between them, callers
// asking for overlapping collections in other orders included, and every
// caller gets every item in its order.
func TestRenderEachConcurrentCallers(t *testing.T) {
	ctx := context.Background()
	for _, kind := range backendKinds {
		t.Run(kind.name, func(t *testing.T) {
			region, _ := countedRegion(t, kind.bytes)
			c := tmplcache.New(region)
			defer c.Close()
			ids := make([]int, 20)
			for i := range ids {
				ids[i] = i + 1
			}
			reversed := slices.Clone(ids)
			slices.Reverse(reversed)
			collections := [][]tmplcache.Fragment{cards(ids...), cards(append(reversed, 21, 22)...)}
			// The first ten are cached already.
			if _, err := c.RenderEach(ctx, cards(ids[:10]...), tmplcache.RenderOptions{}, func(_ context.Context, i int) (string, error) {
				return fmt.Sprintf("<card %d>", i+1), nil
			}); err != nil {
				t.Fatal(err)
			}
			var renders sync.Map // id → *atomic.Int32
			started, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			var wg sync.WaitGroup
			for n := range 100 {
				fs := collections[n%2]
				wg.Go(func() {
					out, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, func(_ context.Context, i int) (string, error) {
						once.Do(func() { close(started) })
						<-release
						id := fs[i].Vary[0].(int)
						count, _ := renders.LoadOrStore(id, new(atomic.Int32))
						count.(*atomic.Int32).Add(1)
						return fmt.Sprintf("<card %d>", id), nil
					})
					if err != nil {
						t.Error(err)
						return
					}
					for i, f := range fs {
						if want := fmt.Sprintf("<card %d>", f.Vary[0]); out[i] != want {
							t.Errorf("item %d: %q, want %q", i, out[i], want)
						}
					}
				})
			}
			<-started
			close(release)
			wg.Wait()
			for id := 1; id <= 22; id++ {
				n := int32(0)
				if count, ok := renders.Load(id); ok {
					n = count.(*atomic.Int32).Load()
				}
				if want := int32(1); id <= 10 && n != 0 || id > 10 && n != want {
					t.Errorf("card %d rendered %d times, want %d", id, n, map[bool]int{true: 0, false: 1}[id <= 10])
				}
			}
		})
	}
}

// TestRenderEachPropagatesTags: the tags of a collection's items, rendered
// or found, become tags of the fragment the collection is rendered in.
func TestRenderEachPropagatesTags(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour))
	defer c.Close()
	items := cards(1, 2, 3)
	page := tmplcache.Fragment{Template: "home.html", Name: "page"}
	pageRenders, itemRenders := 0, 0
	renderPage := func() string {
		t.Helper()
		html, err := c.Render(ctx, page, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
			pageRenders++
			out, err := c.RenderEach(ctx, items, tmplcache.RenderOptions{}, func(context.Context, int) (string, error) {
				itemRenders++
				return fmt.Sprint("item", itemRenders), nil
			})
			return strings.Join(out, ","), err
		})
		if err != nil {
			t.Fatal(err)
		}
		return html
	}
	// Items found in the cache: their tags propagate as well.
	if _, err := c.RenderEach(ctx, items[:2], tmplcache.RenderOptions{}, func(_ context.Context, i int) (string, error) {
		return fmt.Sprint("cached", i+1), nil
	}); err != nil {
		t.Fatal(err)
	}
	if html := renderPage(); html != "cached1,cached2,item1" || pageRenders != 1 {
		t.Fatalf("page %q after %d renders", html, pageRenders)
	}
	if html := renderPage(); html != "cached1,cached2,item1" || pageRenders != 1 {
		t.Fatalf("page %q after %d renders, want a hit", html, pageRenders)
	}
	for n, tag := range []string{"post:1", "post:3"} { // a found item's tag, a rendered one's
		if err := c.InvalidateTags(ctx, tag); err != nil {
			t.Fatal(err)
		}
		html := renderPage()
		if pageRenders != n+2 || itemRenders != n+2 {
			t.Errorf("after InvalidateTags(%s): page %q, %d page renders, %d item renders; want the page and the item rendered again", tag, html, pageRenders, itemRenders)
		}
	}
	if err := c.InvalidateTags(ctx, "post:9"); err != nil {
		t.Fatal(err)
	}
	if renderPage(); pageRenders != 3 {
		t.Errorf("a tag no item has retired the page")
	}
}

// TestRenderEachErrors: a render error, an item without a key or an item
// leading back to the fragment being rendered fail the call and cache
// nothing of it.
func TestRenderEachErrors(t *testing.T) {
	ctx := context.Background()
	region, counted := countedRegion(t, false)
	c := tmplcache.New(region, tmplcache.WithRegion("tags", memRegion(t, time.Hour)), tmplcache.WithTagRegion("tags"))
	defer c.Close()
	fs := cards(1, 2, 3)
	boom := errors.New("boom")
	_, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, func(_ context.Context, i int) (string, error) {
		if i == 1 {
			return "", boom
		}
		return "ok", nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "item 1") {
		t.Errorf("render error: %v, want boom naming item 1", err)
	}
	if calls := counted.take(); calls != "get_multi:1" {
		t.Errorf("a failed collection made backend calls %s, want only the read", calls)
	}
	bad := cards(1, 2)
	bad[1].Vary = []any{make(chan int)}
	renders := 0
	if _, err := c.RenderEach(ctx, bad, tmplcache.RenderOptions{}, func(context.Context, int) (string, error) { renders++; return "", nil }); !errors.Is(err, tmplcache.ErrVaryValue) || renders != 0 || !strings.Contains(err.Error(), "item 1") {
		t.Errorf("an item without a key: %v after %d renders, want ErrVaryValue naming item 1", err, renders)
	}
	if _, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{Region: "nope"}, nil); !errors.Is(err, tmplcache.ErrUnknownRegion) {
		t.Errorf("unknown region: %v", err)
	}
	outer := fs[2]
	_, err = c.Render(ctx, outer, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
		out, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, func(context.Context, int) (string, error) { return "x", nil })
		return strings.Join(out, ""), err
	})
	if !errors.Is(err, tmplcache.ErrRecursion) {
		t.Errorf("a collection holding the fragment it is rendered in: %v, want ErrRecursion", err)
	}
	// Nothing was cached: the collection renders in full.
	out, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, func(_ context.Context, i int) (string, error) { return fmt.Sprint(i), nil })
	if err != nil || strings.Join(out, ",") != "0,1,2" {
		t.Errorf("after the errors: %q, %v", out, err)
	}
}

// TestRenderEachContext: each item's render function gets a context
// naming its fragment, the region call names every item, and AddTags in
// an item's rendering tags that item only.
func TestRenderEachContext(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var calls []string
	obs := observeFunc(func(ctx context.Context, op string) {
		fs := tmplcache.FragmentsFromContext(ctx)
		var names []string
		for _, f := range fs {
			names = append(names, fmt.Sprint(f.Vary...))
		}
		mu.Lock()
		calls = append(calls, op+" "+strings.Join(names, ","))
		mu.Unlock()
	})
	c := tmplcache.New(memRegion(t, time.Hour, dogpile.WithObserver(obs)))
	defer c.Close()
	fs := cards(1, 2)
	renders := 0
	render := func(ctx context.Context, i int) (string, error) {
		renders++
		f, ok := tmplcache.FragmentFromContext(ctx)
		if !ok || f.Vary[0] != fs[i].Vary[0] {
			t.Errorf("item %d rendered in a context naming %v, %v", i, f, ok)
		}
		tmplcache.AddTags(ctx, fmt.Sprint("extra:", i))
		return "x", nil
	}
	if _, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, render); err != nil {
		t.Fatal(err)
	}
	// The tag versions are read in the default region too: those the items
	// declare, before they render, and those AddTags adds while each item
	// renders, after all of them: one read each for the whole collection.
	if want := "[get_multi 1,2 get_multi 1,2 create 1,2 get_or_create_multi 1,2]"; fmt.Sprint(calls) != want {
		t.Errorf("observed %v, want %s", calls, want)
	}
	if err := c.InvalidateTags(ctx, "extra:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, render); err != nil || renders != 3 {
		t.Errorf("after InvalidateTags(extra:1): %d renders, %v; want the second item rendered again", renders, err)
	}
	if _, ok := tmplcache.FragmentFromContext(ctx); ok || tmplcache.FragmentsFromContext(ctx) != nil {
		t.Error("fragments in a plain context")
	}
}
