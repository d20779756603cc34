package pongo2ext_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/pongo2ext"
)

// The block of the design card, as users write it.
const designCard = `<% cached region="memcached" %><aside>{{ count("card") }}</aside><% endcached %>`

// newMakoSet returns a Set over files, in e's Cache, with e's counter.
func (e *env) newMakoSet(files fstest.MapFS) *pongo2ext.Set {
	set := pongo2ext.NewSet("mako", e.cache, pongo2.NewFSLoader(files))
	set.Globals["count"] = e.set.Globals["count"]
	return set
}

func TestSetRewritesMakoInEveryLoadPath(t *testing.T) {
	files := fstest.MapFS{
		"card.html":     {Data: []byte(designCard)},
		"includer.html": {Data: []byte(`[{% include "card.html" %}]`)},
		"base.html":     {Data: []byte(designCard + `{% block main %}{% endblock %}`)},
		"child.html":    {Data: []byte(`{% extends "base.html" %}{% block main %}child{% endblock %}`)},
		"macros.html":   {Data: []byte(`{% macro card() export %}` + designCard + `{% endmacro %}`)},
		"importer.html": {Data: []byte(`{% import "macros.html" card %}{{ card() }}`)},
		"ssi.html":      {Data: []byte(`{% ssi "card.html" parsed %}`)},
	}
	e := newEnv(t, envConfig{})
	set := e.newMakoSet(files)
	run := func(t *testing.T) func(*pongo2.Template, error) string {
		return func(tpl *pongo2.Template, err error) string {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			out, err := tpl.Execute(nil)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	for _, tc := range []struct {
		how      string
		out      func(t *testing.T) string
		want     string
		template string // of the block
	}{
		{"FromString", func(t *testing.T) string { return run(t)(set.FromString(designCard)) }, "<aside>card#1</aside>", "<string>"},
		{"FromBytes", func(t *testing.T) string { return run(t)(set.FromBytes([]byte(designCard))) }, "<aside>card#1</aside>", "<string>"},
		{"RenderTemplateString", func(t *testing.T) string {
			out, err := set.RenderTemplateString(designCard, nil)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}, "<aside>card#1</aside>", "<string>"},
		{"RenderTemplateBytes", func(t *testing.T) string {
			out, err := set.RenderTemplateBytes([]byte(designCard), nil)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}, "<aside>card#1</aside>", "<string>"},
		{"FromFile", func(t *testing.T) string { return run(t)(set.FromFile("card.html")) }, "<aside>card#2</aside>", "card.html"},
		{"FromCache", func(t *testing.T) string { return run(t)(set.FromCache("card.html")) }, "<aside>card#2</aside>", "card.html"},
		{"RenderTemplateFile", func(t *testing.T) string {
			out, err := set.RenderTemplateFile("card.html", nil)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}, "<aside>card#2</aside>", "card.html"},
		{"include", func(t *testing.T) string { return run(t)(set.FromFile("includer.html")) }, "[<aside>card#2</aside>]", "card.html"},
		{"include from a string", func(t *testing.T) string { return run(t)(set.FromString(`{% include "card.html" %}`)) }, "<aside>card#2</aside>", "card.html"},
		{"ssi parsed", func(t *testing.T) string { return run(t)(set.FromFile("ssi.html")) }, "<aside>card#2</aside>", "card.html"},
		{"extends", func(t *testing.T) string { return run(t)(set.FromFile("child.html")) }, "<aside>card#3</aside>child", "base.html"},
		{"import", func(t *testing.T) string { return run(t)(set.FromFile("importer.html")) }, "<aside>card#4</aside>", "macros.html"},
		{"import again", func(t *testing.T) string { return run(t)(set.FromCache("importer.html")) }, "<aside>card#4</aside>", "macros.html"},
	} {
		t.Run(tc.how, func(t *testing.T) {
			before := len(e.observedKeys())
			if got := tc.out(t); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			keys := e.observedKeys()[before:]
			if want := mustKey(t, e.cache, tc.template, "#1"); len(keys) != 1 || keys[0] != want {
				t.Errorf("keys %q, want [%s]", keys, want)
			}
			if calls := e.backendCalls(); calls["memcached.Get"] != 1 || calls["default.Get"] != 0 {
				t.Errorf("backend calls %v, want one read of the memcached region", calls)
			}
		})
	}
}

func TestSetRefusesMakoTagsItCannotRewrite(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		line, col int
		text      string
	}{
		{"unknown tag", "<p>\n  <% foo %>\n</p>", 2, 3, "<% foo %>"},
		{"unknown tag with arguments", `a <% include "x.html" %> b`, 1, 3, `<% include "x.html" %>`},
		{"Mako block", "<%block name=\"side\">x</%block>", 1, 1, `<%block name="side">x</%block>`},
		{"Mako def", "\n\n<%def name=\"f()\">", 3, 1, `<%def name="f()">`},
		{"cached over two lines", "ok\n<% cached name=\"x\"\n   %>y<% endcached %>", 2, 1, `<% cached name="x"`},
		{"second one", `<% cached %>x<% endcached %>{% if a %}<%endif%>{% endif %}`, 1, 39, "<%endif%>"},
		{"unclosed", `text <% cached`, 1, 6, "<% cached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{})
			set := e.newMakoSet(fstest.MapFS{
				"t.html":  {Data: []byte(tc.src)},
				"in.html": {Data: []byte(`{% include "t.html" %}`)},
			})
			for how, load := range map[string]func() (*pongo2.Template, error){
				"FromString": func() (*pongo2.Template, error) { return set.FromString(tc.src) },
				"FromBytes":  func() (*pongo2.Template, error) { return set.FromBytes([]byte(tc.src)) },
				"FromFile":   func() (*pongo2.Template, error) { return set.FromFile("t.html") },
				"FromCache":  func() (*pongo2.Template, error) { return set.FromCache("t.html") },
				"include":    func() (*pongo2.Template, error) { return set.FromFile("in.html") },
			} {
				tpl, err := load()
				var pe *pongo2.Error
				if !errors.As(err, &pe) || pe.Sender != "parser" || pe.Line != tc.line || pe.Column != tc.col ||
					!strings.Contains(err.Error(), "Mako-style tag "+tc.text) || !strings.Contains(err.Error(), "verbatim") {
					t.Errorf("%s: template %v, error %v\nwant a parse error at %d:%d naming %s", how, tpl, err, tc.line, tc.col, tc.text)
				}
			}
			if _, err := set.RenderTemplateString(tc.src, nil); err == nil {
				t.Error("RenderTemplateString: no error")
			}
		})
	}
}

func TestSetKeepsTextThatIsNotATag(t *testing.T) {
	e := newEnv(t, envConfig{})
	set := e.newMakoSet(nil)
	for _, src := range []string{
		`50<% of users`,
		"a <% b\n c %> d",
		`<%= erb %> <%@ page %> <%-- jsp --%> <% %>`,
		`{% verbatim %}<script type="text/template"><% _.each(items, f) %></script>{% endverbatim %}`,
		`{# <% old %> #}kept`,
		`<%% cached %>`,
	} {
		got, err := set.RenderTemplateString(src, nil)
		want := uncachedRender(t, src)
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", src, got, err, want)
		}
	}
}

// uncachedRender renders src with pongo2's default set.
func uncachedRender(t *testing.T, src string) string {
	t.Helper()
	out, err := pongo2.RenderTemplateString(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The one way around a Set's rewriting: the embedded set's own methods,
// which pongo2 gives no hook. What they do is printed as text, and Check
// finds it.
func TestEmbeddedSetDoesNotRewrite(t *testing.T) {
	e := newEnv(t, envConfig{})
	files := fstest.MapFS{"card.html": {Data: []byte(designCard)}}
	set := e.newMakoSet(files)
	tpl, err := set.TemplateSet.FromString(designCard)
	if err != nil {
		t.Fatal(err)
	}
	if got := render(t, tpl, nil); got != designCard[:strings.Index(designCard, "<aside>")]+"<aside>card#1</aside><% endcached %>" {
		t.Errorf("embedded FromString: %q", got)
	}
	problems, err := pongo2ext.CheckFS(files)
	if err != nil || len(problems) != 2 {
		t.Errorf("CheckFS: %v, %v", problems, err)
	}
	// Through the set's loaders even the embedded methods rewrite.
	if tpl, err = set.TemplateSet.FromFile("card.html"); err != nil {
		t.Fatal(err)
	}
	if got := render(t, tpl, nil); got != "<aside>card#2</aside>" {
		t.Errorf("embedded FromFile: %q", got)
	}
}

func TestNewSetWithoutLoaders(t *testing.T) {
	e := newEnv(t, envConfig{})
	for _, set := range []*pongo2ext.Set{pongo2ext.NewSet("none", e.cache), pongo2ext.NewSet("nil", e.cache, nil)} {
		set.Globals["count"] = e.set.Globals["count"]
		out, err := set.RenderTemplateString(designCard, nil)
		if err != nil || !strings.HasPrefix(out, "<aside>card#") {
			t.Errorf("FromString: %q, %v", out, err)
		}
		if _, err := set.FromFile("card.html"); err == nil {
			t.Error("FromFile found a file")
		}
		if _, err := set.RenderTemplateFile("card.html", nil); err == nil {
			t.Error("RenderTemplateFile found a file")
		}
		if _, err := set.FromString(`{% include "card.html" %}`); err == nil {
			t.Error("include found a file")
		}
	}
	// Without a Cache the blocks fail as with Install(set, nil).
	set := pongo2ext.NewSet("nocache", nil)
	if _, err := set.RenderTemplateString(`{% cached %}x{% endcached %}`, nil); !errors.Is(pongo2ext.Cause(err), pongo2ext.ErrNoCache) {
		t.Errorf("without a Cache: %v", err)
	}
	// Errors, not panics, where pongo2's shortcuts panic.
	if _, err := set.RenderTemplateString(`{% if %}`, nil); err == nil {
		t.Error("no parse error")
	}
	if _, err := set.RenderTemplateBytes([]byte(`{{ `), nil); err == nil {
		t.Error("no parse error")
	}
}

func TestSetParsesMakoLikeMakoLoader(t *testing.T) {
	e := newEnv(t, envConfig{})
	set := e.newMakoSet(makoFiles)
	tpl, err := set.FromFile("page.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, title := range []string{"one", "two"} {
		const side = "\n<aside>side#1</aside>\n\n"
		if got, want := render(t, tpl, pongo2.Context{"title": title, "user": 7}), "<h1>"+title+"</h1>\n"+side; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	// broken.html has a tag over two lines: MakoLoader leaves it, a Set refuses it.
	if _, err := set.FromFile("broken.html"); err == nil || !strings.Contains(err.Error(), "Line 2 Col 3") {
		t.Errorf("broken.html: %v", err)
	}
	lenient := pongo2.NewSet("lenient", pongo2ext.MakoLoader(pongo2.NewFSLoader(fstest.MapFS{
		"two.html": {Data: []byte("ok\n<% cached name=\"x\"\n %>y")},
	})))
	if tpl, err := lenient.FromFile("two.html"); err != nil || render(t, tpl, nil) != "ok\n<% cached name=\"x\"\n %>y" {
		t.Errorf("through MakoLoader: %v", err)
	}
}
