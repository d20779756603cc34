package tmplcache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/tmplcache"
)

// counter renders "<name n>" with n counting its renders.
type counter struct {
	name string
	n    atomic.Int32
}

func (c *counter) render(context.Context) (string, error) {
	return fmt.Sprintf("<%s %d>", c.name, c.n.Add(1)), nil
}

func mustRender(t testing.TB, c *tmplcache.Cache, ctx context.Context, f tmplcache.Fragment, render func(context.Context) (string, error)) string {
	t.Helper()
	html, err := c.Render(ctx, f, tmplcache.RenderOptions{}, render)
	if err != nil {
		t.Fatal(err)
	}
	return html
}

// TestDeclaredTags: InvalidateTags retires the fragments that declare one
// of its tags, and only those; retired fragments keep their key.
func TestDeclaredTags(t *testing.T) {
	ctx := context.Background()
	for _, kind := range backendKinds {
		t.Run(kind.name, func(t *testing.T) {
			region, _ := countedRegion(t, kind.bytes)
			c := tmplcache.New(region)
			defer c.Close()
			post7 := tmplcache.Fragment{Template: "post.html", Name: "body", Vary: []any{7}, Tags: []string{"post:7", "user:1"}}
			post8 := tmplcache.Fragment{Template: "post.html", Name: "body", Vary: []any{8}, Tags: []string{"post:8", "user:1"}}
			untagged := tmplcache.Fragment{Template: "post.html", Name: "footer"}
			r7, r8, ru := &counter{name: "7"}, &counter{name: "8"}, &counter{name: "u"}
			renderAll := func() string {
				return mustRender(t, c, ctx, post7, r7.render) + mustRender(t, c, ctx, post8, r8.render) + mustRender(t, c, ctx, untagged, ru.render)
			}
			for _, step := range []struct {
				invalidate []string
				want       string
			}{
				{nil, "<7 1><8 1><u 1>"},
				{nil, "<7 1><8 1><u 1>"},
				{[]string{"post:7"}, "<7 2><8 1><u 1>"},
				{[]string{"post:9", ""}, "<7 2><8 1><u 1>"},
				{[]string{"user:1"}, "<7 3><8 2><u 1>"},
				{[]string{"post:8", "post:8", "post:7"}, "<7 4><8 3><u 1>"},
				{nil, "<7 4><8 3><u 1>"},
			} {
				if err := c.InvalidateTags(ctx, step.invalidate...); err != nil {
					t.Fatal(err)
				}
				if got := renderAll(); got != step.want {
					t.Errorf("after InvalidateTags%q: %s, want %s", step.invalidate, got, step.want)
				}
			}
		})
	}
}

// TestAddTags: Go code running inside a rendering adds tags to the
// innermost fragment being rendered, from derived contexts and other
// goroutines too; outside a rendering AddTags does nothing.
func TestAddTags(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour))
	defer c.Close()
	tmplcache.AddTags(ctx, "nowhere") // no rendering: nothing happens
	loadUser := func(ctx context.Context, id int) string {
		tmplcache.AddTags(ctx, fmt.Sprint("user:", id))
		return fmt.Sprint("user", id)
	}
	outerR, innerR := &counter{name: "outer"}, &counter{name: "inner"}
	outer := tmplcache.Fragment{Template: "t.html", Name: "outer"}
	inner := tmplcache.Fragment{Template: "t.html", Name: "inner"}
	render := func() string {
		return mustRender(t, c, ctx, outer, func(ctx context.Context) (string, error) {
			html, _ := outerR.render(ctx)
			type key struct{}
			derived, cancel := context.WithCancel(context.WithValue(ctx, key{}, 1))
			defer cancel()
			done := make(chan string)
			go func() { done <- loadUser(derived, 1) }()
			html += <-done
			in, err := c.Render(ctx, inner, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
				html, _ := innerR.render(ctx)
				return html + loadUser(ctx, 2), nil
			})
			return html + in, err
		})
	}
	if got := render(); got != "<outer 1>user1<inner 1>user2" {
		t.Fatalf("%s", got)
	}
	for _, step := range []struct{ tag, want string }{
		{"user:1", "<outer 2>user1<inner 1>user2"}, // the outer fragment's own tag
		{"user:2", "<outer 3>user1<inner 2>user2"}, // the inner one's, propagated
		{"nowhere", "<outer 3>user1<inner 2>user2"},
	} {
		if err := c.InvalidateTags(ctx, step.tag); err != nil {
			t.Fatal(err)
		}
		if got := render(); got != step.want {
			t.Errorf("after InvalidateTags(%s): %s, want %s", step.tag, got, step.want)
		}
	}
}

// TestTagsPropagateFromHitsAndMisses: an outer fragment depends on the
// tags of the fragments rendered inside it, rendered then or found in the
// cache, at any depth.
func TestTagsPropagateFromHitsAndMisses(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour))
	defer c.Close()
	leaf := tmplcache.Fragment{Template: "t.html", Name: "leaf", Tags: []string{"leaf"}}
	middle := tmplcache.Fragment{Template: "t.html", Name: "middle", Tags: []string{"middle"}}
	top := tmplcache.Fragment{Template: "t.html", Name: "top"}
	leafR, middleR, topR := &counter{name: "leaf"}, &counter{name: "middle"}, &counter{name: "top"}
	renderMiddle := func(ctx context.Context) (string, error) {
		return c.Render(ctx, middle, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
			html, _ := middleR.render(ctx)
			in, err := c.Render(ctx, leaf, tmplcache.RenderOptions{}, leafR.render)
			return html + in, err
		})
	}
	renderTop := func() string {
		return mustRender(t, c, ctx, top, func(ctx context.Context) (string, error) {
			html, _ := topR.render(ctx)
			in, err := renderMiddle(ctx)
			return html + in, err
		})
	}
	// The middle fragment, with the leaf, is cached before the top one is
	// rendered: the top one finds it, and takes its tags from its entry.
	if _, err := renderMiddle(ctx); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct{ tag, want string }{
		{"", "<top 1><middle 1><leaf 1>"},
		{"leaf", "<top 2><middle 2><leaf 2>"}, // a hit's tag two levels down
		{"middle", "<top 3><middle 3><leaf 2>"},
		{"leaf", "<top 4><middle 4><leaf 3>"}, // a miss's tag two levels down
	} {
		if step.tag != "" {
			if err := c.InvalidateTags(ctx, step.tag); err != nil {
				t.Fatal(err)
			}
		}
		if got := renderTop(); got != step.want {
			t.Errorf("after InvalidateTags(%q): %s, want %s", step.tag, got, step.want)
		}
	}
}

// TestStaleInnerMakesOuterStale: an outer fragment rendered while an
// inner one was served stale (retired by a tag, being rendered again by
// another caller) records the inner one's old version of the tag, the
// least of the versions it met, even though it declares the tag itself:
// it is retired as soon as it is read again, and rendered once more with
// the fresh inner fragment.
func TestStaleInnerMakesOuterStale(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour))
	defer c.Close()
	inner := tmplcache.Fragment{Template: "t.html", Name: "inner", Tags: []string{"post:7"}}
	outer := tmplcache.Fragment{Template: "t.html", Name: "outer", Tags: []string{"post:7"}}
	var innerN atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	renderInner := func(context.Context) (string, error) {
		n := innerN.Add(1)
		if n == 2 {
			close(entered)
			<-release
		}
		return fmt.Sprintf("<inner %d>", n), nil
	}
	outerN := 0
	renderOuter := func() string {
		return mustRender(t, c, ctx, outer, func(ctx context.Context) (string, error) {
			outerN++
			in, err := c.Render(ctx, inner, tmplcache.RenderOptions{}, renderInner)
			return fmt.Sprintf("<outer %d>%s", outerN, in), err
		})
	}
	mustRender(t, c, ctx, inner, renderInner)
	if err := c.InvalidateTags(ctx, "post:7"); err != nil {
		t.Fatal(err)
	}
	regenerated := make(chan string)
	go func() {
		html, err := c.Render(ctx, inner, tmplcache.RenderOptions{}, renderInner)
		if err != nil {
			t.Error(err)
		}
		regenerated <- html
	}()
	<-entered // the inner fragment is being rendered again
	if got := renderOuter(); got != "<outer 1><inner 1>" {
		t.Fatalf("outer rendered during the inner regeneration: %s, want the stale inner fragment", got)
	}
	close(release)
	if html := <-regenerated; html != "<inner 2>" {
		t.Fatalf("regenerated inner fragment %s", html)
	}
	if got := renderOuter(); got != "<outer 2><inner 2>" {
		t.Errorf("outer built on a stale inner fragment, read again: %s, want it rendered again with <inner 2>", got)
	}
	if got := renderOuter(); got != "<outer 2><inner 2>" {
		t.Errorf("then: %s, want a hit", got)
	}
}

// TestTagRetiredRenderedOnce: after InvalidateTags, 50 concurrent callers
// of a retired fragment cause one rendering; the others are served the
// old HTML at once, or, where the region uses WaitForFresh, wait for the
// new one.
func TestTagRetiredRenderedOnce(t *testing.T) {
	ctx := context.Background()
	for _, wait := range []bool{false, true} {
		t.Run(fmt.Sprint("WaitForFresh=", wait), func(t *testing.T) {
			var opts []dogpile.Option
			if wait {
				opts = append(opts, dogpile.WaitForFresh())
			}
			c := tmplcache.New(memRegion(t, time.Hour, opts...))
			defer c.Close()
			f := tmplcache.Fragment{Template: "t.html", Name: "f", Tags: []string{"post:7"}}
			mustRender(t, c, ctx, f, func(context.Context) (string, error) { return "old", nil })
			if err := c.InvalidateTags(ctx, "post:7"); err != nil {
				t.Fatal(err)
			}
			var renders atomic.Int32
			entered, release := make(chan struct{}), make(chan struct{})
			render := func(context.Context) (string, error) {
				if renders.Add(1) == 1 {
					close(entered)
				}
				<-release
				return "new", nil
			}
			const callers = 50
			results := make(chan string, callers)
			for range callers {
				go func() {
					html, err := c.Render(ctx, f, tmplcache.RenderOptions{}, render)
					if err != nil {
						t.Error(err)
					}
					results <- html
				}()
			}
			<-entered
			got := map[string]int{}
			if !wait {
				for range callers - 1 {
					select {
					case html := <-results:
						got[html]++
					case <-time.After(10 * time.Second):
						t.Fatalf("callers waited for the rendering (got %v); want the old HTML at once", got)
					}
				}
			}
			close(release)
			for len(got) == 0 || got["old"]+got["new"] < callers {
				got[<-results]++
			}
			want := map[string]int{"old": callers - 1, "new": 1}
			if wait {
				want = map[string]int{"new": callers}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) || renders.Load() != 1 {
				t.Errorf("%d renders, callers got %v; want 1 render, %v", renders.Load(), got, want)
			}
			if html := mustRender(t, c, ctx, f, render); html != "new" || renders.Load() != 1 {
				t.Errorf("then %q after %d renders, want a hit", html, renders.Load())
			}
		})
	}
}

// TestTagHitsMakeNoRoundTrip: once a process holds a tag's version, hits
// of the fragments that depend on it read nothing from the tag region; a
// process that never read a tag reads it once, in one call for all the
// unknown tags of an entry.
func TestTagHitsMakeNoRoundTrip(t *testing.T) {
	ctx := context.Background()
	fragments := memRegion(t, time.Hour)
	tags, counted := countedRegion(t, false)
	newCache := func() *tmplcache.Cache {
		c := tmplcache.New(fragments, tmplcache.WithRegion("tags", tags), tmplcache.WithTagRegion("tags"), tmplcache.WithTagRefresh(time.Hour))
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := newCache()
	f := tmplcache.Fragment{Template: "t.html", Name: "f", Tags: []string{"a", "b", "c"}}
	mustRender(t, c, ctx, f, func(context.Context) (string, error) { return "x", nil })
	if calls := counted.take(); calls != "get_multi:1" {
		t.Errorf("rendering read the tags with %s, want one multi read", calls)
	}
	for range 100 {
		mustRender(t, c, ctx, f, nil)
	}
	if calls := counted.take(); calls != "none" {
		t.Errorf("100 hits made tag region calls %s, want none", calls)
	}
	other := newCache() // another process, sharing the fragments
	for range 100 {
		mustRender(t, other, ctx, f, nil)
	}
	if calls := counted.take(); calls != "get_multi:1" {
		t.Errorf("100 hits in a process that never read the tags made tag region calls %s, want one multi read", calls)
	}
}

// TestInvalidateTagsAcrossRegions: two Caches, as two processes, each
// with its own fragment region and a tag region on one shared backend.
// InvalidateTags applies in its own Cache at once, and in the other within
// its refresh period plus a round trip. The measured delays are logged.
func TestInvalidateTagsAcrossRegions(t *testing.T) {
	ctx := context.Background()
	const refresh = 200 * time.Millisecond
	shared, err := memory.New(memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	newCache := func() *tmplcache.Cache {
		tags := dogpile.NewRegion()
		if err := tags.ConfigureBackend(shared, dogpile.Config{}); err != nil {
			t.Fatal(err)
		}
		c := tmplcache.New(memRegion(t, time.Hour), tmplcache.WithRegion("tags", tags), tmplcache.WithTagRegion("tags"), tmplcache.WithTagRefresh(refresh))
		t.Cleanup(func() { c.Close() })
		return c
	}
	a, b := newCache(), newCache()
	f := tmplcache.Fragment{Template: "t.html", Name: "f", Tags: []string{"post:7"}}
	ra, rb := &counter{name: "a"}, &counter{name: "b"}
	mustRender(t, a, ctx, f, ra.render)
	mustRender(t, b, ctx, f, rb.render)
	var delays []time.Duration
	for trial := 2; trial <= 6; trial++ {
		time.Sleep(time.Duration(trial) * refresh / 7) // spread the invalidations over the refresh cycle
		start := time.Now()
		if err := a.InvalidateTags(ctx, "post:7"); err != nil {
			t.Fatal(err)
		}
		if got, want := mustRender(t, a, ctx, f, ra.render), fmt.Sprintf("<a %d>", trial); got != want {
			t.Fatalf("right after InvalidateTags, its own Cache serves %s, want %s", got, want)
		}
		want := fmt.Sprintf("<b %d>", trial)
		for mustRender(t, b, ctx, f, rb.render) != want {
			if time.Since(start) > 10*refresh {
				t.Fatalf("the other Cache still serves the retired fragment %v after InvalidateTags", time.Since(start))
			}
			time.Sleep(time.Millisecond) // measuring a real delay
		}
		delays = append(delays, time.Since(start))
		if got := mustRender(t, b, ctx, f, rb.render); got != want {
			t.Fatalf("then %s, want a hit", got)
		}
	}
	slices.Sort(delays)
	t.Logf("refresh %v: InvalidateTags applied in the other Cache after %v (sorted)", refresh, delays)
	// Refresh plus one round trip, with room for a slow test machine.
	if worst := delays[len(delays)-1]; worst > refresh+100*time.Millisecond {
		t.Errorf("worst delay %v, want at most the refresh period %v plus a round trip", worst, refresh)
	}
}

// TestTagEntries: the stored entry of a tagged fragment holds its HTML and
// the version of each tag, with short JSON names on a byte backend; an
// untagged fragment's entry has no tag field. Tag versions are kept under
// "<prefix>:tag:<tag>", hashed when a tag could not be a key as it is.
func TestTagEntries(t *testing.T) {
	ctx := context.Background()
	region, counted := countedRegion(t, true)
	c := tmplcache.New(region, tmplcache.WithPrefix("site"))
	defer c.Close()
	if err := c.InvalidateTags(ctx, "post:7", "a b", strings.Repeat("x", 200), "user:1:0123456789abcdef0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	written := counted.writtenKeys()
	slices.Sort(written)
	if len(written) != 4 || written[1] != "site:tag:post:7" ||
		!strings.HasPrefix(written[0], "site:tag:a_b~") || len(written[0]) != len("site:tag:a_b~")+32 ||
		!strings.HasPrefix(written[2], "site:tag:user:1:0123456789abcdef0123456789abcdef~") ||
		!strings.HasPrefix(written[3], "site:tag:xxxx") || !strings.Contains(written[3], "~") || len(written[3]) > 250 {
		t.Errorf("tag keys %q", written)
	}
	version, ok, err := dogpile.Get[int64](ctx, region, "site:tag:post:7")
	if !ok || err != nil || time.Since(time.Unix(0, version)) > time.Minute {
		t.Fatalf("version of post:7: %d, %v, %v", version, ok, err)
	}
	tagged := tmplcache.Fragment{Template: "t.html", Name: "tagged", Tags: []string{"post:7", "new"}}
	plain := tmplcache.Fragment{Template: "t.html", Name: "plain"}
	mustRender(t, c, ctx, tagged, func(context.Context) (string, error) { return "<p>tagged</p>", nil })
	mustRender(t, c, ctx, plain, func(context.Context) (string, error) { return "<p>plain</p>", nil })
	raw := func(f tmplcache.Fragment) string {
		entry, ok, err := driver.Unwrap(region.Backend()).(driver.BytesBackend).GetBytes(ctx, c.Key(f))
		if !ok || err != nil {
			t.Fatalf("%s: %v, %v", f.Name, ok, err)
		}
		_, payload, err := driver.DecodeEntry(entry)
		if err != nil {
			t.Fatal(err)
		}
		return string(payload)
	}
	want, _ := json.Marshal(map[string]any{"h": "<p>tagged</p>", "t": map[string]int64{"new": 0, "post:7": version}})
	if got := raw(tagged); got != string(want) {
		t.Errorf("tagged entry %s, want %s", got, want)
	}
	if want, _ := json.Marshal(map[string]any{"h": "<p>plain</p>"}); raw(plain) != string(want) {
		t.Errorf("untagged entry %s, want %s", raw(plain), want)
	}
}

// TestTagErrors: options that cannot take their values, a missing tag
// region and a tag region that fails make the calls that need them fail,
// never serve a fragment as fresh that a tag may have retired.
func TestTagErrors(t *testing.T) {
	ctx := context.Background()
	f := tmplcache.Fragment{Template: "t.html", Name: "f", Tags: []string{"post:7"}}
	render := func(context.Context) (string, error) { return "x", nil }
	for _, opt := range []tmplcache.Option{tmplcache.WithTagRefresh(0), tmplcache.WithTagRefresh(-time.Second), tmplcache.WithTagCapacity(0)} {
		c := tmplcache.New(memRegion(t, time.Hour), opt)
		_, err := c.Render(ctx, f, tmplcache.RenderOptions{}, render)
		_, errEach := c.RenderEach(ctx, []tmplcache.Fragment{f}, tmplcache.RenderOptions{}, nil)
		errInv := c.InvalidateTags(ctx, "post:7")
		for _, err := range []error{err, errEach, errInv} {
			if !errors.Is(err, dogpile.ErrInvalidArgument) || strings.HasPrefix(err.Error(), "dogpile:") {
				t.Errorf("an invalid option: %v, want ErrInvalidArgument", err)
			}
		}
	}
	c := tmplcache.New(memRegion(t, time.Hour), tmplcache.WithTagRegion("nope"))
	defer c.Close()
	if err := c.InvalidateTags(ctx, "post:7"); !errors.Is(err, tmplcache.ErrUnknownRegion) {
		t.Errorf("InvalidateTags without its region: %v", err)
	}
	if _, err := c.Render(ctx, f, tmplcache.RenderOptions{}, render); !errors.Is(err, tmplcache.ErrUnknownRegion) {
		t.Errorf("a tagged fragment without a tag region: %v", err)
	}
	if html, err := c.Render(ctx, tmplcache.Fragment{Template: "t.html", Name: "g"}, tmplcache.RenderOptions{}, render); err != nil || html != "x" {
		t.Errorf("an untagged fragment without a tag region: %q, %v", html, err)
	}
	_, err := c.Render(ctx, tmplcache.Fragment{Template: "t.html", Name: "h"}, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
		tmplcache.AddTags(ctx, "post:7")
		return "y", nil
	})
	if !errors.Is(err, tmplcache.ErrUnknownRegion) {
		t.Errorf("AddTags without a tag region: %v", err)
	}

	// A tag region whose backend fails: the fragment is not served as
	// fresh, and its rendering fails with the backend's error.
	failing := &failingBackend{}
	tags := dogpile.NewRegion()
	inner, _ := memory.New(memory.Options{})
	if err := tags.ConfigureBackend(inner, dogpile.Config{Wrap: []driver.Proxy{func(next driver.Backend) driver.Backend {
		failing.Next = next
		return failing
	}}}); err != nil {
		t.Fatal(err)
	}
	fragments := memRegion(t, time.Hour)
	good := tmplcache.New(fragments)
	defer good.Close()
	mustRender(t, good, ctx, f, func(context.Context) (string, error) { return "cached", nil })
	bad := tmplcache.New(fragments, tmplcache.WithRegion("tags", tags), tmplcache.WithTagRegion("tags"))
	defer bad.Close()
	failing.fail.Store(true)
	if html, err := bad.Render(ctx, f, tmplcache.RenderOptions{}, render); !errors.Is(err, errBackend) {
		t.Errorf("a failing tag region: %q, %v; want the backend's error", html, err)
	}
	failing.fail.Store(false)
	if html, err := bad.Render(ctx, f, tmplcache.RenderOptions{}, render); err != nil || html != "cached" {
		t.Errorf("the tag region back: %q, %v; want the cached fragment, whose tag was never invalidated", html, err)
	}
}

var errBackend = errors.New("backend down")

// failingBackend fails every read while fail is set.
type failingBackend struct {
	driver.ProxyBackend
	fail atomic.Bool
}

func (b *failingBackend) GetMulti(ctx context.Context, keys []string) ([]driver.CachedValue, error) {
	if b.fail.Load() {
		return nil, errBackend
	}
	return b.ProxyBackend.GetMulti(ctx, keys)
}

// TestTagCapacity: a Cache keeps at most its capacity of tag versions; a
// version dropped is read again when next needed, and retirement still
// works.
func TestTagCapacity(t *testing.T) {
	ctx := context.Background()
	tags, counted := countedRegion(t, false)
	c := tmplcache.New(memRegion(t, time.Hour), tmplcache.WithRegion("tags", tags), tmplcache.WithTagRegion("tags"), tmplcache.WithTagCapacity(4), tmplcache.WithTagRefresh(time.Hour))
	defer c.Close()
	var fs []tmplcache.Fragment
	for i := range 10 {
		fs = append(fs, tmplcache.Fragment{Template: "t.html", Name: "f", Vary: []any{i}, Tags: []string{fmt.Sprint("tag:", i)}})
	}
	r := &cardRenderer{fs: fs, gen: 1}
	if _, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, r.render); err != nil {
		t.Fatal(err)
	}
	counted.take()
	// Hits of the 10 need the versions the table dropped: read again.
	if _, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, r.render); err != nil {
		t.Fatal(err)
	}
	if calls := counted.take(); calls == "none" {
		t.Error("10 tags were kept with a capacity of 4")
	}
	if err := c.InvalidateTags(ctx, "tag:3"); err != nil {
		t.Fatal(err)
	}
	r.take()
	if _, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, r.render); err != nil {
		t.Fatal(err)
	}
	if got := r.take(); !slices.Equal(got, []int{3}) {
		t.Errorf("after InvalidateTags(tag:3) rendered %v, want [3]", got)
	}
}

// TestCloseStopsTheRefresh: Close ends the background refresh; the Cache
// still retires fragments afterwards, reading versions in the foreground.
func TestCloseStopsTheRefresh(t *testing.T) {
	ctx := context.Background()
	tags, counted := countedRegion(t, false)
	c := tmplcache.New(memRegion(t, time.Hour), tmplcache.WithRegion("tags", tags), tmplcache.WithTagRegion("tags"), tmplcache.WithTagRefresh(10*time.Millisecond))
	f := tmplcache.Fragment{Template: "t.html", Name: "f", Tags: []string{"post:7"}}
	mustRender(t, c, ctx, f, func(context.Context) (string, error) { return "x", nil })
	counted.take()
	for counted.take() == "none" { // until the versions are read again
		mustRender(t, c, ctx, f, nil)
		time.Sleep(5 * time.Millisecond) // the refresh runs on a real clock
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	counted.take()
	time.Sleep(50 * time.Millisecond) // five refresh periods
	if calls := counted.take(); calls != "none" {
		t.Errorf("after Close the tag region saw %s", calls)
	}
	if err := c.InvalidateTags(ctx, "post:7"); err != nil {
		t.Fatal(err)
	}
	if html := mustRender(t, c, ctx, f, func(context.Context) (string, error) { return "y", nil }); html != "y" {
		t.Errorf("after Close and InvalidateTags: %q", html)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}

// TestTagsUnderContention: renders, hits and invalidations of many
// fragments and tags from many goroutines, for the race detector; at the
// end every fragment shows the data of its last invalidation.
func TestTagsUnderContention(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour), tmplcache.WithTagRefresh(5*time.Millisecond), tmplcache.WithTagCapacity(8))
	defer c.Close()
	var data [10]atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 300 {
				id := (g + n) % 10
				if n%10 == 0 {
					data[id].Add(1)
					if err := c.InvalidateTags(ctx, fmt.Sprint("post:", id)); err != nil {
						t.Error(err)
					}
					continue
				}
				f := tmplcache.Fragment{Template: "t.html", Name: "f", Vary: []any{id}}
				if _, err := c.Render(ctx, f, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
					tmplcache.AddTags(ctx, fmt.Sprint("post:", id), fmt.Sprint("user:", n%3))
					return fmt.Sprint(data[id].Load()), nil
				}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for id := range 10 {
		f := tmplcache.Fragment{Template: "t.html", Name: "f", Vary: []any{id}}
		html, err := c.Render(ctx, f, tmplcache.RenderOptions{}, func(context.Context) (string, error) { return fmt.Sprint(data[id].Load()), nil })
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint(data[id].Load()); html != want {
			t.Errorf("fragment %d shows %s, want %s", id, html, want)
		}
	}
}

// TestInvalidationWhileRendering: a tag invalidated while a fragment
// renders, after the fragment read the data the tag stands for but before
// it declared or added the tag, retires the fragment on its next read,
// whether the invalidation came from this process or another: the entry
// never records a version newer than its rendering's start. Without that,
// the entry would keep the old data under the new version until it
// expired.
func TestInvalidationWhileRendering(t *testing.T) {
	ctx := context.Background()
	for _, where := range []string{"this process", "another process"} {
		for _, how := range []string{"AddTags", "declared by an inner fragment", "declared by a collection item", "added by a collection item"} {
			t.Run(where+"/"+how, func(t *testing.T) {
				region := memRegion(t, time.Hour)
				c := tmplcache.New(region)
				defer c.Close()
				writer := c
				if where == "another process" {
					writer = tmplcache.New(region)
					defer writer.Close()
				}
				var title atomic.Value
				title.Store("old")
				// The first rendering reads the title, then an editor saves
				// a new one and retires the tag, then the fragment names it.
				var saved atomic.Bool
				edit := func() {
					if saved.CompareAndSwap(false, true) {
						title.Store("new")
						if err := writer.InvalidateTags(ctx, "post:1"); err != nil {
							t.Error(err)
						}
					}
				}
				tagged := func(ctx context.Context, read string) (string, error) {
					switch how {
					case "AddTags":
						tmplcache.AddTags(ctx, "post:1")
						return read, nil
					case "added by a collection item":
						items := []tmplcache.Fragment{{Template: "t.html", Name: "item", Vary: []any{1}}}
						out, err := c.RenderEach(ctx, items, tmplcache.RenderOptions{}, func(ctx context.Context, _ int) (string, error) {
							tmplcache.AddTags(ctx, "post:1")
							return read, nil
						})
						return strings.Join(out, ""), err
					case "declared by an inner fragment":
						inner := tmplcache.Fragment{Template: "t.html", Name: "inner", Tags: []string{"post:1"}}
						return c.Render(ctx, inner, tmplcache.RenderOptions{}, func(context.Context) (string, error) { return read, nil })
					default:
						items := []tmplcache.Fragment{{Template: "t.html", Name: "item", Vary: []any{1}, Tags: []string{"post:1"}}}
						out, err := c.RenderEach(ctx, items, tmplcache.RenderOptions{}, func(context.Context, int) (string, error) { return read, nil })
						return strings.Join(out, ""), err
					}
				}
				outer := tmplcache.Fragment{Template: "t.html", Name: "outer"}
				render := func() string {
					return mustRender(t, c, ctx, outer, func(ctx context.Context) (string, error) {
						read := title.Load().(string)
						edit()
						return tagged(ctx, read)
					})
				}
				if got := render(); got != "old" {
					t.Fatalf("first rendering: %s", got)
				}
				if got := render(); got != "new" {
					t.Errorf("after the edit during the first rendering: %s, want new", got)
				}
				if got := render(); got != "new" {
					t.Errorf("then: %s", got)
				}
			})
		}
	}
}
