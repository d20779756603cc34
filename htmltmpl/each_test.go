package htmltmpl_test

import (
	"context"
	"errors"
	"html/template"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/htmltmpl"
	"github.com/dogpilego/dogpile/tmplcache"
)

// counting is a backend proxy that counts the calls that reach the
// backend.
type counting struct {
	driver.ProxyBackend
	gets, getMultis, sets, setMultis *atomic.Int64
	multiKeys                        *atomic.Int64 // keys read by GetMulti
}

func (c *counting) Get(ctx context.Context, key string) (driver.CachedValue, bool, error) {
	c.gets.Add(1)
	return c.ProxyBackend.Get(ctx, key)
}

func (c *counting) GetMulti(ctx context.Context, keys []string) ([]driver.CachedValue, error) {
	c.getMultis.Add(1)
	c.multiKeys.Add(int64(len(keys)))
	return c.ProxyBackend.GetMulti(ctx, keys)
}

func (c *counting) Set(ctx context.Context, key string, v driver.CachedValue) error {
	c.sets.Add(1)
	return c.ProxyBackend.Set(ctx, key, v)
}

func (c *counting) SetMulti(ctx context.Context, items []driver.Item) error {
	c.setMultis.Add(1)
	return c.ProxyBackend.SetMulti(ctx, items)
}

type calls struct{ gets, getMultis, sets, setMultis, multiKeys atomic.Int64 }

func (c *calls) take() [5]int64 {
	return [5]int64{c.gets.Swap(0), c.getMultis.Swap(0), c.sets.Swap(0), c.setMultis.Swap(0), c.multiKeys.Swap(0)}
}

// countedRegion is a memory region whose backend calls are counted.
func countedRegion(t testing.TB, n *calls) *dogpile.Region {
	t.Helper()
	r := dogpile.NewRegion()
	err := r.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour, Wrap: []driver.Proxy{
		func(next driver.Backend) driver.Backend {
			return &counting{ProxyBackend: driver.ProxyBackend{Next: next},
				gets: &n.gets, getMultis: &n.getMultis, sets: &n.sets, setMultis: &n.setMultis, multiKeys: &n.multiKeys}
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCachedEachOrderAndDuplicates(t *testing.T) {
	ctx := context.Background()
	var n calls
	c := tmplcache.New(countedRegion(t, &n))
	var renders counters
	tm := parse(t, "page", `<ul>{{ cachedEach "card" . .Value }}</ul>{{ define "card" }}{{ count (print .Value) }}<li>{{ .Value }}</li>{{ end }}`, renders.funcs())
	bind(t, tm, c)
	show := func(items ...any) string { return run(t, tm, "page", htmltmpl.WithContext(ctx, items)) }

	if got := show(3, 1, 2, 1, 3); got != "<ul><li>3</li><li>1</li><li>2</li><li>1</li><li>3</li></ul>" {
		t.Errorf("order: %s", got)
	}
	if got := renders.take(); !sameCounts(got, map[string]int{"1": 1, "2": 1, "3": 1}) {
		t.Errorf("renders %v, want one per distinct item", got)
	}
	// One read for the collection, one write for what it rendered.
	// (A memory region's lock is in process: it reads nothing again
	// under it.)
	if got := n.take(); got != [5]int64{0, 1, 0, 1, 3} {
		t.Errorf("miss: gets, get-multis, sets, set-multis, keys read = %v, want one multi-get of the 3 keys and one multi-set", got)
	}
	if got := show(2, 3, 1); got != "<ul><li>2</li><li>3</li><li>1</li></ul>" {
		t.Errorf("hit: %s", got)
	}
	if got := renders.take(); len(got) != 0 {
		t.Errorf("renders on a hit: %v", got)
	}
	if got := n.take(); got != [5]int64{0, 1, 0, 0, 3} {
		t.Errorf("hit: gets, get-multis, sets, set-multis, keys read = %v, want one multi-get of 3 keys and nothing else", got)
	}
	// Each item is the fragment "card" varying on the item: KeyFor and
	// Invalidate address it, and with the text rule "2" is 2.
	if err := c.Invalidate(ctx, "page", "card", "2"); err != nil {
		t.Fatal(err)
	}
	if got := show(1, 2, 3, 4); got != "<ul><li>1</li><li>2</li><li>3</li><li>4</li></ul>" {
		t.Errorf("after invalidating 2: %s", got)
	}
	if got := renders.take(); !sameCounts(got, map[string]int{"2": 1, "4": 1}) {
		t.Errorf("after invalidating 2: renders %v, want 2 and the new 4", got)
	}
	if got := n.take(); got != [5]int64{0, 1, 0, 1, 4} {
		t.Errorf("partial miss: gets, get-multis, sets, set-multis, keys read = %v, want one multi-get of 4 keys and one multi-set", got)
	}
	// Nothing to render: no region call at all.
	for _, empty := range []any{nil, []any{}, []int(nil), [0]int{}} {
		if got := run(t, tm, "page", htmltmpl.WithContext(ctx, empty)); got != "<ul></ul>" {
			t.Errorf("%#v: %s", empty, got)
		}
	}
	if got := n.take(); got != [5]int64{} {
		t.Errorf("empty collections called the backend: %v", got)
	}
}

func TestCachedEachItemsAndVary(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour))
	var renders counters
	tm := parse(t, "page", `{{ cachedEach "card" . .Value.Posts .Value.Lang }}
{{- define "card" }}{{ count (print .Value.ID) }}<p>{{ .Value.ID }}:{{ .Value.Title }}</p>{{ end }}`, renders.funcs())
	bind(t, tm, c)
	type post struct {
		ID    int
		Title string
	}
	show := func(lang string, posts any) string {
		return run(t, tm, "page", htmltmpl.WithContext(ctx, map[string]any{"Lang": lang, "Posts": posts}))
	}
	posts := []post{{1, "one"}, {2, "two"}}
	if got := show("en", posts); got != "<p>1:one</p><p>2:two</p>" {
		t.Errorf("slice of structs: %s", got)
	}
	// Arrays, pointers to arrays and slices of pointers work as well; a
	// pointer's item is keyed by what it points to.
	arr := [2]post{{1, "one"}, {2, "two"}}
	for _, items := range []any{arr, &arr, []*post{{1, "one"}, {2, "two"}}, []any{post{1, "one"}, &post{2, "two"}}} {
		if got := show("en", items); got != "<p>1:one</p><p>2:two</p>" {
			t.Errorf("%T: %s", items, got)
		}
	}
	if got := renders.take(); !sameCounts(got, map[string]int{"1": 1, "2": 1}) {
		t.Errorf("renders %v, want one per post", got)
	}
	// The item is its own key: an edited post is a new entry, and the
	// vary values apply to every item.
	if got := show("en", []post{{1, "one, edited"}, {2, "two"}}); got != "<p>1:one, edited</p><p>2:two</p>" {
		t.Errorf("edited post: %s", got)
	}
	if got := show("fr", posts); got != "<p>1:one</p><p>2:two</p>" {
		t.Errorf("other vary: %s", got)
	}
	if got := renders.take(); !sameCounts(got, map[string]int{"1": 2, "2": 1}) {
		t.Errorf("renders %v, want the edited post and both in fr", got)
	}
	key, err := c.KeyFor("page", "card", post{2, "two"}, "fr")
	if err != nil {
		t.Fatal(err)
	}
	if html, ok, err := storedHTML(ctx, mustRegion(t, c), key); err != nil || !ok || html != "<p>2:two</p>" {
		t.Errorf("KeyFor(item, vary): %q, %v, %v", html, ok, err)
	}
	// Not a collection.
	for _, bad := range []any{42, "text", map[string]int{"a": 1}} {
		if err := tm.Execute(new(strings.Builder), htmltmpl.WithContext(ctx, map[string]any{"Posts": bad})); err == nil || !strings.Contains(err.Error(), "needs a slice or an array") {
			t.Errorf("%T: %v", bad, err)
		}
	}
	// An item that cannot be part of a key fails the whole collection.
	cyclic := []any{nil}
	cyclic[0] = cyclic
	if err := tm.Execute(new(strings.Builder), htmltmpl.WithContext(ctx, map[string]any{"Posts": []any{post{3, "x"}, cyclic}})); !errors.Is(err, tmplcache.ErrVaryValue) {
		t.Errorf("a cyclic item: %v, want ErrVaryValue", err)
	}
	if got := renders.take(); len(got) != 0 {
		t.Errorf("renders for a failed collection: %v", got)
	}
}

func TestCachedEachContext(t *testing.T) {
	var mu sync.Mutex
	var seen []any
	obs := observe.Func(func(ctx context.Context, e observe.Event) {
		mu.Lock()
		seen = append(seen, ctx.Value(ctxKey{}))
		mu.Unlock()
	})
	c := tmplcache.New(memRegion(t, time.Hour, dogpile.WithObserver(obs)))
	funcs := template.FuncMap{
		"fromctx": func(ctx context.Context) any { return ctx.Value(ctxKey{}) },
		"ones":    func() []int { return []int{1} },
	}
	tm := parse(t, "page", `{{ cachedEach "card" . .Value }}
{{- define "card" }}[{{ fromctx .Context }}:{{ .Value }}{{ cached "inner" . }}]{{ end }}
{{- define "inner" }}<b>{{ fromctx .Context }}</b>{{ end }}
{{- define "pages" }}{{ cachedEach "page-item" . .Value }}{{ end }}
{{- define "page-item" }}({{ .Name }}:{{ fromctx .Context }}){{ end }}
{{- define "wrapped" }}{{ cachedEach "wrapped-item" . .Value }}{{ end }}
{{- define "wrapped-item" }}{{"{"}}{{ .Value }}:{{ fromctx .Context }}{{"}"}}{{ end }}
{{- define "loop" }}{{ cachedEach "loop" . ones }}{{ end }}`, funcs)
	bind(t, tm, c)
	ctx := context.WithValue(context.Background(), ctxKey{}, "request")
	// Each item is rendered with the request's context, around the item.
	if got := run(t, tm, "page", htmltmpl.WithContext(ctx, []string{"a", "b"})); got != "[request:a<b>request</b>][request:b<b>request</b>]" {
		t.Errorf("items: %s", got)
	}
	mu.Lock()
	for i, v := range seen {
		if v != "request" {
			t.Errorf("region event %d saw %v", i, v)
		}
	}
	if len(seen) == 0 {
		t.Error("no region event")
	}
	mu.Unlock()
	// Items that carry a context of their own keep their type, with the
	// rendering's context.
	other := context.WithValue(context.Background(), ctxKey{}, "stale")
	items := []page{{ctx: other, Name: "x"}, {ctx: other, Name: "y"}}
	if got := run(t, tm, "pages", htmltmpl.WithContext(ctx, items)); got != "(x:request)(y:request)" {
		t.Errorf("ContextReplacer items: %s", got)
	}
	// Items are keyed without their contexts: another request's items are
	// hits, and a Data item is keyed by its Value.
	wrapped := []htmltmpl.Data{htmltmpl.WithContext(other, "p"), htmltmpl.WithContext(other, "q")}
	if got := run(t, tm, "wrapped", htmltmpl.WithContext(ctx, wrapped)); got != "{p:request}{q:request}" {
		t.Errorf("Data items: %s", got)
	}
	second := context.WithValue(context.Background(), ctxKey{}, "second request")
	wrapped = []htmltmpl.Data{htmltmpl.WithContext(second, "p"), htmltmpl.WithContext(second, "q")}
	if got := run(t, tm, "wrapped", htmltmpl.WithContext(second, wrapped)); got != "{p:request}{q:request}" {
		t.Errorf("Data items of another request: %s, want the first request's entries", got)
	}
	key, err := c.KeyFor("page", "wrapped-item", "q")
	if err != nil {
		t.Fatal(err)
	}
	if html, ok, err := storedHTML(ctx, mustRegion(t, c), key); err != nil || !ok || html != "{q:request}" {
		t.Errorf("KeyFor(the Data's Value): %q, %v, %v", html, ok, err)
	}
	// A collection that renders itself is refused, not a deadlock.
	if _, err := within(t, 5*time.Second, tm, "loop", htmltmpl.WithContext(ctx, nil)); !errors.Is(err, tmplcache.ErrRecursion) {
		t.Errorf("a collection of its own items: %v, want ErrRecursion", err)
	}
}

// TestCachedEachXSS renders items of hostile but trusted HTML, and the same
// payloads as text, through a collection in every context html/template
// knows, as TestXSSInOtherContexts does for single fragments.
func TestCachedEachXSS(t *testing.T) {
	noneOf := func(chars string) func(string) bool {
		return func(m string) bool { return !strings.ContainsAny(m, chars) }
	}
	contexts := []struct {
		name           string
		prefix, suffix string
		safe           func(m string) bool
	}{
		{"attribute", `<p title="`, `">`, noneOf(`"<>`)},
		{"single-quoted attribute", `<p title='`, `'>`, noneOf(`'<>`)},
		{"unquoted attribute", `<p title=`, `>`, noneOf("\"'<>= \t\n`")},
		{"event handler", `<p onclick="f(`, `)">`, noneOf(`"<>`)},
		{"URL", `<a href="`, `">x</a>`, func(m string) bool {
			return noneOf(`"<> `)(m) && !strings.HasPrefix(strings.ToLower(m), "javascript:")
		}},
		{"URL query", `<a href="/s?q=`, `">x</a>`, noneOf(`"<> '`)},
		{"script", `<script>var x = `, `;</script>`, func(m string) bool {
			return strings.HasPrefix(m, `"`) && strings.HasSuffix(m, `"`) && noneOf(`<>`)(m) &&
				!strings.Contains(strings.ReplaceAll(m[1:len(m)-1], `\"`, ``), `"`)
		}},
		{"script string", `<script>var x = "`, `";</script>`, noneOf(`"<>'`)},
		{"style", `<style>p { color: `, ` }</style>`, func(m string) bool { return m == "ZgotmplZ" }},
		{"style attribute", `<p style="color: `, `">`, func(m string) bool { return m == "ZgotmplZ" }},
		{"RCDATA", `<title>`, `</title>`, noneOf(`<>`)},
		{"comment", `<p><!-- `, ` --></p>`, func(m string) bool { return m == "" }},
	}
	for _, kind := range []string{"trusted", "text"} {
		var items []any
		for _, p := range xssPayloads {
			if kind == "trusted" {
				items = append(items, template.HTML(p)) // the card prints it as it is
			} else {
				items = append(items, p) // the card escapes it
			}
		}
		for _, cx := range contexts {
			t.Run(kind+"/"+cx.name, func(t *testing.T) {
				tm := parse(t, "page", cx.prefix+`{{ cachedEach "card" . .Value }}`+cx.suffix+
					`{{ define "card" }}{{ .Value }}{{ end }}`, nil)
				bind(t, tm, tmplcache.New(memRegion(t, time.Hour)))
				for i := range 2 { // miss, then hit
					out := run(t, tm, "page", htmltmpl.WithContext(context.Background(), items))
					prefix, suffix := cx.prefix, cx.suffix
					if cx.name == "comment" { // html/template drops comments
						prefix, suffix = "<p>", "</p>"
					}
					m, ok := strings.CutPrefix(out, prefix)
					if ok {
						m, ok = strings.CutSuffix(m, suffix)
					}
					if !ok || !cx.safe(m) {
						t.Errorf("execution %d: unsafe output %s", i, out)
					}
					if strings.Contains(out, "<script>alert") {
						t.Errorf("execution %d: script injected: %s", i, out)
					}
				}
			})
		}
		// In HTML text, the collection is the items' fragments as they are
		// (the trusted ones raw, the text escaped), as {{ range }} with
		// {{ template }} prints them.
		t.Run(kind+"/text", func(t *testing.T) {
			tm := parse(t, "page", `{{ cachedEach "card" . .Value }}|{{ range .Value }}{{ template "card" (withctx $ .) }}{{ end }}{{ define "card" }}{{ .Value }}{{ end }}`, nil)
			bind(t, tm, tmplcache.New(memRegion(t, time.Hour)))
			for i := range 2 {
				out := run(t, tm, "page", htmltmpl.WithContext(context.Background(), items))
				if each, loop, _ := strings.Cut(out, "|"); each != loop {
					t.Errorf("execution %d: collection %s\nloop       %s", i, each, loop)
				}
				if kind == "text" && strings.Contains(out, "<script>") {
					t.Errorf("execution %d: text items printed as HTML: %s", i, out)
				}
			}
		})
	}
}

// TestCachedEachKeysByTextNotType shows what tmplcache's rule for vary
// values (scalars by their canonical text, structs by their fields'
// names and values, whatever their Go types) means for collections, whose
// items are their own vary values: html/template prints a template.HTML
// as it is and escapes a string of the same text, but both items share one
// entry, and so do two structs of other types with the same fields. A
// collection must hold items of one kind, or vary on the kind.
func TestCachedEachKeysByTextNotType(t *testing.T) {
	ctx := context.Background()
	tm := parse(t, "page", `{{ cachedEach "card" . .Value }}{{ define "card" }}{{ .Value }}{{ end }}
{{- define "kinds" }}{{ cachedEach "card" . .Value.Items .Value.Kind }}{{ end }}`, nil)
	bind(t, tm, tmplcache.New(memRegion(t, time.Hour)))
	if got := run(t, tm, "page", htmltmpl.WithContext(ctx, []any{template.HTML("<b>x</b>")})); got != "<b>x</b>" {
		t.Fatalf("trusted item: %s", got)
	}
	// The string "<b>x</b>" is served the entry of template.HTML("<b>x</b>").
	if got := run(t, tm, "page", htmltmpl.WithContext(ctx, []any{"<b>x</b>"})); got != "<b>x</b>" {
		t.Errorf("text item: %s; if it is escaped, item keys now tell types apart: update the package doc", got)
	}
	// Varying on the kind keeps them apart.
	for _, tc := range []struct {
		kind string
		item any
		want string
	}{{"html", template.HTML("<b>x</b>"), "<b>x</b>"}, {"text", "<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"}} {
		data := htmltmpl.WithContext(ctx, map[string]any{"Kind": tc.kind, "Items": []any{tc.item}})
		if got := run(t, tm, "kinds", data); got != tc.want {
			t.Errorf("%s item varying on its kind: %s, want %s", tc.kind, got, tc.want)
		}
	}
}
