package htmltmpl_test

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/htmltmpl"
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

// parse parses text into a set called name with the placeholder func map
// and funcs.
func parse(t testing.TB, name, text string, funcs template.FuncMap) *template.Template {
	t.Helper()
	tm := template.New(name).Funcs(htmltmpl.FuncMap())
	if funcs != nil {
		tm.Funcs(funcs)
	}
	if _, err := tm.Parse(text); err != nil {
		t.Fatal(err)
	}
	return tm
}

func bind(t testing.TB, tm *template.Template, c *tmplcache.Cache, opts ...htmltmpl.Option) {
	t.Helper()
	if err := htmltmpl.Bind(tm, c, opts...); err != nil {
		t.Fatal(err)
	}
}

func run(t testing.TB, tm *template.Template, name string, data any) string {
	t.Helper()
	var b strings.Builder
	if err := tm.ExecuteTemplate(&b, name, data); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// storedHTML returns the HTML of the fragment entry r holds under key, and
// whether it holds a fresh one. tmplcache stores a struct of its own whose
// HTML field is the fragment's HTML.
func storedHTML(ctx context.Context, r *dogpile.Region, key string) (string, bool, error) {
	v, ok, err := dogpile.Get[any](ctx, r, key)
	if err != nil || !ok {
		return "", ok, err
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Struct || rv.FieldByName("HTML").Kind() != reflect.String {
		return "", true, fmt.Errorf("entry of type %T has no HTML field", v)
	}
	return rv.FieldByName("HTML").String(), true, nil
}

// counter is a template func that counts its calls and prints nothing.
type counter struct{ n atomic.Int64 }

func (c *counter) funcs(name string) template.FuncMap {
	return template.FuncMap{name: func() string { c.n.Add(1); return "" }}
}

func TestHitAndMissAreByteIdentical(t *testing.T) {
	var renders counter
	tm := parse(t, "page", `<h1>{{ .Value.Title }}</h1>{{ cached "sidebar" . }}<p>end</p>
{{- define "sidebar" }}{{ count }}<aside>{{ range .Value.Links }}<a href="{{ . }}">{{ . }}</a>{{ end }}</aside>{{ end }}`,
		renders.funcs("count"))
	bind(t, tm, tmplcache.New(memRegion(t, time.Hour)))
	data := htmltmpl.WithContext(context.Background(), map[string]any{
		"Title": "Home & <garden>",
		"Links": []string{"/a?x=1&y=2", "javascript:alert(1)"},
	})
	miss := run(t, tm, "page", data)
	hit := run(t, tm, "page", data)
	if miss != hit {
		t.Fatalf("miss and hit differ:\n%s\n%s", miss, hit)
	}
	if n := renders.n.Load(); n != 1 {
		t.Errorf("fragment rendered %d times, want 1", n)
	}
	const want = `<h1>Home &amp; &lt;garden&gt;</h1><aside><a href="/a?x=1&amp;y=2">/a?x=1&amp;y=2</a><a href="#ZgotmplZ">javascript:alert(1)</a></aside><p>end</p>`
	if miss != want {
		t.Errorf("got  %s\nwant %s", miss, want)
	}
}

func TestCachedEqualsTemplateInTextContext(t *testing.T) {
	tm := parse(t, "set", `
{{- define "viaCached" }}<main>{{ cached "frag" . }}</main>{{ end }}
{{- define "viaTemplate" }}<main>{{ template "frag" . }}</main>{{ end }}
{{- define "frag" }}<!-- a comment the escaper strips -->
<p title="{{ .Value.Name }}">{{ .Value.Name }}</p>
<a href="/search?q={{ .Value.Name }}&amp;u={{ .Value.URL }}">{{ .Value.URL }}</a>
<a href="{{ .Value.URL }}">x</a>
<script>var name = {{ .Value.Name }}, n = {{ .Value.N }};</script>
<style>p { color: {{ .Value.Color }} }</style>
<textarea>{{ .Value.Name }}</textarea>
{{- end }}`, nil)
	bind(t, tm, tmplcache.New(memRegion(t, time.Hour)))
	data := htmltmpl.WithContext(context.Background(), map[string]any{
		"Name":  `<b>"Tom" & 'Jerry'</b>`,
		"URL":   "javascript:alert(1)",
		"N":     42,
		"Color": "expression(alert(1))",
	})
	viaTemplate := run(t, tm, "viaTemplate", data)
	for i := range 2 { // miss, then hit
		if got := run(t, tm, "viaCached", data); got != viaTemplate {
			t.Errorf("execution %d: cached gives\n%s\ntemplate gives\n%s", i, got, viaTemplate)
		}
	}
}

// xssPayloads are hostile HTML, each aimed at breaking out of a context.
var xssPayloads = map[string]string{
	"breakout": `"><script>alert(1)</script>`,
	"js":       `javascript:alert(1)`,
	"style":    `</style><script>alert(1)</script>`,
	"script":   `</script><script>alert(1)</script>`,
	"single":   `' onmouseover='alert(1)`,
	"spaces":   `x onmouseover=alert(1)`,
}

// TestXSSInOtherContexts executes a fragment of hostile but trusted HTML in
// every context html/template knows, and checks that the result cannot
// break out of it.
func TestXSSInOtherContexts(t *testing.T) {
	payloads := xssPayloads
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
	for pname, payload := range payloads {
		for _, cx := range contexts {
			t.Run(pname+"/"+cx.name, func(t *testing.T) {
				tm := parse(t, "page", cx.prefix+`{{ cached "frag" . }}`+cx.suffix+
					`{{ define "frag" }}`+payload+`{{ end }}`, nil)
				bind(t, tm, tmplcache.New(memRegion(t, time.Hour)))
				for i := range 2 {
					out := run(t, tm, "page", nil)
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
	}
}

func TestVaryChangesKeys(t *testing.T) {
	var renders counter
	tm := parse(t, "page", `{{ cached "user" . .Value.ID }}{{ define "user" }}{{ count }}<b>{{ .Value.Name }}</b>{{ end }}`,
		renders.funcs("count"))
	c := tmplcache.New(memRegion(t, time.Hour))
	bind(t, tm, c)
	type user struct {
		ID   int
		Name string
	}
	ctx := context.Background()
	for _, u := range []user{{1, "ann"}, {2, "bob"}, {1, "changed"}, {2, "changed"}} {
		run(t, tm, "page", htmltmpl.WithContext(ctx, u))
	}
	if n := renders.n.Load(); n != 2 {
		t.Errorf("%d renders for two vary values, want 2", n)
	}
	if got := run(t, tm, "page", htmltmpl.WithContext(ctx, user{1, "x"})); got != "<b>ann</b>" {
		t.Errorf("vary 1 gives %s", got)
	}
	if got := run(t, tm, "page", htmltmpl.WithContext(ctx, user{2, "x"})); got != "<b>bob</b>" {
		t.Errorf("vary 2 gives %s", got)
	}
	k1, err1 := c.KeyFor("page", "user", 1)
	k2, err2 := c.KeyFor("page", "user", 2)
	k1s, err3 := c.KeyFor("page", "user", "1")
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if k1 == k2 {
		t.Errorf("keys collide: %s %s", k1, k2)
	}
	// Scalars are compared by their text: a handler invalidating with the
	// id from the URL ("1") addresses what the template cached for 1.
	if k1 != k1s {
		t.Errorf("KeyFor with \"1\" gives %s, with 1 %s", k1s, k1)
	}
}

func TestVaryValues(t *testing.T) {
	var renders counter
	tm := parse(t, "page", `{{ cached "v" . .Value }}{{ define "v" }}{{ count }}v{{ end }}`, renders.funcs("count"))
	c := tmplcache.New(memRegion(t, time.Hour))
	bind(t, tm, c)
	ctx := context.Background()
	execute := func(v any) (out string, err error) {
		t.Helper()
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("Execute panicked: %v", p)
			}
		}()
		var b strings.Builder
		err = tm.Execute(&b, htmltmpl.WithContext(ctx, v))
		return b.String(), err
	}
	// (*url.URL).String dereferences its receiver.
	for i, v := range []any{(*url.URL)(nil), (*url.URL)(nil), &url.URL{Host: "example.com"}} {
		if out, err := execute(v); out != "v" || err != nil {
			t.Errorf("execution %d with %#v: %q, %v", i, v, out, err)
		}
	}
	if n := renders.n.Load(); n != 2 {
		t.Errorf("%d renders, want 2: one per URL", n)
	}
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	if _, err := execute(cyclic); !errors.Is(err, tmplcache.ErrVaryValue) {
		t.Errorf("a value that refers to itself: %v, want ErrVaryValue", err)
	}
	if n := renders.n.Load(); n != 2 {
		t.Errorf("%d renders, want none for the value without a key", n-2)
	}
}

func TestKeyForAndInvalidate(t *testing.T) {
	ctx := context.Background()
	var renders counter
	def, local := memRegion(t, time.Hour), memRegion(t, time.Hour)
	c := tmplcache.New(def, tmplcache.WithRegion("local", local))
	tm := parse(t, "blog/post.html", `{{ cached "a" . 1 }}|{{ cached "a" . 2 }}|{{ cached "b" . }}
{{- define "a" }}{{ count }}a={{ .Value.A }}{{ end }}
{{- define "b" }}{{ count }}b={{ .Value.B }}{{ end }}`, renders.funcs("count"))
	bind(t, tm, c, htmltmpl.Fragment("b", htmltmpl.Region("local")))
	data := map[string]string{"A": "old", "B": "old"}
	if got := run(t, tm, "blog/post.html", htmltmpl.WithContext(ctx, data)); got != "a=old|a=old|b=old" {
		t.Fatalf("first render: %s", got)
	}
	// KeyFor gives the keys the page rendered into, in their regions.
	for _, tc := range []struct {
		r    *dogpile.Region
		name string
		vary []any
		want string
	}{{def, "a", []any{1}, "a=old"}, {def, "a", []any{2}, "a=old"}, {local, "b", nil, "b=old"}} {
		key, err := c.KeyFor("blog/post.html", tc.name, tc.vary...)
		if err != nil {
			t.Fatal(err)
		}
		v, ok, err := storedHTML(ctx, tc.r, key)
		if err != nil || !ok || v != tc.want {
			t.Errorf("%s %v: region holds %q, %v, %v under %s", tc.name, tc.vary, v, ok, err, key)
		}
	}
	if k, _ := c.KeyFor("blog/post.html", "b"); func() bool { _, ok, err := storedHTML(ctx, def, k); return ok || err != nil }() {
		t.Error(`fragment "b" is in the default region too, or reading it failed`)
	}

	data["A"], data["B"] = "new", "new"
	if got := run(t, tm, "blog/post.html", htmltmpl.WithContext(ctx, data)); got != "a=old|a=old|b=old" {
		t.Fatalf("cached render: %s", got)
	}
	if err := c.Invalidate(ctx, "blog/post.html", "a", 2); err != nil {
		t.Fatal(err)
	}
	if got := run(t, tm, "blog/post.html", htmltmpl.WithContext(ctx, data)); got != "a=old|a=new|b=old" {
		t.Errorf("after invalidating a/2: %s", got)
	}
	if err := c.Invalidate(ctx, "blog/post.html", "b"); err != nil {
		t.Fatal(err)
	}
	if got := run(t, tm, "blog/post.html", htmltmpl.WithContext(ctx, data)); got != "a=old|a=new|b=new" {
		t.Errorf("after invalidating b: %s", got)
	}
	if n := renders.n.Load(); n != 5 {
		t.Errorf("%d renders, want 5 (3 first, then one per invalidation)", n)
	}
	if _, err := c.KeyFor("blog/post.html", "nope"); !errors.Is(err, tmplcache.ErrUnknownFragment) {
		t.Errorf("KeyFor of an undefined fragment: %v", err)
	}
}

const digestPage = `{{ cached "f" . }}{{ define "f" }}{{/* note */}}<!-- stripped --><p>{{ .Value }}</p>{{ template "g" . }}{{ end }}{{ define "g" }}<i>{{ .Value }}</i>{{ end }}`

func TestDigestsAreTakenBeforeExecute(t *testing.T) {
	ctx := context.Background()
	var renders counter
	c := tmplcache.New(memRegion(t, time.Hour))
	first := parse(t, "page", digestPage+`{{ define "count" }}{{ count }}{{ end }}`, renders.funcs("count"))
	bind(t, first, c)
	key, err := c.KeyFor("page", "f")
	if err != nil {
		t.Fatal(err)
	}
	before := first.Lookup("f").Tree.Root.String()
	if got := run(t, first, "page", htmltmpl.WithContext(ctx, "x")); got != "<p>x</p><i>x</i>" {
		t.Fatalf("render: %s", got)
	}
	// This is why digests are taken before: escaping rewrote the tree.
	if after := first.Lookup("f").Tree.Root.String(); after == before {
		t.Fatalf("the escaper left the tree as it was: %s", after)
	}
	// Bind after Execute is refused: it could only digest rewritten trees.
	if err := htmltmpl.Bind(first, c); !errors.Is(err, htmltmpl.ErrExecuted) {
		t.Fatalf("Bind after Execute: %v, want ErrExecuted", err)
	}
	if k, _ := c.KeyFor("page", "f"); k != key {
		t.Errorf("a refused Bind changed the declaration: %s, was %s", k, key)
	}
	// Another process (here another set) parsing the same source gets the
	// same key, and the entry the first one stored.
	second := parse(t, "page", digestPage, nil)
	bind(t, second, c)
	if k, _ := c.KeyFor("page", "f"); k != key {
		t.Errorf("same source, other set: key %s, want %s", k, key)
	}
	if got := run(t, second, "page", htmltmpl.WithContext(ctx, "other data")); got != "<p>x</p><i>x</i>" {
		t.Errorf("second set missed the first set's entry: %s", got)
	}
	// Binding twice before Execute is allowed and changes nothing.
	third := parse(t, "page", digestPage, nil)
	bind(t, third, c)
	bind(t, third, c)
	if k, _ := c.KeyFor("page", "f"); k != key {
		t.Errorf("rebinding changed the key: %s, want %s", k, key)
	}
}

func TestEditedSourceGetsAnotherKey(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour))
	keyOf := func(text string) (string, string) {
		tm := parse(t, "page", text, nil)
		bind(t, tm, c)
		k, err := c.KeyFor("page", "f")
		if err != nil {
			t.Fatal(err)
		}
		return k, run(t, tm, "page", htmltmpl.WithContext(ctx, "x"))
	}
	k0, out0 := keyOf(digestPage)
	k1, out1 := keyOf(strings.Replace(digestPage, "<p>", "<p class=new>", 1))
	// Editing the template "f" includes retires "f" too.
	k2, out2 := keyOf(strings.NewReplacer("<i>", "<em>", "</i>", "</em>").Replace(digestPage))
	k3, _ := keyOf(strings.Replace(digestPage, "{{/* note */}}", "{{/* another note */}}", 1))
	if k0 == k1 || k0 == k2 || k1 == k2 {
		t.Errorf("edited fragments share keys: %s %s %s", k0, k1, k2)
	}
	if out1 != `<p class=new>x</p><i>x</i>` || out2 != `<p>x</p><em>x</em>` || out0 == out1 {
		t.Errorf("edited fragments render %s and %s", out1, out2)
	}
	// Template comments are not part of the parse tree: editing them keeps
	// the key.
	if k3 != k0 {
		t.Errorf("editing a comment changed the key: %s, was %s", k3, k0)
	}
}

func TestClone(t *testing.T) {
	c := tmplcache.New(memRegion(t, time.Hour))
	base := parse(t, "layout", `<nav>{{ cached "menu" . }}</nav><main>{{ block "content" . }}none{{ end }}</main>
{{- define "menu" }}menu:{{ template "label" . }}{{ end }}{{ define "label" }}base{{ end }}`, nil)
	bind(t, base, c)

	// A clone that only adds templates shares the base's fragments.
	plain, err := htmltmpl.Clone(base, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Parse(`{{ define "content" }}plain page{{ end }}`); err != nil {
		t.Fatal(err)
	}
	// A clone that redefines an included template gets its own key, once
	// bound again after parsing.
	other, err := htmltmpl.Clone(base, c, htmltmpl.SetName("other"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Parse(`{{ define "label" }}other{{ end }}{{ define "content" }}other page{{ end }}`); err != nil {
		t.Fatal(err)
	}
	bind(t, other, c, htmltmpl.SetName("other"))

	ctx := htmltmpl.WithContext(context.Background(), nil)
	if got := run(t, plain, "layout", ctx); got != "<nav>menu:base</nav><main>plain page</main>" {
		t.Errorf("plain clone: %s", got)
	}
	if got := run(t, other, "layout", ctx); got != "<nav>menu:other</nav><main>other page</main>" {
		t.Errorf("other clone: %s", got)
	}
	if got := run(t, base, "layout", ctx); got != "<nav>menu:base</nav><main>none</main>" {
		t.Errorf("base: %s", got)
	}
	kb, _ := c.KeyFor("layout", "menu")
	ko, _ := c.KeyFor("other", "menu")
	if kb == ko {
		t.Error("the redefined clone shares the base's key")
	}
	if _, err := htmltmpl.Clone(base, c); !errors.Is(err, htmltmpl.ErrExecuted) {
		t.Errorf("Clone after Execute: %v, want ErrExecuted", err)
	}
}

type ctxKey struct{}

// page is application data that carries its request's context.
type page struct {
	ctx  context.Context
	Name string
	Vary int
}

func (p page) Context() context.Context { return p.ctx }

func (p page) WithContext(ctx context.Context) any { p.ctx = ctx; return p }

func TestContextReachesTheRegion(t *testing.T) {
	var mu sync.Mutex
	var seen []any
	obs := observe.Func(func(ctx context.Context, e observe.Event) {
		if e.Op == observe.OpGetOrCreate {
			mu.Lock()
			seen = append(seen, ctx.Value(ctxKey{}))
			mu.Unlock()
		}
	})
	c := tmplcache.New(memRegion(t, time.Hour, dogpile.WithObserver(obs)))
	fromCtx := template.FuncMap{"fromctx": func(ctx context.Context) any { return ctx.Value(ctxKey{}) }}
	tm := parse(t, "page", `{{ cached "f" . .Vary }}{{ define "f" }}[{{ fromctx .Context }}]{{ end }}`, fromCtx)
	bind(t, tm, c)

	type wrapped struct {
		htmltmpl.Data
		Vary int
	}
	for _, tc := range []struct {
		name string
		data func(ctx context.Context) any
	}{
		{"Data", func(ctx context.Context) any { return wrapped{htmltmpl.WithContext(ctx, nil), 1} }},
		{"map", func(ctx context.Context) any {
			return map[string]any{htmltmpl.ContextKey: ctx, "Vary": 2, "Context": ctx}
		}},
		{"embedded *Data", func(ctx context.Context) any {
			return &struct {
				*htmltmpl.Data
				Vary int
			}{&htmltmpl.Data{Ctx: ctx}, 3}
		}},
		{"ContextReplacer", func(ctx context.Context) any { return page{ctx: ctx, Vary: 4} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			want := "request-" + tc.name
			ctx := context.WithValue(context.Background(), ctxKey{}, want)
			if got := run(t, tm, "page", tc.data(ctx)); got != "["+want+"]" {
				t.Errorf("the fragment saw %s", got)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 1 || seen[0] != want {
				t.Errorf("the observer saw %v", seen)
			}
		})
	}

	// A ContextReplacer that returns another type is refused: the fragment
	// would see data of another type than the page gave it.
	type bad struct{ page }
	err := tm.ExecuteTemplate(new(strings.Builder), "page", bad{page{ctx: context.Background(), Vary: 5}})
	if err == nil || !strings.Contains(err.Error(), "WithContext returned") {
		t.Errorf("ContextReplacer of another type: %v", err)
	}

	// *http.Request carries a context, too.
	req := httptest.NewRequest("GET", "/", nil)
	req = req.WithContext(context.WithValue(req.Context(), ctxKey{}, "from request"))
	mu.Lock()
	seen = nil
	mu.Unlock()
	tr := parse(t, "req", `{{ cached "f" . }}{{ define "f" }}{{ .URL.Path }}{{ end }}`, nil)
	bind(t, tr, c)
	if got := run(t, tr, "req", req); got != "/" {
		t.Errorf("request data: %s", got)
	}
	mu.Lock()
	if len(seen) != 1 || seen[0] != "from request" {
		t.Errorf("the observer saw %v", seen)
	}
	mu.Unlock()
}

// within executes page of tm with data and fails t when that does not
// return within d: a deadlock.
func within(t *testing.T, d time.Duration, tm *template.Template, page string, data any) (string, error) {
	t.Helper()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		var b strings.Builder
		err := tm.ExecuteTemplate(&b, page, data)
		done <- result{b.String(), err}
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-time.After(d):
		t.Fatalf("deadlock: %s gave no answer after %v", page, d)
		return "", nil
	}
}

func TestNestedFragments(t *testing.T) {
	var outer, inner counter
	funcs := template.FuncMap{}
	for k, v := range outer.funcs("countOuter") {
		funcs[k] = v
	}
	for k, v := range inner.funcs("countInner") {
		funcs[k] = v
	}
	c := tmplcache.New(memRegion(t, time.Hour))
	tm := parse(t, "page", `{{ cached "outer" . }}
{{- define "outer" }}{{ countOuter }}<div>{{ cached "inner" . }}|{{ range .Value }}{{ cached "item" (withctx $ .) . }}{{ end }}</div>{{ end }}
{{- define "inner" }}{{ countInner }}<p>{{ len .Value }}</p>{{ end }}
{{- define "item" }}<i>{{ .Value }}</i>{{ end }}`, funcs)
	bind(t, tm, c)
	data := htmltmpl.WithContext(context.Background(), []string{"a", "b"})
	for range 2 {
		got, err := within(t, 5*time.Second, tm, "page", data)
		if err != nil || got != "<div><p>2</p>|<i>a</i><i>b</i></div>" {
			t.Errorf("nested render: %s, %v", got, err)
		}
	}
	if outer.n.Load() != 1 || inner.n.Load() != 1 {
		t.Errorf("outer rendered %d times, inner %d, want 1 and 1", outer.n.Load(), inner.n.Load())
	}
	// The inner fragment has its own entry.
	ctx := context.Background()
	if err := c.Invalidate(ctx, "page", "outer"); err != nil {
		t.Fatal(err)
	}
	run(t, tm, "page", data)
	if outer.n.Load() != 2 || inner.n.Load() != 1 {
		t.Errorf("after invalidating outer: outer rendered %d times, inner %d, want 2 and 1", outer.n.Load(), inner.n.Load())
	}
}

func TestRecursionIsAnErrorNotADeadlock(t *testing.T) {
	c := tmplcache.New(memRegion(t, time.Hour))
	tm := parse(t, "page", `
{{- define "self" }}<i>{{ cached "self" . }}</i>{{ end }}
{{- define "a" }}<a>{{ cached "b" . }}</a>{{ end }}
{{- define "b" }}<b>{{ template "c" . }}</b>{{ end }}
{{- define "c" }}{{ cached "a" . }}{{ end }}
{{- define "tree" }}<li>{{ .Value.Name }}{{ range .Value.Kids }}{{ cached "tree" (withctx $ .) .Name }}{{ end }}</li>{{ end }}
{{- define "selfPage" }}{{ cached "self" . }}{{ end }}
{{- define "cyclePage" }}{{ cached "a" . }}{{ end }}
{{- define "treePage" }}{{ cached "tree" . "root" }}{{ end }}
{{- define "blindPage" }}{{ cached "a" .Value }}{{ end }}`, nil)
	bind(t, tm, c)
	ctx := context.Background()
	for _, tc := range []struct {
		page string
		data any
		want error
	}{
		{"selfPage", htmltmpl.WithContext(ctx, nil), tmplcache.ErrRecursion},
		{"cyclePage", htmltmpl.WithContext(ctx, nil), tmplcache.ErrRecursion},
		{"selfPage", map[string]any{htmltmpl.ContextKey: ctx}, tmplcache.ErrRecursion},
		{"cyclePage", &htmltmpl.Data{Ctx: ctx}, tmplcache.ErrRecursion},
		{"cyclePage", page{ctx: ctx}, tmplcache.ErrRecursion},
		// Data that cannot carry the chain is refused before anything waits.
		{"blindPage", htmltmpl.WithContext(ctx, "plain"), htmltmpl.ErrNeedsContext},
		{"selfPage", nil, htmltmpl.ErrNeedsContext},
		{"selfPage", map[string]any{"no": "context"}, htmltmpl.ErrNeedsContext},
	} {
		_, err := within(t, 5*time.Second, tm, tc.page, tc.data)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s with %T: %v, want %v", tc.page, tc.data, err, tc.want)
		}
	}

	// Recursion over distinct keys is fine.
	type node struct {
		Name string
		Kids []node
	}
	root := node{"root", []node{{"x", []node{{"y", nil}}}, {"z", nil}}}
	got, err := within(t, 5*time.Second, tm, "treePage", htmltmpl.WithContext(ctx, root))
	if err != nil || got != "<li>root<li>x<li>y</li></li><li>z</li></li>" {
		t.Errorf("tree: %s, %v", got, err)
	}
}

// fakeClock is a settable clock for regions.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *fakeClock                   { c := &fakeClock{}; c.ns.Store(time.Now().UnixNano()); return c }
func (c *fakeClock) option() dogpile.Option  { return dogpile.WithClock(c.now) }
func (c *fakeClock) region(t testing.TB, exp time.Duration) *dogpile.Region {
	return memRegion(t, exp, c.option())
}

func TestOneRenderPerExpiryUnderLoad(t *testing.T) {
	clock := newClock()
	const goroutines, rounds = 100, 3
	var renders, served atomic.Int64
	var gate chan struct{} // closed when every other execution of a round is served
	slow := template.FuncMap{"slow": func() string {
		if renders.Add(1) > 1 {
			select {
			case <-gate:
			case <-time.After(10 * time.Second):
				t.Errorf("the other executions were not served while the fragment rendered (%d of them were)", served.Load())
			}
		}
		return ""
	}}
	c := tmplcache.New(clock.region(t, time.Minute))
	tm := parse(t, "page", `<body>{{ cached "slow" . }}</body>{{ define "slow" }}{{ slow }}<p>slow fragment</p>{{ end }}`, slow)
	bind(t, tm, c)
	data := htmltmpl.WithContext(context.Background(), nil)
	if got := run(t, tm, "page", data); got != "<body><p>slow fragment</p></body>" {
		t.Fatalf("render: %s", got)
	}
	for round := 1; round <= rounds; round++ {
		clock.advance(2 * time.Minute)
		gate = make(chan struct{})
		served.Store(0)
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, goroutines)
		for range goroutines {
			wg.Go(func() {
				<-start
				var b strings.Builder
				if err := tm.Execute(&b, data); err != nil {
					errs <- err
				} else if b.String() != "<body><p>slow fragment</p></body>" {
					errs <- errors.New("wrong output: " + b.String())
				}
				if served.Add(1) == goroutines-1 {
					close(gate)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := renders.Load(); n != int64(1+round) {
			t.Fatalf("round %d: %d renders in all, want %d (one per expiry)", round, n, 1+round)
		}
	}
}

func TestBindOptionsAndErrors(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	def, local := clock.region(t, time.Hour), clock.region(t, time.Hour)
	c := tmplcache.New(def, tmplcache.WithRegion("local", local))
	text := `{{ cached "a" . }}{{ cached "b" . }}{{ define "a" }}{{ count }}a{{ end }}{{ define "b" }}{{ count }}b{{ end }}`
	var renders counter

	tm := parse(t, "page", text, renders.funcs("count"))
	if err := htmltmpl.Bind(tm, c, htmltmpl.Fragment("nope")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Fragment of an undefined template: %v", err)
	}
	if err := htmltmpl.Bind(tm, c, htmltmpl.Fragment("a", htmltmpl.Region("elsewhere"))); !errors.Is(err, tmplcache.ErrUnknownRegion) {
		t.Errorf("unknown region: %v", err)
	}
	if err := htmltmpl.Bind(nil, c); err == nil {
		t.Error("Bind(nil) succeeded")
	}
	if err := htmltmpl.Bind(tm, nil); err == nil {
		t.Error("Bind without a Cache succeeded")
	}
	// Not bound yet (every Bind above failed): the placeholder refuses.
	if err := tm.Execute(new(strings.Builder), nil); !errors.Is(err, htmltmpl.ErrNotBound) {
		t.Errorf("unbound set: %v, want ErrNotBound", err)
	}

	tm = parse(t, "page", text, renders.funcs("count"))
	bind(t, tm, c,
		htmltmpl.Defaults(htmltmpl.Region("local"), htmltmpl.Expires(time.Minute)),
		htmltmpl.Fragment("b", htmltmpl.Region(""), htmltmpl.Expires(-1)))
	run(t, tm, "page", nil)
	ka, _ := c.KeyFor("page", "a")
	kb, _ := c.KeyFor("page", "b")
	if _, ok, _ := storedHTML(ctx, local, ka); !ok {
		t.Error(`"a" is not in the region Defaults chose`)
	}
	if _, ok, _ := storedHTML(ctx, def, kb); !ok {
		t.Error(`"b" is not in the region Fragment chose`)
	}
	clock.advance(2 * time.Hour) // past a's minute and both regions' hour
	renders.n.Store(0)
	run(t, tm, "page", nil)
	if n := renders.n.Load(); n != 1 {
		t.Errorf("%d renders after two hours, want 1 (a expired, b never)", n)
	}

	// A template added after Bind is unknown to cached until Bind again.
	late := parse(t, "late", `{{ cached "later" . }}`, nil)
	bind(t, late, c)
	if _, err := late.Parse(`{{ define "later" }}x{{ end }}`); err != nil {
		t.Fatal(err)
	}
	if err := late.Execute(new(strings.Builder), nil); !errors.Is(err, tmplcache.ErrUnknownFragment) {
		t.Errorf("fragment parsed after Bind: %v, want ErrUnknownFragment", err)
	}
}

func TestContextCarriers(t *testing.T) {
	ctx := context.WithValue(context.Background(), ctxKey{}, 1)
	d := htmltmpl.WithContext(ctx, "v")
	if d.Context() != ctx || d.Value != "v" {
		t.Errorf("WithContext: %+v", d)
	}
	if (htmltmpl.Data{}).Context() == nil {
		t.Error("Data without Ctx has a nil context")
	}
	other := context.Background()
	if got := d.WithContext(other).(htmltmpl.Data); got.Ctx != other || got.Value != "v" || d.Ctx != ctx {
		t.Errorf("Data.WithContext: %+v, receiver %+v", got, d)
	}
	var _ htmltmpl.ContextReplacer = htmltmpl.Data{}
	var _ htmltmpl.ContextReplacer = page{}
}
