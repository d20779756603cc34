package htmltmpl_test

import (
	"context"
	"errors"
	"html/template"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/htmltmpl"
	"github.com/dogpilego/dogpile/tmplcache"
)

// condFrag is a fragment whose output exercises html/template's contexts,
// so that equal outputs mean equal escaping.
const condFrag = `{{ define "f" }}{{ count }}<p title="{{ .Value.Name }}">{{ .Value.Name }}</p><a href="{{ .Value.URL }}">x</a><script>var n = {{ .Value.Name }};</script>{{ end }}`

func TestCachedIfAndUnless(t *testing.T) {
	ctx := context.Background()
	var regionCalls atomic.Int64
	obs := observe.Func(func(_ context.Context, e observe.Event) {
		if e.Op == observe.OpGetOrCreate {
			regionCalls.Add(1)
		}
	})
	def := memRegion(t, time.Hour, dogpile.WithObserver(obs))
	c := tmplcache.New(def)
	var renders counter
	tm := parse(t, "page", `
{{- define "if" }}<main>{{ cachedIf .Value.Cache "f" . .Value.ID }}</main>{{ end }}
{{- define "unless" }}<main>{{ cachedUnless .Value.Cache "f" . .Value.ID }}</main>{{ end }}
{{- define "cached" }}<main>{{ cached "f" . .Value.ID }}</main>{{ end }}
{{- define "uncached" }}<main>{{ template "f" . }}</main>{{ end }}`+condFrag, renders.funcs("count"))
	bind(t, tm, c)
	type value struct {
		Cache any
		ID    int
		Name  string
		URL   string
	}
	data := func(cache any, id int) htmltmpl.Data {
		return htmltmpl.WithContext(ctx, value{cache, id, `<b>"Tom" & 'Jerry'</b>`, "javascript:alert(1)"})
	}
	uncached := run(t, tm, "uncached", data(nil, 0))
	renders.n.Store(0)
	for i, tc := range []struct {
		page  string
		cache any
		want  bool // whether the fragment is cached
	}{
		{"if", true, true},
		{"if", false, false},
		{"if", 1, true},
		{"if", 0, false},
		{"if", "yes", true},
		{"if", "", false},
		{"if", nil, false},
		{"if", []int{}, false},
		{"if", []int{0}, true},
		{"unless", false, true},
		{"unless", true, false},
		{"unless", nil, true},
		{"unless", "x", false},
	} {
		id := 100 + i // a key of its own for each case
		renders.n.Store(0)
		regionCalls.Store(0)
		var outs []string
		for range 3 {
			outs = append(outs, run(t, tm, tc.page, data(tc.cache, id)))
		}
		for i, out := range outs {
			if out != uncached {
				t.Errorf("%s %#v, execution %d: %s\nwant the uncached output %s", tc.page, tc.cache, i, out, uncached)
			}
		}
		key, err := c.KeyFor("page", "f", id)
		if err != nil {
			t.Fatal(err)
		}
		_, stored, err := dogpile.Get[any](ctx, def, key)
		if err != nil {
			t.Fatal(err)
		}
		switch n, calls := renders.n.Load(), regionCalls.Load(); {
		case tc.want && (n != 1 || !stored || calls != 3):
			t.Errorf("%s %#v: %d renders, stored %v, %d region calls; want 1 render, stored, 3 calls", tc.page, tc.cache, n, stored, calls)
		case !tc.want && (n != 3 || stored || calls != 0):
			t.Errorf("%s %#v: %d renders, stored %v, %d region calls; want 3 renders, nothing stored, no region call", tc.page, tc.cache, n, stored, calls)
		}
		if tc.want {
			// The cached rendering is the very entry `cached` reads.
			before := renders.n.Load()
			if got := run(t, tm, "cached", data(nil, id)); got != uncached || renders.n.Load() != before {
				t.Errorf("%s %#v: cached reads another entry: %s", tc.page, tc.cache, got)
			}
		}
	}
}

func TestCachedIfNesting(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour))
	tm := parse(t, "page", `
{{- define "self" }}<i>{{ cachedIf .Value "self" . }}</i>{{ end }}
{{- define "outer" }}<o>{{ cachedIf .Value.On "inner" . }}</o>{{ end }}
{{- define "inner" }}<in>{{ cached "leaf" . }}</in>{{ end }}
{{- define "leaf" }}{{ count }}<leaf>{{ end }}
{{- define "tree" }}<li>{{ .Value.Name }}{{ range .Value.Kids }}{{ cachedUnless true "tree" (withctx $ .) }}{{ end }}</li>{{ end }}`,
		template.FuncMap{"count": func() string { return "" }})
	bind(t, tm, c)

	// Uncached, a fragment that leads back to itself would recurse for
	// ever: it fails instead.
	_, err := within(t, 10*time.Second, tm, "self", htmltmpl.WithContext(ctx, false))
	if !errors.Is(err, htmltmpl.ErrTooDeep) {
		t.Errorf("uncached self-recursion: %v, want ErrTooDeep", err)
	}
	// Cached, it is ErrRecursion as with `cached`.
	_, err = within(t, 10*time.Second, tm, "self", htmltmpl.WithContext(ctx, true))
	if !errors.Is(err, tmplcache.ErrRecursion) {
		t.Errorf("cached self-recursion: %v, want ErrRecursion", err)
	}
	// A fragment that nests needs data that carries the context, cached or not.
	for _, on := range []bool{true, false} {
		if _, err := within(t, 10*time.Second, tm, "outer", map[string]any{"On": on}); !errors.Is(err, htmltmpl.ErrNeedsContext) {
			t.Errorf("cachedIf %v with data without context: %v, want ErrNeedsContext", on, err)
		}
		got, err := within(t, 10*time.Second, tm, "outer", htmltmpl.WithContext(ctx, map[string]any{"On": on}))
		if err != nil || got != "<o><in><leaf></in></o>" {
			t.Errorf("cachedIf %v: %s, %v", on, got, err)
		}
	}
	// Uncached recursion over data is {{ template }}'s.
	type node struct {
		Name string
		Kids []node
	}
	root := node{"root", []node{{"x", []node{{"y", nil}}}, {"z", nil}}}
	got, err := within(t, 10*time.Second, tm, "tree", htmltmpl.WithContext(ctx, root))
	if err != nil || got != "<li>root<li>x<li>y</li></li><li>z</li></li>" {
		t.Errorf("tree: %s, %v", got, err)
	}
	if strings.Contains(got, "ZgotmplZ") {
		t.Errorf("tree escaped: %s", got)
	}
}
