package htmltmpl_test

import (
	"context"
	"fmt"
	"html/template"
	"log"
	"os"
	"strings"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory" // registers dogpile.cache.memory
	"github.com/dogpilego/dogpile/htmltmpl"
	"github.com/dogpilego/dogpile/tmplcache"
)

func newRegion(exp time.Duration) *dogpile.Region {
	r := dogpile.NewRegion()
	if err := r.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: exp}); err != nil {
		log.Fatal(err)
	}
	return r
}

// A page with a cached sidebar: the placeholder FuncMap before Parse, Bind
// before the first Execute, and the request's context in the data.
func Example() {
	cache := tmplcache.New(newRegion(time.Hour))
	renders := 0
	t := template.New("page").Funcs(htmltmpl.FuncMap()).Funcs(template.FuncMap{
		"expensive": func() int { renders++; return renders },
	})
	template.Must(t.Parse(`<h1>{{ .Value.Title }}</h1>{{ cached "sidebar" . }}
{{- define "sidebar" }}<aside>rendered {{ expensive }} time(s) for {{ .Value.User }}</aside>{{ end }}`))
	if err := htmltmpl.Bind(t, cache); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background() // r.Context() in a handler
	for _, title := range []string{"Home", "About"} {
		data := htmltmpl.WithContext(ctx, map[string]string{"Title": title, "User": "ann"})
		if err := t.Execute(os.Stdout, data); err != nil {
			log.Fatal(err)
		}
		fmt.Println()
	}
	// Output:
	// <h1>Home</h1><aside>rendered 1 time(s) for ann</aside>
	// <h1>About</h1><aside>rendered 1 time(s) for ann</aside>
}

// Vary values make one entry per value; KeyFor and Invalidate address the
// fragment by the set's name, the fragment's name and the same values.
func Example_invalidate() {
	ctx := context.Background()
	cache := tmplcache.New(newRegion(time.Hour))
	t := template.Must(template.New("post.html").Funcs(htmltmpl.FuncMap()).Parse(
		`{{ cached "comments" . .Value.ID }}{{ define "comments" }}{{ .Value.ID }}: {{ .Value.Count }} comments{{ end }}`))
	if err := htmltmpl.Bind(t, cache); err != nil {
		log.Fatal(err)
	}
	type post struct{ ID, Count int }
	show := func(p post) {
		var b strings.Builder
		if err := t.Execute(&b, htmltmpl.WithContext(ctx, p)); err != nil {
			log.Fatal(err)
		}
		fmt.Println(b.String())
	}

	show(post{7, 1})
	show(post{7, 2}) // still cached
	if err := cache.Invalidate(ctx, "post.html", "comments", 7); err != nil {
		log.Fatal(err)
	}
	show(post{7, 2})

	key, _ := cache.KeyFor("post.html", "comments", 7)
	fmt.Println(strings.HasPrefix(key, "tmpl:post.html:comments:"))
	// Output:
	// 7: 1 comments
	// 7: 1 comments
	// 7: 2 comments
	// true
}

// Per-fragment regions and expiry are Bind options.
func ExampleFragment() {
	ctx := context.Background()
	local := newRegion(time.Hour)
	cache := tmplcache.New(newRegion(time.Hour), tmplcache.WithRegion("local", local))
	t := template.Must(template.New("page").Funcs(htmltmpl.FuncMap()).Parse(
		`{{ cached "sidebar" . }}{{ define "sidebar" }}<aside>…</aside>{{ end }}`))
	err := htmltmpl.Bind(t, cache,
		htmltmpl.Fragment("sidebar", htmltmpl.Region("local"), htmltmpl.Expires(5*time.Minute)))
	if err != nil {
		log.Fatal(err)
	}
	if err := t.Execute(os.Stdout, htmltmpl.WithContext(ctx, nil)); err != nil {
		log.Fatal(err)
	}
	fmt.Println()
	key, _ := cache.KeyFor("page", "sidebar")
	_, inLocal, _ := dogpile.Get[any](ctx, local, key)
	fmt.Println("in the local region:", inLocal)
	// Output:
	// <aside>…</aside>
	// in the local region: true
}

// Embedding Data keeps the page's fields at the top of the data, in pages
// and fragments.
func ExampleData() {
	type Page struct {
		htmltmpl.Data
		Title string
	}
	cache := tmplcache.New(newRegion(time.Hour))
	t := template.Must(template.New("page").Funcs(htmltmpl.FuncMap()).Parse(
		`{{ cached "header" . }}{{ define "header" }}<h1>{{ .Title }}</h1>{{ cached "nav" . }}{{ end }}{{ define "nav" }}<nav>{{ .Title }}</nav>{{ end }}`))
	if err := htmltmpl.Bind(t, cache); err != nil {
		log.Fatal(err)
	}
	p := Page{Data: htmltmpl.Data{Ctx: context.Background()}, Title: "Home"}
	if err := t.Execute(os.Stdout, p); err != nil {
		log.Fatal(err)
	}
	fmt.Println()
	// Output:
	// <h1>Home</h1><nav>Home</nav>
}

// Check reports cached calls whose output does not land in HTML text.
func ExampleCheck() {
	t := template.Must(template.New("page").Funcs(htmltmpl.FuncMap()).Parse(
		`<div>{{ cached "card" . }}</div>
<a href="{{ cached "card" . }}">x</a>
{{ define "card" }}<b>card</b>{{ end }}`))
	for _, p := range htmltmpl.Check(t) {
		fmt.Println(p.Location, p.Context)
	}
	// Output:
	// page:2:12 URL
}

// Clone clones a set and binds the clone, which can then define its own
// templates; Bind it again after parsing into it.
func ExampleClone() {
	cache := tmplcache.New(newRegion(time.Hour))
	base := template.Must(template.New("layout").Funcs(htmltmpl.FuncMap()).Parse(
		`<nav>{{ cached "menu" . }}</nav><main>{{ block "content" . }}{{ end }}</main>{{ define "menu" }}menu{{ end }}`))
	if err := htmltmpl.Bind(base, cache); err != nil {
		log.Fatal(err)
	}
	page, err := htmltmpl.Clone(base, cache, htmltmpl.SetName("about"))
	if err != nil {
		log.Fatal(err)
	}
	template.Must(page.Parse(`{{ define "content" }}about us{{ end }}`))
	if err := htmltmpl.Bind(page, cache, htmltmpl.SetName("about")); err != nil {
		log.Fatal(err)
	}
	if err := page.Execute(os.Stdout, htmltmpl.WithContext(context.Background(), nil)); err != nil {
		log.Fatal(err)
	}
	fmt.Println()
	// Output:
	// <nav>menu</nav><main>about us</main>
}

// cachedIf caches a fragment only when its condition holds: here for
// visitors, while an administrator's sidebar, with its edit links, is
// rendered on every request and never stored.
func Example_cachedIf() {
	cache := tmplcache.New(newRegion(time.Hour))
	renders := 0
	t := template.New("page").Funcs(htmltmpl.FuncMap()).Funcs(template.FuncMap{
		"render": func() int { renders++; return renders },
	})
	template.Must(t.Parse(`{{ cachedUnless .Value.Admin "sidebar" . .Value.Admin }}
{{- define "sidebar" }}<aside>render {{ render }}{{ if .Value.Admin }} <a href="/edit">edit</a>{{ end }}</aside>{{ end }}`))
	if err := htmltmpl.Bind(t, cache); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for _, admin := range []bool{false, false, true, true, false} {
		if err := t.Execute(os.Stdout, htmltmpl.WithContext(ctx, map[string]bool{"Admin": admin})); err != nil {
			log.Fatal(err)
		}
		fmt.Println()
	}
	// Output:
	// <aside>render 1</aside>
	// <aside>render 1</aside>
	// <aside>render 2 <a href="/edit">edit</a></aside>
	// <aside>render 3 <a href="/edit">edit</a></aside>
	// <aside>render 1</aside>
}

// cachedEach renders a collection with one read for all its items, and
// renders only the items it does not hold: here the edited post.
func Example_collection() {
	cache := tmplcache.New(newRegion(time.Hour))
	var rendered []int
	t := template.New("index").Funcs(htmltmpl.FuncMap()).Funcs(template.FuncMap{
		"rendered": func(id int) string { rendered = append(rendered, id); return "" },
	})
	template.Must(t.Parse(`<ul>{{ cachedEach "card" . .Value }}</ul>
{{- define "card" }}{{ rendered .Value.ID }}<li>{{ .Value.Title }}</li>{{ end }}`))
	if err := htmltmpl.Bind(t, cache); err != nil {
		log.Fatal(err)
	}
	type post struct {
		ID    int
		Title string
	}
	posts := []post{{1, "Hello"}, {2, "Tags"}, {3, "Collections"}}
	ctx := context.Background()
	for _, edit := range []string{"", "", "Tags, edited"} {
		if edit != "" {
			posts[1].Title = edit
		}
		rendered = nil
		if err := t.Execute(os.Stdout, htmltmpl.WithContext(ctx, posts)); err != nil {
			log.Fatal(err)
		}
		fmt.Println(" rendered:", rendered)
	}
	// Output:
	// <ul><li>Hello</li><li>Tags</li><li>Collections</li></ul> rendered: [1 2 3]
	// <ul><li>Hello</li><li>Tags</li><li>Collections</li></ul> rendered: []
	// <ul><li>Hello</li><li>Tags, edited</li><li>Collections</li></ul> rendered: [2]
}

// Tags retire every fragment that depends on them, the enclosing ones
// included, without knowing their keys: a tag declared with `tags`, and one
// a Go func adds for the data it reads, with the context the data carries.
func Example_tags() {
	ctx := context.Background()
	cache := tmplcache.New(newRegion(time.Hour))
	comments := map[int][]string{7: {"first"}}
	renders := map[string]int{}
	t := template.New("post.html").Funcs(htmltmpl.FuncMap()).Funcs(template.FuncMap{
		"comments": func(ctx context.Context, id int) []string {
			tmplcache.AddTags(ctx, fmt.Sprintf("comments:%d", id))
			return comments[id]
		},
		"count": func(name string) string { renders[name]++; return "" },
	})
	template.Must(t.Parse(`{{ cached "page" . .Value }}
{{- define "page" }}{{ count "page" }}<main>{{ cached "post" . .Value (tags (printf "post:%d" .Value)) }}{{ cached "comments" . .Value }}</main>{{ end }}
{{- define "post" }}{{ count "post" }}<h1>Post {{ .Value }}</h1>{{ end }}
{{- define "comments" }}{{ count "comments" }}{{ range comments .Context .Value }}<p>{{ . }}</p>{{ end }}{{ end }}`))
	if err := htmltmpl.Bind(t, cache); err != nil {
		log.Fatal(err)
	}
	show := func() {
		var b strings.Builder
		if err := t.Execute(&b, htmltmpl.WithContext(ctx, 7)); err != nil {
			log.Fatal(err)
		}
		fmt.Println(b.String(), renders)
		clear(renders)
	}
	show()
	show()
	comments[7] = append(comments[7], "second")
	if err := cache.InvalidateTags(ctx, "comments:7"); err != nil {
		log.Fatal(err)
	}
	show()
	if err := cache.InvalidateTags(ctx, "post:7"); err != nil {
		log.Fatal(err)
	}
	show()
	// Output:
	// <main><h1>Post 7</h1><p>first</p></main> map[comments:1 page:1 post:1]
	// <main><h1>Post 7</h1><p>first</p></main> map[]
	// <main><h1>Post 7</h1><p>first</p><p>second</p></main> map[comments:1 page:1]
	// <main><h1>Post 7</h1><p>first</p><p>second</p></main> map[page:1 post:1]
}
