package htmltmpl_test

import (
	"context"
	"html/template"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/htmltmpl"
	"github.com/dogpilego/dogpile/tmplcache"
)

// depPage has fragments that reach other templates in every way a digest
// follows: {{ template }} two levels deep, {{ block }}, and the fragment
// funcs with constant names.
const depPage = `<body>{{ cached "f" . }}|{{ cached "lone" . }}</body>
{{- define "f" }}<f>{{ template "g" . }}{{ block "b" . }}[b]{{ end }}</f>{{ end }}
{{- define "g" }}<g>{{ template "h" . }}</g>{{ end }}
{{- define "h" }}<h>{{ count }}{{ .Value }}</h>{{ end }}
{{- define "lone" }}<lone>{{ count }}</lone>{{ end }}
{{- define "if" }}{{ cachedIf true "h" . }}{{ end }}
{{- define "each" }}{{ cachedEach "h" . .Value }}{{ end }}
{{- define "unless" }}{{ cachedUnless true "g" . }}{{ end }}`

func TestDigestFollowsReferences(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour))
	var renders counter
	keys := func(text string) map[string]string {
		t.Helper()
		tm := parse(t, "page", text, renders.funcs("count"))
		bind(t, tm, c)
		out := map[string]string{}
		for _, name := range []string{"f", "g", "h", "lone", "if", "each", "unless", "b"} {
			k, err := c.KeyFor("page", name)
			if err != nil {
				t.Fatal(err)
			}
			out[name] = k
		}
		return out
	}
	base := keys(depPage)
	for _, tc := range []struct {
		what, old, new string
		changed        []string // the fragments whose keys change
	}{
		{"edit h, two levels below f", "<h>", "<h class=x>", []string{"f", "g", "h", "if", "each", "unless"}},
		{"edit g", "<g>", "<g class=x>", []string{"f", "g", "unless"}},
		{"edit the block's default", "[b]", "[B]", []string{"f", "b"}},
		{"edit the page", "<body>", "<body class=x>", []string{}},
		{"edit lone", "<lone>", "<lone class=x>", []string{"lone"}},
	} {
		edited := keys(strings.Replace(depPage, tc.old, tc.new, 1))
		changed := map[string]bool{}
		for _, n := range tc.changed {
			changed[n] = true
		}
		for name, k := range base {
			if (edited[name] != k) != changed[name] {
				t.Errorf("%s: key of %q changed: %v, want %v", tc.what, name, edited[name] != k, changed[name])
			}
		}
	}

	// Editing a referenced template retires the fragment: a set parsed
	// from the edited source renders it again, the unedited one does not.
	data := htmltmpl.WithContext(ctx, "x")
	old := parse(t, "page", depPage, renders.funcs("count"))
	bind(t, old, c)
	renders.n.Store(0)
	if got := run(t, old, "page", data); got != "<body><f><g><h>x</h></g>[b]</f>|<lone></lone></body>" {
		t.Fatalf("render: %s", got)
	}
	edited := parse(t, "page", strings.Replace(depPage, "<h>", "<h class=x>", 1), renders.funcs("count"))
	bind(t, edited, c)
	if got := run(t, edited, "page", data); got != `<body><f><g><h class=x>x</h></g>[b]</f>|<lone></lone></body>` {
		t.Errorf("edited h: %s", got)
	}
	if n := renders.n.Load(); n != 3 {
		t.Errorf("%d renders, want 3: f and lone, then f again", n)
	}
	same := parse(t, "page", depPage, renders.funcs("count"))
	bind(t, same, c)
	run(t, same, "page", data)
	if n := renders.n.Load(); n != 3 {
		t.Errorf("the unedited source rendered again: %d renders", n-3)
	}
}

func TestDigestIgnoresBinding(t *testing.T) {
	c := tmplcache.New(memRegion(t, time.Hour))
	// Names quoted in every way Go allows, and names that are not
	// identifiers, all bound to funcs of their own.
	text := "{{ cached `raw name` . }}{{ cached \"dq\\x41\" . }}{{ cached \"a/b c.html\" . 1 }}{{ cached \"é\" . }}{{ cached (print \"dyn\") . }}{{ cached \"dqA\" (withctx $ .) }}{{ cached \"dqA\" (withctx $ .) ( print 1 | print ) .Value }}" +
		"{{ define `raw name` }}r{{ end }}{{ define \"dqA\" }}d{{ end }}{{ define \"a/b c.html\" }}a{{ end }}{{ define \"é\" }}e{{ end }}{{ define \"dyn\" }}y{{ end }}"
	key := func(tm *template.Template, name string, vary ...any) string {
		t.Helper()
		k, err := c.KeyFor(tm.Name(), name, vary...)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	names := []string{"raw name", "dqA", "a/b c.html", "é", "dyn", "page"}
	tm := parse(t, "page", text, nil)
	before := map[string]string{}
	for _, x := range tm.Templates() {
		before[x.Name()] = x.Tree.Root.String()
	}
	bind(t, tm, c)
	first := map[string]string{}
	for _, n := range names {
		first[n] = key(tm, n)
	}
	// Binding rewrote the calls of the page...
	if after := tm.Lookup("page").Tree.Root.String(); after == before["page"] || strings.Contains(after, `cached "dqA"`) {
		t.Errorf("the page's calls were not bound: %s", after)
	}
	// ...but neither the keys of a second Bind nor those of a set that was
	// never bound see it.
	bind(t, tm, c)
	for _, n := range names {
		if k := key(tm, n); k != first[n] {
			t.Errorf("%q: a second Bind changed the key", n)
		}
	}
	fresh := parse(t, "page", text, nil)
	for _, x := range fresh.Templates() {
		if x.Tree.Root.String() != before[x.Name()] {
			t.Fatal("parsing is not deterministic")
		}
	}
	clone, err := htmltmpl.Clone(tm, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if k := key(clone, n); k != first[n] {
			t.Errorf("%q: the clone of a bound set has another key", n)
		}
	}
	if got := run(t, clone, "page", htmltmpl.WithContext(context.Background(), nil)); got != "rdaeydd" {
		t.Errorf("clone renders %s", got)
	}
	if got := run(t, tm, "page", htmltmpl.WithContext(context.Background(), nil)); got != "rdaeydd" {
		t.Errorf("set renders %s", got)
	}
	// Check reads bound calls as the source wrote them.
	if problems := htmltmpl.Check(clone); len(problems) != 0 {
		t.Errorf("Check of a bound set: %v", problems)
	}
}

func TestCloneRebinding(t *testing.T) {
	ctx := htmltmpl.WithContext(context.Background(), nil)
	c := tmplcache.New(memRegion(t, time.Hour))
	var renders counter
	base := parse(t, "layout", `<nav>{{ cached "menu" . }}</nav>{{ block "content" . }}{{ end }}
{{- define "menu" }}{{ count }}<m>{{ template "item" . }}</m>{{ end }}{{ define "item" }}base{{ end }}`, renders.funcs("count"))
	bind(t, base, c)
	baseKey, _ := c.KeyFor("layout", "menu")

	// A clone bound under another name, then given its own "item": its
	// menu's digest follows the clone's templates once bound again.
	clone, err := htmltmpl.Clone(base, c, htmltmpl.SetName("other"))
	if err != nil {
		t.Fatal(err)
	}
	cloneKey, _ := c.KeyFor("other", "menu")
	if _, err := clone.Parse(`{{ define "item" }}other{{ end }}`); err != nil {
		t.Fatal(err)
	}
	if k, _ := c.KeyFor("other", "menu"); k != cloneKey {
		t.Error("parsing into the clone changed its declaration before Bind")
	}
	bind(t, clone, c, htmltmpl.SetName("other"))
	rebound, _ := c.KeyFor("other", "menu")
	if rebound == cloneKey {
		t.Error("the clone's menu kept its digest after its item was redefined and the clone bound again")
	}
	if got := run(t, clone, "layout", ctx); got != "<nav><m>other</m></nav>" {
		t.Errorf("clone: %s", got)
	}
	if got := run(t, base, "layout", ctx); got != "<nav><m>base</m></nav>" {
		t.Errorf("base: %s", got)
	}
	if k, _ := c.KeyFor("layout", "menu"); k != baseKey {
		t.Error("binding the clone changed the base's key")
	}
	if n := renders.n.Load(); n != 2 {
		t.Errorf("%d renders, want 2: one menu per set", n)
	}
	// template.Template.Clone alone keeps the base's funcs: the clone
	// renders the base's fragments.
	plain := parse(t, "plain", `{{ cached "menu" . }}{{ define "menu" }}<m>{{ template "item" . }}</m>{{ end }}{{ define "item" }}base{{ end }}`, nil)
	bind(t, plain, tmplcache.New(memRegion(t, time.Hour)))
	raw, err := plain.Clone()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Parse(`{{ define "item" }}raw{{ end }}`); err != nil {
		t.Fatal(err)
	}
	if got := run(t, raw, "plain", ctx); got != "<m>base</m>" {
		t.Errorf("a clone that was not bound again: %s, want the base's fragment", got)
	}
}
