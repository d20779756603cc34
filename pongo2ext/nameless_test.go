package pongo2ext_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/tmplcache"
)

func mustKey(t *testing.T, c *tmplcache.Cache, template, name string, vary ...any) string {
	t.Helper()
	k, err := c.KeyFor(template, name, vary...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var namelessFiles = map[string]string{
	"frag.html":     `{% cached %}F{{ count("frag") }}{% endcached %}`,
	"includer.html": `[{% include "frag.html" %}]`,
	"sub/deep.html": `{% include "frag.html" %}`,
	"base.html":     `{% cached %}N{{ count("nav") }}{% endcached %}{% block content %}base{% endblock %}`,
	"child.html":    `{% extends "base.html" %}{% block content %}child{% endblock %}`,
}

func TestNamelessKeysAreStableAcrossLoading(t *testing.T) {
	e := newEnv(t, envConfig{files: namelessFiles})
	for _, name := range []string{"frag.html", "base.html"} {
		if _, err := e.set.FromFile(name); err != nil { // declares the fragments
			t.Fatal(err)
		}
	}
	fragKey := mustKey(t, e.cache, "frag.html", "#1")
	navKey := mustKey(t, e.cache, "base.html", "#1")
	if !strings.HasPrefix(fragKey, "tmpl:frag.html:#1:") || !strings.HasPrefix(navKey, "tmpl:base.html:#1:") {
		t.Errorf("keys %s and %s lack the template and the place", fragKey, navKey)
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
		{"include from a string", func() (*pongo2.Template, error) { return e.set.FromString(`{% include "frag.html" %}`) }, fragKey},
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
			if keys := e.observedKeys()[before:]; len(keys) != 1 || keys[0] != tc.key {
				t.Errorf("keys %q, want [%q]", keys, tc.key)
			}
		})
	}
	if e.count("frag") != 1 || e.count("nav") != 1 {
		t.Errorf("rendered frag %d and nav %d times, want once each", e.count("frag"), e.count("nav"))
	}

	// Another host: the same templates in another directory.
	other := newEnv(t, envConfig{files: namelessFiles})
	if other.dir == e.dir {
		t.Fatal("one directory for both hosts")
	}
	for _, name := range []string{"frag.html", "child.html"} {
		tpl, err := other.set.FromCache(name)
		if err != nil {
			t.Fatal(err)
		}
		render(t, tpl, nil)
	}
	if got := other.observedKeys(); !slices.Equal(got, []string{fragKey, navKey}) {
		t.Errorf("keys on another host %q, want %q", got, []string{fragKey, navKey})
	}
}

func TestNamelessBlocksByPlace(t *testing.T) {
	e := newEnv(t, envConfig{})
	renderPage := func(src string) string {
		t.Helper()
		e.write("page.html", src)
		tpl, err := e.newSet().FromFile("page.html")
		if err != nil {
			t.Fatal(err)
		}
		return render(t, tpl, nil)
	}
	a := `{% cached %}A{{ count("a") }}{% endcached %}`
	b := `{% cached %}B{{ count("b") }}{% endcached %}`
	// Two blocks of the same source are two fragments.
	same := `{% cached %}S{{ count("s") }}{% endcached %}`
	if got := renderPage(same + same); got != "Ss#1Ss#2" {
		t.Errorf("two nameless blocks of one source: %q, want two renderings", got)
	}
	if k1, k2 := mustKey(t, e.cache, "page.html", "#1"), mustKey(t, e.cache, "page.html", "#2"); k1 == k2 {
		t.Errorf("both blocks have the key %s", k1)
	}

	if got := renderPage(a + b); got != "Aa#1Bb#1" {
		t.Fatalf("first: %q", got)
	}
	keyA, keyB := mustKey(t, e.cache, "page.html", "#1"), mustKey(t, e.cache, "page.html", "#2")
	// A block added between them shifts the one after it only.
	added := `{% cached %}N{{ count("n") }}{% endcached %}`
	if got := renderPage(a + "<hr>" + added + b); got != "Aa#1<hr>Nn#1Bb#2" {
		t.Errorf("after adding a block above B: %q, want A from the cache and B rendered again", got)
	}
	if k := mustKey(t, e.cache, "page.html", "#1"); k != keyA {
		t.Errorf("A's key changed: %s, was %s", k, keyA)
	}
	if k := mustKey(t, e.cache, "page.html", "#3"); k == keyB {
		t.Errorf("B keeps its key %s at another place", k)
	}
	// A block added after them and edits outside the blocks shift nothing.
	if got := renderPage("<h1>new</h1>" + a + "<hr>" + added + b + `{% cachedfor x in "z" %}{{ x }}{% endcachedfor %}` + `{% cached %}L{% endcached %}`); got != "<h1>new</h1>Aa#1<hr>Nn#1Bb#2zL" {
		t.Errorf("after adding blocks below: %q, want A, N and B from the cache", got)
	}
	mustKey(t, e.cache, "page.html", "#4") // the collection
	mustKey(t, e.cache, "page.html", "#5")

	// Nested blocks count in the order their start tags appear.
	if got := renderPage(`{% cached %}<{% cached %}i{{ count("i") }}{% endcached %}{{ count("o") }}>{% endcached %}`); got != "<ii#1o#1>" {
		t.Fatalf("nested: %q", got)
	}
	ctx := context.Background()
	if err := e.cache.Invalidate(ctx, "page.html", "#2"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := dogpile.Get[any](ctx, mustRegion(t, e.cache, ""), mustKey(t, e.cache, "page.html", "#1")); !ok || err != nil {
		t.Errorf("the outer block went with the inner one: %v %v", ok, err)
	}
	if got := renderPage(`{% cached %}<{% cached %}i{{ count("i") }}{% endcached %}{{ count("o") }}>{% endcached %}`); got != "<ii#1o#1>" {
		t.Errorf("outer hit: %q", got)
	}
	if err := e.cache.Invalidate(ctx, "page.html", "#1"); err != nil {
		t.Fatal(err)
	}
	if got := renderPage(`{% cached %}<{% cached %}i{{ count("i") }}{% endcached %}{{ count("o") }}>{% endcached %}`); got != "<ii#2o#2>" {
		t.Errorf("outer rendered again, inner invalidated: %q", got)
	}
}

func TestNamelessBlocksInStringTemplates(t *testing.T) {
	e := newEnv(t, envConfig{})
	one := e.parse(`{% cached %}one{% endcached %}`)
	two := e.parse(`{% cached %}two{% endcached %}`)
	// Every FromString template is "<string>": the digest tells them apart.
	if a, b := render(t, one, nil), render(t, two, nil); a != "one" || b != "two" {
		t.Errorf("%q and %q", a, b)
	}
	if keys := e.observedKeys(); len(keys) != 2 || keys[0] == keys[1] || !strings.HasPrefix(keys[0], "tmpl:_string_:#1:") {
		t.Errorf("keys %q", keys)
	}
	// Named blocks may opt out of digests there, nameless ones not.
	if _, err := e.set.FromString(`{% cached "mine" digest=false %}x{% endcached %}`); err != nil {
		t.Error(err)
	}
	if _, err := e.set.FromString(`{% cached digest=false %}x{% endcached %}`); err == nil || !strings.Contains(err.Error(), "give the block a name") {
		t.Errorf("nameless with digest=false: %v", err)
	}
	e.write("file.html", `{% cached digest=false %}f{% endcached %}`)
	if _, err := e.set.FromFile("file.html"); err != nil {
		t.Errorf("nameless with digest=false in a file: %v", err)
	}
}

// A macro renders in its caller's escaping state: the nameless block in it
// is one fragment with a variant per state, never the other's HTML.
func TestNamelessBlockEscapingStates(t *testing.T) {
	xss := pongo2.Context{"v": `<script>alert(1)</script>`}
	const escaped = `&lt;script&gt;alert(1)&lt;/script&gt;`
	const macro = `{% macro m(v) %}{% cached %}{{ v }}{% endcached %}{% endmacro %}`
	for _, tc := range []struct{ name, src, want string }{
		{"unescaped first", macro + `{% autoescape off %}{{ m(v) }}{% endautoescape %}|{{ m(v) }}`, xss["v"].(string) + "|" + escaped},
		{"escaped first", macro + `{{ m(v) }}|{% autoescape off %}{{ m(v) }}{% endautoescape %}`, escaped + "|" + xss["v"].(string)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{})
			e.write("macro.html", tc.src)
			tpl, err := e.set.FromFile("macro.html")
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if got := render(t, tpl, xss); got != tc.want {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
			}
			keys := slices.Compact(slices.Sorted(slices.Values(e.observedKeys())))
			if len(keys) != 2 || !slices.Contains(keys, mustKey(t, e.cache, "macro.html", "#1")) {
				t.Errorf("keys %q: want one per escaping state", keys)
			}
			if err := e.cache.Invalidate(context.Background(), "macro.html", "#1"); err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if _, ok, _ := dogpile.Get[any](context.Background(), mustRegion(t, e.cache, ""), k); ok {
					t.Errorf("%s survived Invalidate", k)
				}
			}
		})
	}
}

// Templates whose files are copied elsewhere keep their keys only if the
// Cache knows the directory: the test of LoaderRoots for nameless blocks.
func TestNamelessKeysNeedRoots(t *testing.T) {
	e := newEnv(t, envConfig{files: namelessFiles, noRoots: true})
	tpl, err := e.set.FromCache("frag.html")
	if err != nil {
		t.Fatal(err)
	}
	render(t, tpl, nil)
	abs, err := filepath.Abs(filepath.Join(e.dir, "frag.html"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatal(err)
	}
	if keys := e.observedKeys(); len(keys) != 1 || keys[0] != mustKey(t, e.cache, abs, "#1") {
		t.Errorf("keys %q, want the absolute name's", keys)
	}
}
