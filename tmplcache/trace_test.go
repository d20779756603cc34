package tmplcache_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/tmplcache"
)

// traceText writes a trace as "name(key):r" levels, r for a rendering,
// c for a region call, with the item count of a collection's call.
func traceText(c *tmplcache.Cache, levels []tmplcache.Level) string {
	var parts []string
	for _, l := range levels {
		kind := "c"
		if l.Rendering {
			kind = "r"
		}
		name := l.Fragment.Name
		if len(l.Fragment.Vary) > 0 {
			name += fmt.Sprint(l.Fragment.Vary...)
		}
		if l.Items > 0 {
			kind += fmt.Sprint(l.Items)
		}
		if want := c.Key(l.Fragment); l.Key != want {
			name += "!badkey(" + l.Key + ")"
		}
		parts = append(parts, name+":"+kind)
	}
	return strings.Join(parts, " ")
}

// TestTrace: Trace names the fragments being rendered around a context,
// outermost first, then the fragment or collection whose region call the
// context belongs to, with their keys; an item's rendering follows the
// fragment around its collection.
func TestTrace(t *testing.T) {
	ctx := context.Background()
	if got := tmplcache.Trace(ctx); got != nil {
		t.Fatalf("Trace of a plain context: %v", got)
	}
	var (
		mu       sync.Mutex
		observed []string
		c        *tmplcache.Cache
	)
	obs := observe.Func(func(ctx context.Context, e observe.Event) {
		if e.Op != observe.OpGetOrCreate && e.Op != observe.OpGetOrCreateMulti && e.Op != observe.OpCreate {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		observed = append(observed, e.Op.String()+" "+traceText(c, tmplcache.Trace(ctx)))
	})
	c = tmplcache.New(memRegion(t, time.Hour, dogpile.WithObserver(obs)))
	defer c.Close()
	var inside []string
	note := func(ctx context.Context) { inside = append(inside, traceText(c, tmplcache.Trace(ctx))) }
	outer := tmplcache.Fragment{Template: "page.html", Name: "outer"}
	inner := tmplcache.Fragment{Template: "page.html", Name: "inner"}
	leaf := tmplcache.Fragment{Template: "card.html", Name: "leaf"}
	items := []tmplcache.Fragment{{Template: "card.html", Name: "card", Vary: []any{1}}, {Template: "card.html", Name: "card", Vary: []any{2}}}
	html, err := c.Render(ctx, outer, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
		note(ctx)
		a, err := c.Render(ctx, inner, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
			note(ctx)
			return "in", nil
		})
		if err != nil {
			return "", err
		}
		out, err := c.RenderEach(ctx, items, tmplcache.RenderOptions{}, func(ctx context.Context, i int) (string, error) {
			note(ctx)
			if i > 0 {
				return "card", nil
			}
			return c.Render(ctx, leaf, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
				note(ctx)
				return "leaf", nil
			})
		})
		return a + strings.Join(out, ""), err
	})
	if err != nil || html != "inleafcard" {
		t.Fatalf("rendered %q, %v", html, err)
	}
	wantInside := []string{
		"outer:r",
		"outer:r inner:r",
		"outer:r card1:r",
		"outer:r card1:r leaf:r",
		"outer:r card2:r",
	}
	if !slices.Equal(inside, wantInside) {
		t.Errorf("inside the renderings:\n%s\nwant\n%s", strings.Join(inside, "\n"), strings.Join(wantInside, "\n"))
	}
	wantObserved := []string{
		"create outer:r inner:c",
		"get_or_create outer:r inner:c",
		"create outer:r card1:r leaf:c",
		"get_or_create outer:r card1:r leaf:c",
		"create outer:r card1:c2",
		"get_or_create_multi outer:r card1:c2",
		"create outer:c",
		"get_or_create outer:c",
	}
	if !slices.Equal(observed, wantObserved) {
		t.Errorf("observed:\n%s\nwant\n%s", strings.Join(observed, "\n"), strings.Join(wantObserved, "\n"))
	}
}

// TestTraceFullKey: the key of a collection's level is its first item's
// FullKey when the engine gave one.
func TestTraceFullKey(t *testing.T) {
	ctx := context.Background()
	var got []tmplcache.Level
	obs := observe.Func(func(ctx context.Context, e observe.Event) {
		if e.Op == observe.OpGetOrCreateMulti {
			got = tmplcache.Trace(ctx)
		}
	})
	c := tmplcache.New(memRegion(t, time.Hour, dogpile.WithObserver(obs)))
	defer c.Close()
	fs := []tmplcache.Fragment{{Template: "a.html", Name: "x", FullKey: "tmpl:a.html:x:0123456789abcdef0123456789abcdef"}}
	if _, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, func(context.Context, int) (string, error) { return "", nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Key != fs[0].FullKey || got[0].Items != 1 || got[0].Rendering {
		t.Errorf("Trace %+v", got)
	}
}

// TestKeyName: the names KeyName reads from the keys of fragments and of
// tag versions, as the Cache writes them, and the keys it refuses.
func TestKeyName(t *testing.T) {
	ctx := context.Background()
	region, counted := countedRegion(t, false)
	c := tmplcache.New(region)
	defer c.Close()
	for _, tc := range []struct {
		f    tmplcache.Fragment
		want string
	}{
		{tmplcache.Fragment{Template: "blog/post.html", Name: "sidebar", Vary: []any{7}}, "blog/post.html:sidebar"},
		{tmplcache.Fragment{Template: "post.html", Name: tmplcache.PositionalName(2)}, "post.html:#2"},
		{tmplcache.Fragment{Template: "café.html", Name: "a b"}, "caf_.html:a_b"},
		{tmplcache.Fragment{Key: "menu:fr"}, "k:menu:fr"},
	} {
		name, tag, ok := tmplcache.KeyName(c.Key(tc.f))
		if name != tc.want || tag || !ok {
			t.Errorf("KeyName(%q) = %q, %v, %v; want %q", c.Key(tc.f), name, tag, ok, tc.want)
		}
	}
	long := strings.Repeat("x", 200)
	tags := []string{"post:7", "héllo wörld", long, "x:0123456789abcdef0123456789abcdef"}
	if err := c.InvalidateTags(ctx, tags...); err != nil {
		t.Fatal(err)
	}
	written := counted.writtenKeys()
	if len(written) != len(tags) {
		t.Fatalf("InvalidateTags wrote %q", written)
	}
	var names []string
	for _, k := range written {
		name, tag, ok := tmplcache.KeyName(k)
		if !tag || !ok {
			t.Errorf("KeyName(%q): not a tag", k)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	want := []string{"h_llo_w_rld", "post:7", "x:0123456789abcdef0123456789abcdef", long[:160]}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("tag names %q, want %q", names, want)
	}
	for _, k := range []string{"", "plain", "tmpl:", "tmpl:tag:", "tmpl:other", "tmpl:tag:a~zz", "tmpl:tag:a~0123456789abcdef0123456789abcdeg",
		"tmpl::0123456789abcdef0123456789abcdef", "blog.store:Post|3"} {
		if name, tag, ok := tmplcache.KeyName(k); ok {
			t.Errorf("KeyName(%q) = %q, %v, true; want not ok", k, name, tag)
		}
	}
}
