package pongo2ext_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/pongo2ext"
	"github.com/dogpilego/dogpile/tmplcache"
)

// env is a template set with a Cache over memory regions on a fake clock,
// an observer that records the keys regions are asked for, and a counter
// templates call as {{ count("what") }}.
type env struct {
	t      testing.TB
	now    atomic.Int64 // unix nanoseconds
	cache  *tmplcache.Cache
	set    *pongo2.TemplateSet
	loader pongo2.TemplateLoader
	dir    string

	mu     sync.Mutex
	counts map[string]int
	keys   []string       // of get_or_create calls, in order
	ctxVal []any          // ctxKey's value in the observers' contexts
	calls  map[string]int // backend calls by region and method: "local.GetMulti"
}

type ctxKey struct{}

type envConfig struct {
	dir     string // templates; "" for none
	files   map[string]string
	noRoots bool
	mako    bool
	quiet   bool // no observer: regions take their fastest hit path
}

func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	e := &env{t: t, counts: map[string]int{}, calls: map[string]int{}}
	e.now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	obs := observe.Func(func(ctx context.Context, ev observe.Event) {
		if ev.Op != observe.OpGetOrCreate && ev.Op != observe.OpGetOrCreateMulti {
			return
		}
		e.mu.Lock()
		e.keys = append(e.keys, ev.Keys...)
		e.ctxVal = append(e.ctxVal, ctx.Value(ctxKey{}))
		e.mu.Unlock()
	})
	region := func(name string) *dogpile.Region {
		opts := []dogpile.Option{dogpile.WithName(name),
			dogpile.WithClock(func() time.Time { return time.Unix(0, e.now.Load()) })}
		if !cfg.quiet {
			opts = append(opts, dogpile.WithObserver(obs))
		}
		r := dogpile.NewRegion(opts...)
		var wrap []driver.Proxy
		if !cfg.quiet {
			wrap = append(wrap, func(next driver.Backend) driver.Backend {
				return &countingBackend{ProxyBackend: driver.ProxyBackend{Next: next}, e: e, region: name}
			})
		}
		if err := r.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour, Wrap: wrap}); err != nil {
			t.Fatal(err)
		}
		return r
	}
	e.dir = cfg.dir
	if e.dir == "" {
		e.dir = t.TempDir()
	}
	for name, src := range cfg.files {
		e.write(name, src)
	}
	var loader pongo2.TemplateLoader = pongo2.MustNewLocalFileSystemLoader(e.dir)
	if cfg.mako {
		loader = pongo2ext.MakoLoader(loader)
	}
	e.loader = loader
	opts := []tmplcache.Option{tmplcache.WithRegion("local", region("local")), tmplcache.WithRegion("memcached", region("memcached"))}
	if !cfg.noRoots {
		opts = append(opts, pongo2ext.LoaderRoots(loader))
	}
	e.cache = tmplcache.New(region("default"), opts...)
	e.set = e.newSet()
	return e
}

// newSet returns a fresh set on the env's directory, sharing its Cache.
func (e *env) newSet() *pongo2.TemplateSet {
	set := pongo2.NewSet(e.t.Name(), e.loader)
	set.Globals["count"] = func(what string) string {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.counts[what]++
		return fmt.Sprintf("%s#%d", what, e.counts[what])
	}
	pongo2ext.Install(set, e.cache)
	return set
}

func (e *env) write(name, src string) {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// countingBackend counts the calls a region makes to its backend.
type countingBackend struct {
	driver.ProxyBackend
	e      *env
	region string
}

func (b *countingBackend) inc(method string) {
	b.e.mu.Lock()
	b.e.calls[b.region+"."+method]++
	b.e.mu.Unlock()
}

func (b *countingBackend) Get(ctx context.Context, key string) (driver.CachedValue, bool, error) {
	b.inc("Get")
	return b.ProxyBackend.Get(ctx, key)
}

func (b *countingBackend) GetMulti(ctx context.Context, keys []string) ([]driver.CachedValue, error) {
	b.inc("GetMulti")
	return b.ProxyBackend.GetMulti(ctx, keys)
}

func (b *countingBackend) Set(ctx context.Context, key string, v driver.CachedValue) error {
	b.inc("Set")
	return b.ProxyBackend.Set(ctx, key, v)
}

func (b *countingBackend) SetMulti(ctx context.Context, items []driver.Item) error {
	b.inc("SetMulti")
	return b.ProxyBackend.SetMulti(ctx, items)
}

// backendCalls returns the calls counted so far and resets the counts.
func (e *env) backendCalls() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	calls := e.calls
	e.calls = map[string]int{}
	return calls
}

func (e *env) count(what string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts[what]
}

func (e *env) observedKeys() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.keys)
}

func (e *env) advance(d time.Duration) { e.now.Add(int64(d)) }

func (e *env) parse(src string) *pongo2.Template {
	e.t.Helper()
	tpl, err := e.set.FromString(src)
	if err != nil {
		e.t.Fatalf("parsing %q: %v", src, err)
	}
	return tpl
}

func render(t testing.TB, tpl *pongo2.Template, data pongo2.Context) string {
	t.Helper()
	out, err := tpl.Execute(data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// uncached replaces the cached tags by {% with %}, which renders its body
// in a child context as {% cached %} does, for the uncached reference.
func uncached(src string) string {
	src = startTag.ReplaceAllString(src, "{%${1} with uncached_ref=1 ${2}%}")
	return endTag.ReplaceAllString(src, "{%${1} endwith ${2}%}")
}

var (
	startTag = regexp.MustCompile(`\{%(-?) cached [^%]*?(-?)%\}`)
	endTag   = regexp.MustCompile(`\{%(-?) endcached (-?)%\}`)
)

func TestHitAndMissMatchUncachedOutput(t *testing.T) {
	data := pongo2.Context{
		"html":  `<script>alert("x")</script> & 'q'`,
		"items": []string{"<a>", "b&", `"c"`},
	}
	for _, tc := range []struct {
		name, src  string
		autoescape bool // pongo2.SetAutoescape
	}{
		{"escaped", `<p>{% cached "f1" %}<i>{{ html }}</i>{% endcached %}</p>`, true},
		{"safe filter", `{% cached "f2" %}{{ html|safe }}|{{ html|upper }}{% endcached %}`, true},
		{"loop inside", `{% cached "f3" %}{% for i in items %}{{ forloop.Counter }}={{ i }};{% endfor %}{% endcached %}`, true},
		{"inside a loop", `{% for i in items %}{% cached "f4" i %}[{{ forloop.Counter }}{{ i }}]{% endcached %}{% endfor %}`, true},
		{"autoescape off tag", `{% autoescape off %}{% cached "f5" %}<i>{{ html }}</i>{% endcached %}{% endautoescape %}{{ html }}`, true},
		{"autoescape on tag", `{% autoescape on %}{% cached "f6" %}{{ html }}{% endcached %}{% endautoescape %}`, false},
		{"global autoescape off", `{% cached "f7" %}<i>{{ html }}</i>{% endcached %}{{ html }}`, false},
		{"trim whitespace", "a  {%- cached \"f8\" -%}  \n <b>{{ html }}</b>  {%- endcached -%}  z", true},
		{"with and set", `{% with x="<w>" %}{% cached "f9" %}{% set y = x %}{{ y }}{% endcached %}{{ y }}{% endwith %}`, true},
		{"nested", `{% cached "f10" %}({% cached "f11" %}{{ html }}{% endcached %}){% endcached %}`, true},
		{"nameless", `<p>{% cached %}<i>{{ html }}</i>{% endcached %}</p>`, true},
		{"nameless inside a loop", `{% for i in items %}{% cached i %}[{{ forloop.Counter }}{{ i }}]{% endcached %}{% endfor %}`, true},
		{"nameless autoescape off", `{% autoescape off %}{% cached %}<i>{{ html }}</i>{% endcached %}{% endautoescape %}{{ html }}`, true},
		{"nameless global autoescape off", `{% cached %}<i>{{ html }}</i>{% endcached %}{{ html }}`, false},
		{"nameless trim whitespace", "a  {%- cached -%}  \n <b>{{ html }}</b>  {%- endcached -%}  z", true},
		{"nameless nested", `{% cached %}({% cached %}{{ html }}{% endcached %}){% cached html %}{{ html|safe }}{% endcached %}{% endcached %}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pongo2.SetAutoescape(tc.autoescape)
			defer pongo2.SetAutoescape(true)
			e := newEnv(t, envConfig{})
			want := render(t, e.parse(uncached(tc.src)), data)
			tpl := e.parse(tc.src)
			miss := render(t, tpl, data)
			hit := render(t, tpl, data)
			if miss != want || hit != want {
				t.Errorf("uncached %q\nmiss     %q\nhit      %q", want, miss, hit)
			}
			if len(e.observedKeys()) < 2 {
				t.Errorf("the region was asked %d times", len(e.observedKeys()))
			}
		})
	}
}

func TestAutoescapeStateIsPartOfTheKey(t *testing.T) {
	xss := pongo2.Context{"v": `<script>alert(1)</script>`}
	const escaped = `&lt;script&gt;alert(1)&lt;/script&gt;`
	for _, tc := range []struct{ name, src, want string }{
		{"unescaped first",
			`{% autoescape off %}{% cached "xss" %}{{ v }}{% endcached %}{% endautoescape %}|{% cached "xss" %}{{ v }}{% endcached %}`,
			xss["v"].(string) + "|" + escaped},
		{"escaped first",
			`{% cached "xss" %}{{ v }}{% endcached %}|{% autoescape off %}{% cached "xss" %}{{ v }}{% endcached %}{% endautoescape %}`,
			escaped + "|" + xss["v"].(string)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{})
			tpl := e.parse(tc.src)
			for range 2 {
				if got := render(t, tpl, xss); got != tc.want {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
			}
			keys := slices.Compact(slices.Sorted(slices.Values(e.observedKeys())))
			if len(keys) != 2 {
				t.Errorf("keys %q: want one per escaping state", keys)
			}
			// Invalidate deletes both variants.
			if err := e.cache.Invalidate(context.Background(), "<string>", "xss"); err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if _, ok, err := dogpile.Get[any](context.Background(), mustRegion(t, e.cache, ""), k); ok || err != nil {
					t.Errorf("%s survived Invalidate", k)
				}
			}
		})
	}
}

func mustRegion(t testing.TB, c *tmplcache.Cache, name string) *dogpile.Region {
	t.Helper()
	r, err := c.Region(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSetDoesNotLeak(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"cached", `{% set x = "outer" %}{% cached "leak1" %}{% set x = "inner" %}{% set z = "new" %}{{ x }}{% endcached %}:{{ x }}:{{ z }}`},
		{"if=false", `{% set x = "outer" %}{% cached "leak2" if=false %}{% set x = "inner" %}{% set z = "new" %}{{ x }}{% endcached %}:{{ x }}:{{ z }}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{})
			tpl := e.parse(tc.src)
			for i := range 2 {
				if got := render(t, tpl, nil); got != "inner:outer:" {
					t.Errorf("render %d: %q, want %q", i, got, "inner:outer:")
				}
			}
		})
	}
}

func TestNestedFragments(t *testing.T) {
	e := newEnv(t, envConfig{})
	tpl := e.parse(`{% cached "doll-outer" %}<{{ count("outer") }}{% cached "doll-inner" %}({{ count("inner") }}){% endcached %}>{% endcached %}`)
	ctx := context.WithValue(context.Background(), ctxKey{}, "req-1")
	data := pongo2ext.WithContext(ctx, nil)
	if got := render(t, tpl, data); got != "<outer#1(inner#1)>" {
		t.Fatalf("first render %q", got)
	}
	if got := render(t, tpl, data); got != "<outer#1(inner#1)>" {
		t.Fatalf("hit %q", got)
	}
	// Retire the outer doll only: the inner one comes from the cache.
	if err := e.cache.Invalidate(ctx, "<string>", "doll-outer"); err != nil {
		t.Fatal(err)
	}
	if got := render(t, tpl, data); got != "<outer#2(inner#1)>" {
		t.Fatalf("after invalidating the outer fragment: %q", got)
	}
	// Every region call, the nested ones too, had the request's context.
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, v := range e.ctxVal {
		if v != "req-1" {
			t.Errorf("call %d (%s) had context value %v", i, e.keys[i], v)
		}
	}
}

func TestRecursionIsAnError(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		page  string
		data  pongo2.Context
	}{
		{"same explicit key", nil, `{% cached "rec-a" key="k" %}a{% cached "rec-b" key="k" %}b{% endcached %}{% endcached %}`, nil},
		{"lazy include of itself", map[string]string{
			"tree.html": `{% cached "node" 1 %}<li>{% include next %}</li>{% endcached %}`,
		}, "tree.html", pongo2.Context{"next": "tree.html"}},
		{"through include only with the context", map[string]string{
			"loop.html": `{% cached "loop" %}{% include next with next=next __pongo2ext_context=__pongo2ext_context only %}{% endcached %}`,
		}, "loop.html", pongo2.Context{"next": "loop.html"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{files: tc.files})
			var tpl *pongo2.Template
			if tc.files != nil {
				var err error
				if tpl, err = e.set.FromFile(tc.page); err != nil {
					t.Fatal(err)
				}
			} else {
				tpl = e.parse(tc.page)
			}
			done := make(chan error, 1)
			go func() {
				_, err := tpl.Execute(pongo2ext.WithContext(context.Background(), tc.data))
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(pongo2ext.Cause(err), tmplcache.ErrRecursion) {
					t.Fatalf("error %v, want ErrRecursion", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("deadlock: the fragment waits for itself")
			}
		})
	}
}

func TestKeysAreStableAcrossLoading(t *testing.T) {
	files := map[string]string{
		"frag.html":     `{% cached "frag" %}F{{ count("frag") }}{% endcached %}`,
		"includer.html": `[{% include "frag.html" %}]`,
		"sub/deep.html": `{% include "frag.html" %}`, // relative to the base directory
		"base.html":     `{% cached "nav" %}N{{ count("nav") }}{% endcached %}{% block content %}base{% endblock %}`,
		"child.html":    `{% extends "base.html" %}{% block content %}child{% endblock %}`,
	}
	e := newEnv(t, envConfig{files: files})
	for _, name := range []string{"frag.html", "base.html"} {
		if _, err := e.set.FromFile(name); err != nil { // declares the fragments
			t.Fatal(err)
		}
	}
	fragKey, err := e.cache.KeyFor("frag.html", "frag")
	if err != nil {
		t.Fatal(err)
	}
	navKey, err := e.cache.KeyFor(filepath.Join(e.dir, "base.html"), "nav")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		how  string
		load func() (*pongo2.Template, error)
		key  string
	}{
		{"FromFile", func() (*pongo2.Template, error) { return e.set.FromFile("frag.html") }, fragKey},
		{"FromFile absolute", func() (*pongo2.Template, error) { return e.set.FromFile(filepath.Join(e.dir, "frag.html")) }, fragKey},
		{"FromCache", func() (*pongo2.Template, error) { return e.set.FromCache("frag.html") }, fragKey},
		{"include", func() (*pongo2.Template, error) { return e.set.FromFile("includer.html") }, fragKey},
		{"include from a subdirectory", func() (*pongo2.Template, error) { return e.set.FromFile("sub/deep.html") }, fragKey},
		{"base FromFile", func() (*pongo2.Template, error) { return e.set.FromFile("base.html") }, navKey},
		{"extends", func() (*pongo2.Template, error) { return e.set.FromFile("child.html") }, navKey},
		{"extends FromCache", func() (*pongo2.Template, error) { return e.set.FromCache("child.html") }, navKey},
	} {
		t.Run(tc.how, func(t *testing.T) {
			tpl, err := tc.load()
			if err != nil {
				t.Fatal(err)
			}
			before := len(e.observedKeys())
			render(t, tpl, nil)
			keys := e.observedKeys()[before:]
			if len(keys) != 1 || keys[0] != tc.key {
				t.Errorf("keys %q, want [%q]", keys, tc.key)
			}
		})
	}
	if e.count("frag") != 1 || e.count("nav") != 1 {
		t.Errorf("rendered frag %d and nav %d times, want once each", e.count("frag"), e.count("nav"))
	}
	if !strings.HasPrefix(fragKey, "tmpl:frag.html:frag:") {
		t.Errorf("key %q lacks the relative template name", fragKey)
	}

	// Without the loader's root, FromFile and FromCache disagree.
	bare := newEnv(t, envConfig{files: files, noRoots: true})
	var keys []string
	for _, load := range []func(string) (*pongo2.Template, error){bare.set.FromFile, bare.set.FromCache} {
		tpl, err := load("frag.html")
		if err != nil {
			t.Fatal(err)
		}
		render(t, tpl, nil)
		keys = append(keys, bare.observedKeys()[len(keys)])
	}
	if keys[0] == keys[1] {
		t.Errorf("without roots both loads used %s; the test no longer shows what LoaderRoots is for", keys[0])
	}
}

func TestKeysWithFSLoader(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"frag.html":     `{% cached "fsfrag" %}F{{ n }}{% endcached %}`,
		"includer.html": `{% include "frag.html" %}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := dogpile.NewRegion()
	if err := r.Configure("dogpile.cache.memory", dogpile.Config{}); err != nil {
		t.Fatal(err)
	}
	c := tmplcache.New(r)
	set := pongo2.NewSet("fs", pongo2.NewFSLoader(os.DirFS(dir)))
	pongo2ext.Install(set, c)
	for i, load := range []func(string) (*pongo2.Template, error){set.FromFile, set.FromCache} {
		for _, name := range []string{"frag.html", "includer.html"} {
			tpl, err := load(name)
			if err != nil {
				t.Fatal(err)
			}
			if got := render(t, tpl, pongo2.Context{"n": i}); got != "F0" {
				t.Errorf("%s: %q, want the first rendering F0", name, got)
			}
		}
	}
}

func TestDigestChangeRetiresFragment(t *testing.T) {
	e := newEnv(t, envConfig{})
	ctx := context.Background()
	renderPage := func(src string) (string, string) {
		t.Helper()
		e.write("page.html", src)
		tpl, err := e.newSet().FromFile("page.html") // a fresh set parses again
		if err != nil {
			t.Fatal(err)
		}
		out := render(t, tpl, nil)
		k, err := e.cache.KeyFor("page.html", "dg")
		if err != nil {
			t.Fatal(err)
		}
		return out, k
	}
	out1, k1 := renderPage(`<h1>Title</h1>{% cached "dg" %}v1 {{ count("dg") }}{% endcached %}`)
	out2, k2 := renderPage(`<h1>Title</h1>{% cached "dg" %}v2 {{ count("dg") }}{% endcached %}`)
	if out1 != "<h1>Title</h1>v1 dg#1" || out2 != "<h1>Title</h1>v2 dg#2" || k1 == k2 {
		t.Fatalf("after editing the block: %q (%s), then %q (%s)", out1, k1, out2, k2)
	}
	// Editing outside the block keeps the key, and the cached fragment.
	out3, k3 := renderPage(`<h1>New title</h1>

{% cached "dg" %}v2 {{ count("dg") }}{% endcached %}`)
	if out3 != "<h1>New title</h1>\n\nv2 dg#2" || k3 != k2 {
		t.Fatalf("after editing outside the block: %q (%s), want the cached v2 under %s", out3, k3, k2)
	}
	// The old key is no longer what the template uses: Invalidate leaves it.
	if err := e.cache.Invalidate(ctx, "page.html", "dg"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := dogpile.Get[any](ctx, mustRegion(t, e.cache, ""), k1); !ok || err != nil {
		t.Error("the v1 fragment is gone too; expected Invalidate to touch the current key only")
	}
	// digest=false keeps the key across edits.
	_, k4 := renderPage(`{% cached "dg" digest=false %}v3 {{ count("dg") }}{% endcached %}`)
	out5, k5 := renderPage(`{% cached "dg" digest=false %}v4 {{ count("dg") }}{% endcached %}`)
	if k4 != k5 || out5 != "v3 dg#3" {
		t.Errorf("digest=false: %q under %s then %s, want the cached v3 under one key", out5, k4, k5)
	}
}

func TestKeyForAndInvalidate(t *testing.T) {
	e := newEnv(t, envConfig{})
	ctx := context.Background()
	names := map[int]string{1: "ann", 2: "bob"}
	var mu sync.Mutex
	e.set.Globals["user_name"] = func(id int) string {
		mu.Lock()
		defer mu.Unlock()
		return names[id]
	}
	e.write("profile.html", `{% cached "card" region="local" id %}<b>{{ user_name(id) }}</b>{% endcached %}`)
	tpl, err := e.set.FromFile("profile.html")
	if err != nil {
		t.Fatal(err)
	}
	page := func(id int) string { return render(t, tpl, pongo2.Context{"id": id}) }
	if page(1) != "<b>ann</b>" || page(2) != "<b>bob</b>" {
		t.Fatal("first renders")
	}
	k1, err := e.cache.KeyFor("profile.html", "card", 1)
	if err != nil {
		t.Fatal(err)
	}
	if keys := e.observedKeys(); keys[0] != k1 {
		t.Errorf("KeyFor = %s, the block used %s", k1, keys[0])
	}
	mu.Lock()
	names[1], names[2] = "ANN", "BOB"
	mu.Unlock()
	if page(1) != "<b>ann</b>" {
		t.Fatal("not cached")
	}
	if err := e.cache.Invalidate(ctx, "profile.html", "card", 1); err != nil {
		t.Fatal(err)
	}
	if got1, got2 := page(1), page(2); got1 != "<b>ANN</b>" || got2 != "<b>bob</b>" {
		t.Errorf("after invalidating user 1: %q and %q, want new data for 1 only", got1, got2)
	}
	if _, err := e.cache.KeyFor("profile.html", "nope"); !errors.Is(err, tmplcache.ErrUnknownFragment) {
		t.Errorf("KeyFor of an unknown fragment: %v", err)
	}
}

func TestExplicitKey(t *testing.T) {
	e := newEnv(t, envConfig{})
	ctx := context.Background()
	a := e.parse(`A{% cached "kk-a" key="shared-" + id %}{{ count("kk") }}{% endcached %}`)
	b := e.parse(`B{% cached "kk-b" key="shared-" + id %}{{ count("kk") }}{% endcached %}`)
	if got := render(t, a, pongo2.Context{"id": 1}); got != "Akk#1" {
		t.Fatal(got)
	}
	if got := render(t, b, pongo2.Context{"id": 1}); got != "Bkk#1" {
		t.Errorf("another block with the same key= got %q, want the shared fragment", got)
	}
	if got := render(t, b, pongo2.Context{"id": 2}); got != "Bkk#2" {
		t.Errorf("another key: %q", got)
	}
	if err := e.cache.InvalidateKey(ctx, "", "shared-1"); err != nil {
		t.Fatal(err)
	}
	if got := render(t, a, pongo2.Context{"id": 1}); got != "Akk#3" {
		t.Errorf("after InvalidateKey: %q", got)
	}
	if want := e.cache.Key(tmplcache.Fragment{Key: "shared-1"}); !slices.Contains(e.observedKeys(), want) {
		t.Errorf("keys %q lack %s", e.observedKeys(), want)
	}
	empty := e.parse(`{% cached "kk-c" key=missing %}x{% endcached %}`)
	if _, err := empty.Execute(nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty key: %v", err)
	}
}

func TestIfAndUnless(t *testing.T) {
	for _, tc := range []struct {
		tag     string
		data    pongo2.Context
		renders int // of two executions
	}{
		{`{% cached "cond" if=on %}`, pongo2.Context{"on": true}, 1},
		{`{% cached "cond" if=on %}`, pongo2.Context{"on": false}, 2},
		{`{% cached "cond" if=user.ok %}`, pongo2.Context{}, 2},
		{`{% cached "cond" unless=anon %}`, pongo2.Context{"anon": true}, 2},
		{`{% cached "cond" unless=anon %}`, pongo2.Context{"anon": false}, 1},
		{`{% cached "cond" if=on unless=anon %}`, pongo2.Context{"on": true, "anon": true}, 2},
		{`{% cached "cond" if=n > 2 unless=n > 5 %}`, pongo2.Context{"n": 3}, 1},
		{`{% cached "cond" if=n > 2 unless=n > 5 %}`, pongo2.Context{"n": 6}, 2},
	} {
		t.Run(fmt.Sprint(tc.tag, tc.data), func(t *testing.T) {
			e := newEnv(t, envConfig{})
			tpl := e.parse(tc.tag + `{{ count("c") }}{% endcached %}`)
			render(t, tpl, tc.data)
			out := render(t, tpl, tc.data)
			if got := e.count("c"); got != tc.renders {
				t.Errorf("rendered %d times, want %d", got, tc.renders)
			}
			if want := fmt.Sprintf("c#%d", tc.renders); out != want {
				t.Errorf("second output %q, want %q", out, want)
			}
			if tc.renders == 2 && len(e.observedKeys()) != 0 {
				t.Errorf("the region was asked for %q", e.observedKeys())
			}
		})
	}
}

func TestExpires(t *testing.T) {
	e := newEnv(t, envConfig{}) // regions expire after an hour
	tpl := e.parse(`{% cached "exp60" expires=60 %}{{ count("60") }}{% endcached %}` +
		`{% cached "expnever" expires=-1 %}{{ count("never") }}{% endcached %}` +
		`{% cached "expdefault" %}{{ count("default") }}{% endcached %}`)
	check := func(when string, want60, wantNever, wantDefault int) {
		t.Helper()
		render(t, tpl, nil)
		if a, b, c := e.count("60"), e.count("never"), e.count("default"); a != want60 || b != wantNever || c != wantDefault {
			t.Errorf("%s: rendered %d, %d, %d times, want %d, %d, %d", when, a, b, c, want60, wantNever, wantDefault)
		}
	}
	check("first", 1, 1, 1)
	e.advance(59 * time.Second)
	check("after 59s", 1, 1, 1)
	e.advance(2 * time.Second)
	check("after 61s", 2, 1, 1)
	e.advance(time.Hour)
	check("after an hour", 3, 1, 2)
	e.advance(10 * 365 * 24 * time.Hour)
	check("after ten years", 4, 1, 3)
}

func TestUnknownRegion(t *testing.T) {
	e := newEnv(t, envConfig{})
	tpl := e.parse("\n  {% cached \"r\" region=\"nowhere\" %}x{% endcached %}")
	_, err := tpl.Execute(nil)
	if !errors.Is(pongo2ext.Cause(err), tmplcache.ErrUnknownRegion) || !strings.Contains(err.Error(), `"nowhere"`) {
		t.Fatalf("error %v, want ErrUnknownRegion naming the region", err)
	}
	var pe *pongo2.Error
	if !errors.As(err, &pe) || pe.Line != 2 || pe.Column != 6 {
		t.Errorf("error %#v, want line 2 col 6", pe)
	}
}

func TestNoCacheInstalled(t *testing.T) {
	set := pongo2.NewSet("bare", pongo2.MustNewLocalFileSystemLoader(""))
	tpl, err := set.FromString(`{% cached "nocache" %}x{% endcached %}`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpl.Execute(nil)
	if !errors.Is(pongo2ext.Cause(err), pongo2ext.ErrNoCache) || !strings.Contains(err.Error(), "Install") {
		t.Fatalf("error %v, want ErrNoCache", err)
	}
}

func TestBodyErrorsAreNotCached(t *testing.T) {
	e := newEnv(t, envConfig{})
	var fail atomic.Bool
	fail.Store(true)
	e.set.Globals["check"] = func() (string, error) {
		if fail.Load() {
			return "", errors.New("backend down")
		}
		return "ok", nil
	}
	tpl := e.parse("{% cached \"err\" %}\n{{ check() }}{% endcached %}")
	_, err := tpl.Execute(nil)
	var pe *pongo2.Error
	if !errors.As(err, &pe) || pe.Line != 2 || !strings.Contains(err.Error(), "backend down") {
		t.Fatalf("error %v, want the body's own error at line 2", err)
	}
	fail.Store(false)
	if got := render(t, tpl, nil); got != "\nok" {
		t.Errorf("after the error went away: %q", got)
	}
}

func TestRequestContextReachesRegion(t *testing.T) {
	e := newEnv(t, envConfig{files: map[string]string{
		"inc.html": `{% cached "ctx-inc" %}i{% endcached %}`,
	}})
	tpl := e.parse(`{% cached "ctx-a" %}{% include "inc.html" %}{% endcached %}{% cached "ctx-b" %}b{% endcached %}`)
	ctx := context.WithValue(context.Background(), ctxKey{}, "req-7")
	render(t, tpl, pongo2ext.WithContext(ctx, pongo2.Context{}))
	render(t, tpl, nil) // no context: Background
	e.mu.Lock()
	defer e.mu.Unlock()
	want := []any{"req-7", "req-7", "req-7", nil, nil}
	if !slices.Equal(e.ctxVal, want) {
		t.Errorf("context values %v for keys %q, want %v", e.ctxVal, e.keys, want)
	}
}

func TestCancelledRequestStopsWaiting(t *testing.T) {
	e := newEnv(t, envConfig{})
	release := make(chan struct{})
	started := make(chan struct{})
	e.set.Globals["slow"] = func() string { close(started); <-release; return "done" }
	tpl := e.parse(`{% cached "cancel" %}{{ slow() }}{% endcached %}`)
	first := make(chan string)
	go func() { first <- render(t, tpl, nil) }()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tpl.Execute(pongo2ext.WithContext(ctx, nil))
	if !errors.Is(pongo2ext.Cause(err), context.Canceled) {
		t.Errorf("a waiter whose request ended: %v", err)
	}
	close(release)
	if got := <-first; got != "done" {
		t.Errorf("the rendering went on: %q", got)
	}
}

func TestConcurrentExpiryRendersOnce(t *testing.T) {
	e := newEnv(t, envConfig{})
	const goroutines = 100
	var renders, served atomic.Int64
	gate := make(chan struct{}) // closed when every other execution after the expiry is served
	e.set.Globals["slow"] = func() string {
		n := renders.Add(1)
		if n == 1 {
			// Nothing tells that the others wait for the first rendering:
			// give them time to pile up.
			time.Sleep(20 * time.Millisecond)
		} else {
			select {
			case <-gate:
			case <-time.After(10 * time.Second):
				t.Errorf("the other executions were not served while the fragment rendered (%d of them were)", served.Load())
			}
		}
		return fmt.Sprint("v", n)
	}
	tpl := e.parse(`<main>{% cached "hot" expires=10 %}{{ slow() }}{% endcached %}</main>`)
	run := func(expired bool) map[string]int {
		var wg sync.WaitGroup
		var mu sync.Mutex
		outs := map[string]int{}
		start := make(chan struct{})
		for range goroutines {
			wg.Go(func() {
				<-start
				out, err := tpl.Execute(nil)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				outs[out]++
				mu.Unlock()
				if expired && served.Add(1) == goroutines-1 {
					close(gate)
				}
			})
		}
		close(start)
		wg.Wait()
		return outs
	}
	if outs := run(false); renders.Load() != 1 || outs["<main>v1</main>"] != goroutines {
		t.Fatalf("cold: %d renders, outputs %v", renders.Load(), outs)
	}
	e.advance(11 * time.Second)
	outs := run(true)
	if renders.Load() != 2 {
		t.Errorf("expired: %d renders in all, want 2", renders.Load())
	}
	if outs["<main>v1</main>"]+outs["<main>v2</main>"] != goroutines || outs["<main>v2</main>"] == 0 {
		t.Errorf("expired: outputs %v, want stale v1 or fresh v2 only", outs)
	}
}

func TestAsyncRegenerationInLoop(t *testing.T) {
	// With asynchronous creation, the body renders after the page has moved on:
	// it must see the loop as it was (and -race must stay quiet).
	var now atomic.Int64
	var creations atomic.Int64
	stored := make(chan struct{}) // closed once the 18th rendering is stored
	obs := observe.Func(func(_ context.Context, ev observe.Event) {
		if ev.Op == observe.OpCreate && ev.Err == nil && creations.Add(1) == 18 {
			close(stored)
		}
	})
	r := dogpile.NewRegion(dogpile.WithAsyncCreation(), dogpile.WithObserver(obs),
		dogpile.WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
	if err := r.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Minute}); err != nil {
		t.Fatal(err)
	}
	c := tmplcache.New(r)
	set := pongo2.NewSet("async", pongo2.MustNewLocalFileSystemLoader(""))
	pongo2ext.Install(set, c)
	var renders atomic.Int64
	set.Globals["mark"] = func() string { renders.Add(1); return "" }
	tpl, err := set.FromString(`{% for i in items %}{% for j in items %}{% cached "async" i j %}{{ mark() }}` +
		`{{ forloop.Parentloop.Counter }}.{{ forloop.Counter }}={{ i }}{{ j }};{% endcached %}{% endfor %}{% endfor %}`)
	if err != nil {
		t.Fatal(err)
	}
	data := pongo2.Context{"items": []string{"a", "b", "c"}}
	const want = "1.1=aa;1.2=ab;1.3=ac;2.1=ba;2.2=bb;2.3=bc;3.1=ca;3.2=cb;3.3=cc;"
	if got := render(t, tpl, data); got != want {
		t.Fatalf("first: %q", got)
	}
	now.Add(int64(2 * time.Minute))
	if got := render(t, tpl, data); got != want { // stale; regenerated in the background
		t.Fatalf("stale: %q", got)
	}
	select {
	case <-stored:
	case <-time.After(10 * time.Second):
		t.Fatalf("%d renderings stored, want 18", creations.Load())
	}
	if n := renders.Load(); n != 18 {
		t.Fatalf("%d renders, want 18", n)
	}
	if got := render(t, tpl, data); got != want {
		t.Fatalf("background renderings: %q", got)
	}
	if n := renders.Load(); n != 18 {
		t.Errorf("%d renders after the background renderings were stored, want 18", n)
	}
}

// reqTag is a custom tag that prints the request value it finds through
// pongo2ext.RequestContext.
type reqTag struct{}

func (reqTag) Execute(ec *pongo2.ExecutionContext, w pongo2.TemplateWriter) *pongo2.Error {
	_, _ = fmt.Fprint(w, pongo2ext.RequestContext(ec).Value(ctxKey{}))
	return nil
}

func init() {
	pongo2.RegisterTag("test_reqvalue", func(*pongo2.Parser, *pongo2.Token, *pongo2.Parser) (pongo2.INodeTag, *pongo2.Error) {
		return reqTag{}, nil
	})
}

func TestRequestContextForOtherTags(t *testing.T) {
	e := newEnv(t, envConfig{})
	tpl := e.parse(`{% test_reqvalue %}|{% cached "reqtag" %}{% test_reqvalue %}{% endcached %}`)
	data := pongo2.Context{"a": 1}
	ctx := context.WithValue(context.Background(), ctxKey{}, "req-9")
	if got := render(t, tpl, pongo2ext.WithContext(ctx, data)); got != "req-9|req-9" {
		t.Errorf("got %q", got)
	}
	if len(data) != 1 {
		t.Errorf("WithContext changed its argument: %v", data)
	}
	if got := render(t, e.parse(`{% test_reqvalue %}`), nil); got != "<nil>" {
		t.Errorf("without a context: %q", got)
	}
}

// execute runs tpl and fails the test if Execute panics.
func execute(t *testing.T, tpl *pongo2.Template, data pongo2.Context) (out string, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("Template.Execute panicked: %v", p)
		}
	}()
	return tpl.Execute(data)
}

func TestVaryNilPointerWithStringMethod(t *testing.T) {
	e := newEnv(t, envConfig{})
	tpl := e.parse(`{% cached "url" u %}{{ count("url") }}{% endcached %}`)
	var nilURL *url.URL // (*url.URL).String dereferences its receiver
	for i, tc := range []struct {
		u    any
		want string
	}{
		{nilURL, "url#1"},
		{nilURL, "url#1"}, // a hit
		{&url.URL{Scheme: "https", Host: "example.com"}, "url#2"},
		{&url.URL{}, "url#3"},
	} {
		out, err := execute(t, tpl, pongo2.Context{"u": tc.u})
		if err != nil || out != tc.want {
			t.Errorf("execution %d with %#v: %q, %v; want %q", i, tc.u, out, err, tc.want)
		}
	}
	key, err := e.cache.KeyFor("<string>", "url", nilURL)
	if err != nil {
		t.Fatal(err)
	}
	if keys := e.observedKeys(); len(keys) != 4 || keys[0] != key || keys[1] != key || keys[2] == key || keys[3] == key {
		t.Errorf("keys %q, want %s for both executions with the nil *url.URL only", keys, key)
	}
}

// failingStringer has a String method that panics.
type failingStringer struct{}

func (failingStringer) String() string { panic("no text") }

func TestVaryValueWithoutAKeyIsAnError(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	for _, v := range []any{cyclic, failingStringer{}} {
		e := newEnv(t, envConfig{})
		tpl := e.parse("\n {% cached \"nokey\" 1 v %}{{ count(\"nokey\") }}{% endcached %}")
		_, err := execute(t, tpl, pongo2.Context{"v": v})
		if !errors.Is(pongo2ext.Cause(err), tmplcache.ErrVaryValue) {
			t.Errorf("vary on %T: error %v, want ErrVaryValue", v, err)
		}
		var pe *pongo2.Error
		if !errors.As(err, &pe) || pe.Line != 2 || pe.Column != 5 {
			t.Errorf("vary on %T: error %#v, want line 2 col 5", v, pe)
		}
		if n := e.count("nokey"); n != 0 || len(e.observedKeys()) != 0 {
			t.Errorf("vary on %T: %d renders and region calls for %q", v, n, e.observedKeys())
		}
	}
}
