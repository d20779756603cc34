package pongo2ext_test

import (
	"context"
	"fmt"
	"testing/fstest"
	"time"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory" // registers dogpile.cache.memory
	"github.com/dogpilego/dogpile/pongo2ext"
	"github.com/dogpilego/dogpile/tmplcache"
)

func Example() {
	region := dogpile.NewRegion(dogpile.WithName("fragments"))
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: 5 * time.Minute}); err != nil {
		panic(err)
	}
	cache := tmplcache.New(region)

	set := pongo2.NewSet("web", pongo2.NewFSLoader(fstest.MapFS{
		"profile.html": {Data: []byte(`<h1>{{ user.Name }}</h1>{% cached "stats" user.ID %}<p>{{ stats(user.ID) }}</p>{% endcached %}`)},
	}))
	pongo2ext.Install(set, cache)
	calls := 0
	set.Globals["stats"] = func(id int) string { calls++; return fmt.Sprintf("%d posts", 10*id) }

	tpl, err := set.FromFile("profile.html")
	if err != nil {
		panic(err)
	}
	type User struct {
		ID   int
		Name string
	}
	ctx := context.Background() // a request's context
	for range 2 {
		out, err := tpl.Execute(pongo2ext.WithContext(ctx, pongo2.Context{"user": User{4, "Ann"}}))
		if err != nil {
			panic(err)
		}
		fmt.Println(out)
	}
	fmt.Println("stats computed", calls, "time")

	// Invalidate from Go code, with the vary-on values the template used.
	if err := cache.Invalidate(ctx, "profile.html", "stats", 4); err != nil {
		panic(err)
	}
	if _, err := tpl.Execute(pongo2.Context{"user": User{4, "Ann"}}); err != nil {
		panic(err)
	}
	fmt.Println("stats computed", calls, "times")
	// Output:
	// <h1>Ann</h1><p>40 posts</p>
	// <h1>Ann</h1><p>40 posts</p>
	// stats computed 1 time
	// stats computed 2 times
}

func ExampleMakoLoader() {
	region := dogpile.NewRegion()
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{}); err != nil {
		panic(err)
	}
	files := fstest.MapFS{
		"side.html": {Data: []byte(`<% cached name="side" expires="60" %><aside>{{ n }}</aside><% endcached %>`)},
	}
	set := pongo2.NewSet("mako", pongo2ext.MakoLoader(pongo2.NewFSLoader(files)))
	pongo2ext.Install(set, tmplcache.New(region))
	tpl, err := set.FromFile("side.html")
	if err != nil {
		panic(err)
	}
	for n := range 2 {
		out, err := tpl.Execute(pongo2.Context{"n": n})
		if err != nil {
			panic(err)
		}
		fmt.Println(out)
	}
	// Output:
	// <aside>0</aside>
	// <aside>0</aside>
}

func ExampleRewriteMako() {
	fmt.Println(pongo2ext.RewriteMako(`<% cached region="memcached" name="nav" expires="300" user.id %>`))
	fmt.Println(pongo2ext.RewriteMako(`<% endcached %>`))
	// Output:
	// {% cached "nav" region="memcached" expires=300 user.id %}
	// {% endcached %}
}

func ExampleCheck() {
	files := fstest.MapFS{
		"a.html": {Data: []byte("<p>\n  <% cached name=\"a\" %>x<% endcached %>\n</p>")},
		"b.html": {Data: []byte(`{% cached "b" %}x{% endcached %}`)},
	}
	loader := pongo2.NewFSLoader(files)
	problems, err := pongo2ext.Check(loader, "a.html", "b.html")
	if err != nil {
		panic(err)
	}
	for _, p := range problems {
		fmt.Printf("%s:%d:%d\n", p.File, p.Line, p.Col)
	}
	problems, _ = pongo2ext.Check(pongo2ext.MakoLoader(loader), "a.html", "b.html")
	fmt.Println(len(problems), "through MakoLoader")
	// Output:
	// a.html:2:3
	// a.html:2:25
	// 0 through MakoLoader
}

func ExampleLoaderRoots() {
	loader := pongo2.MustNewLocalFileSystemLoader(".") // the templates' directory
	cache := tmplcache.New(nil, pongo2ext.LoaderRoots(loader))
	abs := loader.Abs("", "blog/post.html") // what FromCache, include and extends see
	fmt.Println(cache.TemplateName(abs))
	fmt.Println(cache.TemplateName("blog/post.html")) // what FromFile sees
	// Output:
	// blog/post.html
	// blog/post.html
}

// The block of the design card, nameless and in the Mako spelling, in a
// set made by NewSet: every way of loading a template rewrites it.
func ExampleNewSet() {
	memcached := dogpile.NewRegion(dogpile.WithName("memcached")) // a Memcached region in production
	if err := memcached.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: 5 * time.Minute}); err != nil {
		panic(err)
	}
	cache := tmplcache.New(memcached, tmplcache.WithRegion("memcached", memcached))
	files := fstest.MapFS{
		"sidebar.html": {Data: []byte(`<% cached region="memcached" %><aside>{{ visits() }}</aside><% endcached %>`)},
	}
	set := pongo2ext.NewSet("web", cache, pongo2.NewFSLoader(files))
	visits := 0
	set.Globals["visits"] = func() int { visits++; return visits }

	for range 2 {
		out, err := set.RenderTemplateFile("sidebar.html", nil)
		if err != nil {
			panic(err)
		}
		fmt.Println(out)
	}
	out, err := set.RenderTemplateString(`<main>{% include "sidebar.html" %}</main>`, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(out)

	// A Mako-style tag it cannot rewrite is an error, never text in the page.
	_, err = set.FromString("<p>\n<% if user %>hi<% endif %></p>")
	fmt.Println(err != nil)
	// Output:
	// <aside>1</aside>
	// <aside>1</aside>
	// <main><aside>1</aside></main>
	// true
}

// A collection: one fragment per post, read in one round trip, and a tag
// per post that retires its card, and the page around it, when the post
// changes.
func Example_collection() {
	region := dogpile.NewRegion()
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{}); err != nil {
		panic(err)
	}
	cache := tmplcache.New(region)
	set := pongo2ext.NewSet("blog", cache)
	renders := 0
	set.Globals["rendered"] = func() string { renders++; return "" }
	tpl, err := set.FromString(`{% cached %}<ul>` +
		`{% cachedfor post in posts by=post.ID tags="post:"|add:post.ID %}` +
		`<li>{{ forloop.Counter }}. {{ post.Title }}{{ rendered() }}</li>` +
		`{% endcachedfor %}</ul>{% endcached %}`)
	if err != nil {
		panic(err)
	}
	type Post struct {
		ID    int
		Title string
	}
	posts := []Post{{1, "Hello"}, {2, "<Tags>"}, {3, "Bye"}}
	show := func() {
		out, err := tpl.Execute(pongo2.Context{"posts": posts})
		if err != nil {
			panic(err)
		}
		fmt.Println(out, renders, "cards rendered")
	}
	show()
	show()
	posts[1].Title = "Tags & collections"
	if err := cache.InvalidateTags(context.Background(), "post:2"); err != nil {
		panic(err)
	}
	show()
	// Output:
	// <ul><li>1. Hello</li><li>2. &lt;Tags&gt;</li><li>3. Bye</li></ul> 3 cards rendered
	// <ul><li>1. Hello</li><li>2. &lt;Tags&gt;</li><li>3. Bye</li></ul> 3 cards rendered
	// <ul><li>1. Hello</li><li>2. Tags &amp; collections</li><li>3. Bye</li></ul> 4 cards rendered
}

// A template function that knows which data it reads adds the tags to the
// fragment being rendered.
func ExampleContext() {
	region := dogpile.NewRegion()
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{}); err != nil {
		panic(err)
	}
	cache := tmplcache.New(region)
	set := pongo2ext.NewSet("shop", cache)
	prices := map[string]int{"tea": 3}
	reads := 0
	set.Globals["price"] = func(ec *pongo2.ExecutionContext, item string) int {
		ctx := pongo2ext.Context(ec) // the block's rendering, inside one
		tmplcache.AddTags(ctx, "price:"+item)
		reads++
		return prices[item]
	}
	tpl, err := set.FromString(`{% cached expires=ttl %}tea: {{ price("tea") }} €{% endcached %}`)
	if err != nil {
		panic(err)
	}
	data := pongo2.Context{"ttl": 3600} // expires= takes expressions too
	for range 2 {
		out, err := tpl.Execute(data)
		if err != nil {
			panic(err)
		}
		fmt.Println(out, "after", reads, "read")
	}
	prices["tea"] = 4
	if err := cache.InvalidateTags(context.Background(), "price:tea"); err != nil {
		panic(err)
	}
	out, err := tpl.Execute(data)
	if err != nil {
		panic(err)
	}
	fmt.Println(out, "after", reads, "reads")
	// Output:
	// tea: 3 € after 1 read
	// tea: 3 € after 1 read
	// tea: 4 € after 2 reads
}
