package pongo2ext_test

import (
	"io"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/pongo2ext"
)

func TestRewriteMako(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<% cached name="side" region="memcached" %>x<% endcached %>`, `{% cached "side" region="memcached" %}x{% endcached %}`},
		{`<% cached region="r" name='side' expires="60" user.id %>`, `{% cached 'side' region="r" expires=60 user.id %}`},
		{`<%cached "side" expires=60%>`, `{% cached "side" expires=60 %}`},
		{`<%  cached   name="a b"   key=k  %>`, `{% cached "a b" key=k %}`},
		{`<% cached name="x" expires="-1" %>`, `{% cached "x" expires=-1 %}`},
		{`<% cached name="x" expires="soon" %>`, `{% cached "x" expires="soon" %}`},
		{`<% cached name="x" key="a b" if=user.ok digest=false %>`, `{% cached "x" key="a b" if=user.ok digest=false %}`},
		{`<% cached %>`, `{% cached %}`},
		{`<%   endcached   %>`, `{% endcached %}`},
		{"line 1\n<% cached name=\"x\" %>\nline 3<% endcached %>\n", "line 1\n{% cached \"x\" %}\nline 3{% endcached %}\n"},
		// Not the cached tag: left alone.
		{`<% cachedfoo %>`, `<% cachedfoo %>`},
		{`<%block name="x">`, `<%block name="x">`},
		{`a <% b %> c`, `a <% b %> c`},
		{"<% cached name=\"x\"\n %>", "<% cached name=\"x\"\n %>"},
		{`{% verbatim %}<% cached name="x" %>{% endverbatim %}<% endcached %>`, `{% verbatim %}<% cached name="x" %>{% endverbatim %}{% endcached %}`},
	} {
		if got := pongo2ext.RewriteMako(tc.in); got != tc.want {
			t.Errorf("RewriteMako(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

var makoFiles = fstest.MapFS{
	"page.html":   {Data: []byte("<h1>{{ title }}</h1>\n<% cached name=\"side\" region=\"local\" expires=\"60\" user %>\n<aside>{{ count(\"side\") }}</aside>\n<% endcached %>\n")},
	"plain.html":  {Data: []byte(`{% cached "p" %}ok{% endcached %}`)},
	"broken.html": {Data: []byte("ok\n  <% cached name=\"x\"\n   %>\n<%endcached%>")},
	"doc.html":    {Data: []byte("{% verbatim %}write <% cached %>{% endverbatim %}")},
}

func TestMakoLoaderRenders(t *testing.T) {
	e := newEnv(t, envConfig{})
	set := pongo2.NewSet("mako", pongo2ext.MakoLoader(pongo2.NewFSLoader(makoFiles)))
	set.Globals["count"] = e.set.Globals["count"]
	pongo2ext.Install(set, e.cache)
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
	if _, err := e.cache.KeyFor("page.html", "side", 7); err != nil {
		t.Error(err)
	}
}

func TestMakoLoaderPassesErrors(t *testing.T) {
	l := pongo2ext.MakoLoader(pongo2.NewFSLoader(makoFiles))
	if _, err := l.Get("missing.html"); err == nil {
		t.Error("no error for a missing file")
	}
	r, err := l.Get("plain.html")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r); string(b) != `{% cached "p" %}ok{% endcached %}` {
		t.Errorf("plain template changed: %q", b)
	}
	if got := l.Abs("dir/base.html", "x.html"); got != "dir/x.html" {
		t.Errorf("Abs = %q", got)
	}
}

func TestCheck(t *testing.T) {
	plain := pongo2.NewFSLoader(makoFiles)
	for _, tc := range []struct {
		name   string
		loader pongo2.TemplateLoader
		want   []string
	}{
		{"without the Mako loader", plain, []string{
			"page.html:2:1:", "page.html:4:1:", "broken.html:2:3:", "broken.html:4:1:",
		}},
		{"through the Mako loader", pongo2ext.MakoLoader(plain), []string{
			"broken.html:2:3:", // spans two lines: not rewritten
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems, err := pongo2ext.Check(tc.loader, "page.html", "plain.html", "broken.html", "doc.html")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range problems {
				got = append(got, p.String())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("problems:\n%s\nwant %q", strings.Join(got, "\n"), tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) || !strings.Contains(got[i], "MakoLoader") {
					t.Errorf("problem %d: %s, want %s...", i, got[i], w)
				}
			}
		})
	}
	if _, err := pongo2ext.Check(plain, "missing.html"); err == nil {
		t.Error("no error for a missing template")
	}
}

func TestCheckFS(t *testing.T) {
	all, err := pongo2ext.CheckFS(makoFiles)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Errorf("every file: %v", all)
	}
	some, err := pongo2ext.CheckFS(makoFiles, "p*.html")
	if err != nil {
		t.Fatal(err)
	}
	if len(some) != 2 || some[0].File != "page.html" || some[0].Line != 2 || some[0].Text != `<% cached name="side" region="local" expires="60" user %>` {
		t.Errorf("page.html: %+v", some)
	}
	if _, err := pongo2ext.CheckFS(makoFiles, "[bad"); err == nil {
		t.Error("no error for a bad pattern")
	}
}
