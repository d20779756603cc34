package tmplcache_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/tmplcache"
)

func memRegion(t testing.TB, exp time.Duration, opts ...dogpile.Option) *dogpile.Region {
	t.Helper()
	r := dogpile.NewRegion(opts...)
	if err := r.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: exp}); err != nil {
		t.Fatal(err)
	}
	return r
}

// stored reports whether r holds a fresh entry under key.
func stored(t testing.TB, r *dogpile.Region, key string) bool {
	t.Helper()
	_, ok, err := dogpile.Get[any](context.Background(), r, key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestKeysAreUnambiguous(t *testing.T) {
	c := tmplcache.New(nil)
	base := tmplcache.Fragment{Template: "t.html", Name: "f"}
	with := func(mod func(*tmplcache.Fragment)) string {
		f := base
		mod(&f)
		return c.Key(f)
	}
	keys := map[string]string{
		"base":          c.Key(base),
		"vary a: b":     with(func(f *tmplcache.Fragment) { f.Vary = []any{"a:", "b"} }),
		"vary a :b":     with(func(f *tmplcache.Fragment) { f.Vary = []any{"a", ":b"} }),
		"vary 1":        with(func(f *tmplcache.Fragment) { f.Vary = []any{1} }),
		"vary 1.0":      with(func(f *tmplcache.Fragment) { f.Vary = []any{1.0} }),
		"vary [1]":      with(func(f *tmplcache.Fragment) { f.Vary = []any{[]int{1}} }),
		"vary a b":      with(func(f *tmplcache.Fragment) { f.Vary = []any{"a b"} }),
		"vary a, b":     with(func(f *tmplcache.Fragment) { f.Vary = []any{"a", "b"} }),
		"escape raw":    with(func(f *tmplcache.Fragment) { f.Escape = "raw" }),
		"digest":        with(func(f *tmplcache.Fragment) { f.Digest = tmplcache.Digest("<p>x</p>") }),
		"other name":    with(func(f *tmplcache.Fragment) { f.Name = "g" }),
		"name with :":   with(func(f *tmplcache.Fragment) { f.Template, f.Name = "t.html:f", "" }),
		"explicit key":  with(func(f *tmplcache.Fragment) { f.Key = "t.html:f" }),
		"other tmpl":    with(func(f *tmplcache.Fragment) { f.Template = "u.html" }),
		"explicit+raw":  with(func(f *tmplcache.Fragment) { f.Key, f.Escape = "t.html:f", "raw" }),
		"vary nil":      with(func(f *tmplcache.Fragment) { f.Vary = []any{nil} }),
		"vary empty":    with(func(f *tmplcache.Fragment) { f.Vary = []any{""} }),
		"vary two nils": with(func(f *tmplcache.Fragment) { f.Vary = []any{nil, nil} }),
	}
	seen := map[string]string{}
	for what, k := range keys {
		if other, dup := seen[k]; dup {
			t.Errorf("%s and %s share key %s", what, other, k)
		}
		seen[k] = what
	}
	if k := keys["base"]; !strings.HasPrefix(k, "tmpl:t.html:f:") || len(k) != len("tmpl:t.html:f:")+32 {
		t.Errorf("key %q lacks the readable prefix or the 32-digit hash", k)
	}
	if c.Key(base) != keys["base"] {
		t.Error("keys are not stable")
	}
	// Scalars are compared by their text: 1 and "1" are one vary value.
	if k := with(func(f *tmplcache.Fragment) { f.Vary = []any{"1"} }); k != keys["vary 1"] {
		t.Errorf(`vary "1" has key %s, vary 1 %s; want one key`, k, keys["vary 1"])
	}
}

func TestKeysFitMemcached(t *testing.T) {
	long := strings.Repeat("très long nom ", 100)
	for _, prefix := range []string{"site", strings.Repeat("p", 48)} {
		c := tmplcache.New(nil, tmplcache.WithPrefix(prefix))
		for _, f := range []tmplcache.Fragment{
			{Template: long, Name: long, Vary: []any{long}},
			{Key: long + "\r\nflush_all\r\n"},
			{Template: "a b\tc.html", Name: "side bar"},
		} {
			k := c.Key(f)
			if len(k) > 250 || strings.ContainsAny(k, " \t\r\n") || !strings.HasPrefix(k, prefix+":") {
				t.Errorf("key %q (%d bytes) does not fit Memcached", k, len(k))
			}
			for _, r := range k {
				if r < 0x21 || r > 0x7e {
					t.Errorf("key %q has byte %q", k, r)
				}
			}
		}
	}
}

// TestPrefixErrors: a prefix that could not start every key (empty, too
// long for Memcached's 250 bytes, a ':' that would end it early, a space)
// is an error of every call, not keys that break.
func TestPrefixErrors(t *testing.T) {
	ctx := context.Background()
	region := memRegion(t, time.Hour)
	for _, prefix := range []string{"", strings.Repeat("p", 49), "site:v2", "my site", "pré"} {
		c := tmplcache.New(region, tmplcache.WithPrefix(prefix))
		_, err := c.Render(ctx, tmplcache.Fragment{Template: "t.html", Name: "f"}, tmplcache.RenderOptions{}, func(context.Context) (string, error) { return "x", nil })
		if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), "WithPrefix") {
			t.Errorf("WithPrefix(%q): Render error %v, want one wrapping ErrInvalidArgument that names WithPrefix", prefix, err)
		}
		if err := c.InvalidateTags(ctx, "t"); !errors.Is(err, dogpile.ErrInvalidArgument) {
			t.Errorf("WithPrefix(%q): InvalidateTags error %v", prefix, err)
		}
		c.Close()
	}
}

func TestNormalizeName(t *testing.T) {
	root := t.TempDir()
	abs := filepath.Join(root, "blog", "post.html")
	for _, tc := range []struct{ name, want string }{
		{abs, "blog/post.html"},
		{filepath.Join(root, "blog", "..", "blog", "post.html"), "blog/post.html"},
		{"blog/post.html", "blog/post.html"},
		{"./blog//post.html", "blog/post.html"},
		{"<string>", "<string>"},
		{"", ""},
		{"/elsewhere/x.html", "/elsewhere/x.html"},
	} {
		if got := tmplcache.NormalizeName(tc.name, root); got != tc.want {
			t.Errorf("NormalizeName(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	c := tmplcache.New(nil, tmplcache.WithRoots(root))
	f := tmplcache.Fragment{Name: "side"}
	f.Template = abs
	k1 := c.Key(f)
	f.Template = "blog/post.html"
	if k2 := c.Key(f); k1 != k2 {
		t.Errorf("absolute and relative names give %s and %s", k1, k2)
	}
}

func TestKeyForAndInvalidate(t *testing.T) {
	ctx := context.Background()
	local := memRegion(t, time.Hour)
	c := tmplcache.New(memRegion(t, time.Hour), tmplcache.WithRegion("local", local))
	c.DeclareEscape("raw")
	digest := tmplcache.Digest("<aside>{{ user }}</aside>")
	c.Declare(tmplcache.Declaration{Template: "post.html", Name: "sidebar", Digest: digest, Region: "local"})

	if _, err := c.KeyFor("post.html", "nope"); !errors.Is(err, tmplcache.ErrUnknownFragment) {
		t.Errorf("KeyFor of an undeclared fragment: %v", err)
	}
	key, err := c.KeyFor("post.html", "sidebar", 7)
	if err != nil {
		t.Fatal(err)
	}
	if want := c.Key(tmplcache.Fragment{Template: "post.html", Name: "sidebar", Digest: digest, Vary: []any{7}}); key != want {
		t.Errorf("KeyFor = %s, want the key Render uses, %s", key, want)
	}
	renders := 0
	render := func(context.Context) (string, error) {
		renders++
		return fmt.Sprintf("<aside>%d</aside>", renders), nil
	}
	for _, esc := range []string{"", "raw"} {
		f := tmplcache.Fragment{Template: "post.html", Name: "sidebar", Digest: digest, Vary: []any{7}, Escape: esc}
		if _, err := c.Render(ctx, f, tmplcache.RenderOptions{Region: "local"}, render); err != nil {
			t.Fatal(err)
		}
	}
	other := tmplcache.Fragment{Template: "post.html", Name: "sidebar", Digest: digest, Vary: []any{8}}
	_, _ = c.Render(ctx, other, tmplcache.RenderOptions{Region: "local"}, render)
	if renders != 3 {
		t.Fatalf("%d renders", renders)
	}
	if err := c.Invalidate(ctx, "post.html", "sidebar", 7); err != nil {
		t.Fatal(err)
	}
	for _, esc := range []string{"", "raw"} {
		f := tmplcache.Fragment{Template: "post.html", Name: "sidebar", Digest: digest, Vary: []any{7}, Escape: esc}
		if stored(t, local, c.Key(f)) {
			t.Errorf("escape %q variant survived Invalidate", esc)
		}
	}
	if !stored(t, local, c.Key(other)) {
		t.Error("Invalidate deleted another vary value")
	}

	// Explicit keys.
	_, _ = c.Render(ctx, tmplcache.Fragment{Key: "home:news"}, tmplcache.RenderOptions{}, render)
	def, _ := c.Region("")
	if err := c.InvalidateKey(ctx, "", "home:news"); err != nil {
		t.Fatal(err)
	}
	if stored(t, def, c.Key(tmplcache.Fragment{Key: "home:news"})) {
		t.Error("InvalidateKey left the fragment")
	}
}

func TestRenderOncePerExpiry(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour))
	var renders atomic.Int64
	started, release := make(chan struct{}), make(chan struct{})
	render := func(context.Context) (string, error) {
		if renders.Add(1) == 1 {
			close(started)
		}
		<-release
		return "<p>slow</p>", nil
	}
	f := tmplcache.Fragment{Template: "page.html", Name: "slow"}
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			html, err := c.Render(ctx, f, tmplcache.RenderOptions{}, render)
			if err != nil || html != "<p>slow</p>" {
				t.Errorf("%q, %v", html, err)
			}
		})
	}
	<-started
	close(release)
	wg.Wait()
	if n := renders.Load(); n != 1 {
		t.Errorf("rendered %d times", n)
	}
}

func TestRenderRecursionIsAnError(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour))
	outer := tmplcache.Fragment{Template: "page.html", Name: "outer"}
	inner := tmplcache.Fragment{Template: "page.html", Name: "inner"}
	done := make(chan error, 1)
	go func() {
		_, err := c.Render(ctx, outer, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
			in, err := c.Render(ctx, inner, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
				return c.Render(ctx, outer, tmplcache.RenderOptions{}, func(context.Context) (string, error) { return "loop", nil })
			})
			return "<div>" + in + "</div>", err
		})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, tmplcache.ErrRecursion) {
			t.Errorf("got %v, want ErrRecursion", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a fragment rendering itself deadlocked")
	}
	// Russian-doll nesting of different fragments works.
	html, err := c.Render(ctx, outer, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
		in, err := c.Render(ctx, inner, tmplcache.RenderOptions{}, func(context.Context) (string, error) { return "<i>in</i>", nil })
		return "<div>" + in + "</div>", err
	})
	if err != nil || html != "<div><i>in</i></div>" {
		t.Errorf("nested: %q, %v", html, err)
	}
}

func TestRenderExpires(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := tmplcache.New(memRegion(t, time.Hour, dogpile.WithClock(clock)))
	n := 0
	render := func(context.Context) (string, error) { n++; return fmt.Sprint(n), nil }
	f := tmplcache.Fragment{Template: "t", Name: "short"}
	g := tmplcache.Fragment{Template: "t", Name: "never"}
	h := tmplcache.Fragment{Template: "t", Name: "default"}
	short, never := tmplcache.RenderOptions{Expires: time.Minute}, tmplcache.RenderOptions{Expires: -1}
	_, _ = c.Render(ctx, f, short, render)
	_, _ = c.Render(ctx, g, never, render)
	_, _ = c.Render(ctx, h, tmplcache.RenderOptions{}, render)
	// Any negative duration means never, as -1 does.
	k := tmplcache.Fragment{Template: "t", Name: "never too"}
	neverToo := tmplcache.RenderOptions{Expires: -5 * time.Minute}
	kn := 0
	renderK := func(context.Context) (string, error) { kn++; return fmt.Sprint("k", kn), nil }
	if _, err := c.Render(ctx, k, neverToo, renderK); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	a, _ := c.Render(ctx, f, short, render)
	b, _ := c.Render(ctx, g, never, render)
	d, _ := c.Render(ctx, h, tmplcache.RenderOptions{}, render)
	if a != "4" || b != "2" || d != "3" {
		t.Errorf("after 2 min: expires=1m %q (want re-rendered 4), never %q (want 2), default 1h %q (want 3)", a, b, d)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	b, _ = c.Render(ctx, g, never, render)
	d, _ = c.Render(ctx, h, tmplcache.RenderOptions{}, render)
	kv, err := c.Render(ctx, k, neverToo, renderK)
	if b != "2" || d != "5" || kv != "k1" || err != nil {
		t.Errorf("after 2 h: never %q (want 2), default 1h %q (want re-rendered 5), expires=-5m %q, %v (want k1)", b, d, kv, err)
	}
}

func TestFromConfig(t *testing.T) {
	ctx := context.Background()
	config := map[string]any{
		"cache.default.backend":          "dogpile.cache.memory",
		"cache.default.expiration_time":  "60",
		"cache.local.backend":            "dogpile.cache.memory_pickle",
		"cache.local.expiration_time":    "300",
		"other.thing":                    "ignored",
		"cache.local.arguments.whatever": "x",
	}
	if _, err := tmplcache.FromConfig(config, "cache."); err == nil || !strings.Contains(err.Error(), "whatever") {
		t.Errorf("unknown backend argument: %v", err)
	}
	delete(config, "cache.local.arguments.whatever")
	var observed []string
	obs := observe.Func(func(_ context.Context, e observe.Event) { observed = append(observed, e.Region+" "+e.Op.String()) })
	c, err := tmplcache.FromConfig(config, "cache.", tmplcache.WithRegionOptions(dogpile.WithObserver(obs)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer func() {
		if want := "[local create local get_or_create default invalidate local invalidate]"; fmt.Sprint(observed) != want {
			t.Errorf("regions built from the configuration observed %v, want %s", observed, want)
		}
	}()
	if got := fmt.Sprint(c.RegionNames()); got != "[ local]" {
		t.Errorf("regions %s", got)
	}
	local, _ := c.Region("local")
	if local.ExpirationTime() != 300*time.Second || local.Name() != "local" {
		t.Errorf("local region: %v %q", local.ExpirationTime(), local.Name())
	}
	html, err := c.Render(ctx, tmplcache.Fragment{Template: "t", Name: "f"}, tmplcache.RenderOptions{Region: "local"},
		func(context.Context) (string, error) { return "<b>x</b>", nil })
	if err != nil || html != "<b>x</b>" {
		t.Errorf("%q %v", html, err)
	}
	if _, err := c.Region("memcached"); !errors.Is(err, tmplcache.ErrUnknownRegion) {
		t.Errorf("unknown region: %v", err)
	}
	if _, err := tmplcache.FromConfig(map[string]any{"cache.local.backend": "dogpile.cache.memory"}, "cache."); err == nil {
		t.Error("a configuration without a default region was accepted")
	}
	if err := c.InvalidateAll(ctx, true); err != nil {
		t.Error(err)
	}
}

func TestFragmentInContext(t *testing.T) {
	var seen []string
	obs := observe.Func(func(ctx context.Context, e observe.Event) {
		if f, ok := tmplcache.FragmentFromContext(ctx); ok {
			seen = append(seen, fmt.Sprintf("%s %s/%s", e.Op, f.Template, f.Name))
		}
	})
	c := tmplcache.New(memRegion(t, time.Hour, dogpile.WithObserver(obs)))
	f := tmplcache.Fragment{Template: "post.html", Name: "sidebar"}
	for range 2 {
		if _, err := c.Render(context.Background(), f, tmplcache.RenderOptions{}, func(context.Context) (string, error) { return "x", nil }); err != nil {
			t.Fatal(err)
		}
	}
	if want := "[create post.html/sidebar get_or_create post.html/sidebar get_or_create post.html/sidebar]"; fmt.Sprint(seen) != want {
		t.Errorf("observer saw %v, want %s", seen, want)
	}
	if _, ok := tmplcache.FragmentFromContext(context.Background()); ok {
		t.Error("fragment in a plain context")
	}
}

// panicky has a String method that panics.
type panicky struct{ id int }

func (p panicky) String() string { panic(fmt.Sprint("no text for ", p.id)) }

// worse panics with a value whose Error method panics too, which fmt does
// not recover from.
type worse struct{}

func (worse) String() string { panic(worseErr{}) }

type worseErr struct{}

func (worseErr) Error() string { panic("again") }

// embedsURL has the String method of a nil *url.URL it embeds.
type embedsURL struct{ *url.URL }

func TestVaryValuesWithoutAKey(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour))
	c.Declare(tmplcache.Declaration{Template: "t.html", Name: "f"})
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	type node struct{ Next *node }
	loop := &node{}
	loop.Next = loop
	cyclicSlice := []any{nil}
	cyclicSlice[0] = cyclicSlice
	type withTime struct{ at time.Time }
	type withStringer struct{ u *url.URL }
	wide := any(1)
	for range 15 {
		wide = []any{wide, wide, wide, wide} // 4^15 values, if written out
	}
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"cyclic map", cyclic},
		{"cyclic pointers", loop},
		{"cyclic slice", cyclicSlice},
		{"cycle deep down", []any{1, []any{2, map[string]any{"x": cyclic}}}},
		{"shared parts", wide},
		{"two keys of one text", map[any]int{7: 1, "7": 2}},
		{"two keys of one text inside", []any{map[any]bool{true: true, "True": false}}},
		{"channel", make(chan int)},
		{"function", func() {}},
		{"unexported time.Time", withTime{time.Unix(0, 0)}},
		{"unexported Stringer", withStringer{&url.URL{Host: "x"}}},
		{"many values", make([]int, 20000)},
		{"long text", []string{strings.Repeat("x", 1<<20+1)}},
		{"long string", strings.Repeat("x", 1<<20+1)},
		{"String panics", panicky{1}},
		{"String panics inside", []any{panicky{2}}},
		{"panic fmt cannot recover", worse{}},
		{"promoted String of a nil pointer", embedsURL{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tmplcache.Fragment{Template: "t.html", Name: "f", Vary: []any{"ok", tc.v}}
			if k := c.Key(f); k != "" {
				t.Errorf("Key = %q, want none", k)
			}
			renders := 0
			_, err := c.Render(ctx, f, tmplcache.RenderOptions{}, func(context.Context) (string, error) { renders++; return "x", nil })
			if !errors.Is(err, tmplcache.ErrVaryValue) || renders != 0 || !strings.Contains(err.Error(), "value 2 ") {
				t.Errorf("Render: %v after %d renders, want ErrVaryValue naming value 2", err, renders)
			}
			if _, err := c.KeyFor("t.html", "f", tc.v); !errors.Is(err, tmplcache.ErrVaryValue) {
				t.Errorf("KeyFor: %v", err)
			}
			if err := c.Invalidate(ctx, "t.html", "f", tc.v); !errors.Is(err, tmplcache.ErrVaryValue) {
				t.Errorf("Invalidate: %v", err)
			}
		})
	}
}

func TestVaryValuesWithAKey(t *testing.T) {
	c := tmplcache.New(nil)
	shared := map[string]int{"a": 1}
	nested := any(1)
	for range 5000 { // no bound on depth but the number of values
		nested = []any{nested}
	}
	values := map[string]any{
		"empty url.URL":       &url.URL{},
		"url.URL":             &url.URL{Scheme: "https", Host: "example.com"},
		"nil":                 nil,
		"5000 lists deep":     nested,
		"shared parts":        []any{shared, shared, shared},
		"time":                time.Unix(1_700_000_000, 0).UTC(),
		"struct":              struct{ A, B string }{"a b", "c"},
		"struct other split":  struct{ A, B string }{"a", "b c"},
		"list":                []string{"a b"},
		"list other split":    []string{"a", "b"},
		"true":                true,
		"float":               2.5,
		"error":               errors.New("boom"),
		"nil *url.URL inside": []*url.URL{nil},
	}
	seen := map[string]string{}
	for what, v := range values {
		k := c.Key(tmplcache.Fragment{Template: "t.html", Name: "f", Vary: []any{v}})
		if k == "" {
			t.Errorf("%s: no key", what)
			continue
		}
		if other, dup := seen[k]; dup {
			t.Errorf("%s and %s share key %s", what, other, k)
		}
		seen[k] = what
	}
	// Scalars are compared by their canonical text, and nil pointers are
	// nil.
	for _, pair := range [][2]any{
		{nil, (*url.URL)(nil)},
		{true, "True"},
		{[]*url.URL{nil}, []any{nil}},
		{errors.New("boom"), "boom"},
	} {
		k0 := c.Key(tmplcache.Fragment{Template: "t.html", Name: "f", Vary: []any{pair[0]}})
		k1 := c.Key(tmplcache.Fragment{Template: "t.html", Name: "f", Vary: []any{pair[1]}})
		if k0 == "" || k0 != k1 {
			t.Errorf("%#v and %#v have keys %q and %q; want one key", pair[0], pair[1], k0, k1)
		}
	}
}
