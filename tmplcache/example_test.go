package tmplcache_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory" // registers dogpile.cache.memory
	"github.com/dogpilego/dogpile/tmplcache"
)

// A fragment is rendered once and served from its region until it is
// invalidated by key.
func Example() {
	region := dogpile.NewRegion()
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		log.Fatal(err)
	}
	c := tmplcache.New(region)
	// Engines declare fragments when they parse templates.
	digest := tmplcache.Digest("<aside>{{ user.name }}</aside>")
	c.Declare(tmplcache.Declaration{Template: "post.html", Name: "sidebar", Digest: digest})

	ctx := context.Background()
	renders := 0
	render := func(context.Context) (string, error) {
		renders++
		return fmt.Sprintf("<aside>render %d</aside>", renders), nil
	}
	f := tmplcache.Fragment{Template: "post.html", Name: "sidebar", Digest: digest, Vary: []any{7}}
	for range 2 {
		html, err := c.Render(ctx, f, tmplcache.RenderOptions{}, render)
		fmt.Println(html, err)
	}

	key, _ := c.KeyFor("post.html", "sidebar", 7)
	fmt.Println(key == c.Key(f))
	if err := c.Invalidate(ctx, "post.html", "sidebar", 7); err != nil {
		log.Fatal(err)
	}
	html, _ := c.Render(ctx, f, tmplcache.RenderOptions{}, render)
	fmt.Println(html)
	// Output:
	// <aside>render 1</aside> <nil>
	// <aside>render 1</aside> <nil>
	// true
	// <aside>render 2</aside>
}

// Keys keep a readable prefix and fit Memcached.
func ExampleCache_Key() {
	c := tmplcache.New(nil)
	key := c.Key(tmplcache.Fragment{Template: "blog/post.html", Name: "side bar", Vary: []any{"a b"}})
	fmt.Println(key[:len("tmpl:blog/post.html:side_bar:")], len(key))
	// Output:
	// tmpl:blog/post.html:side_bar: 61
}

// Fragments depend on tags: declared ones, those Go code adds with
// AddTags while the fragment renders, and those of every fragment rendered
// inside. InvalidateTags retires them all, whatever their keys.
func ExampleCache_InvalidateTags() {
	region := dogpile.NewRegion()
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		log.Fatal(err)
	}
	c := tmplcache.New(region)
	defer c.Close()
	ctx := context.Background()

	titles := map[int]string{7: "Hello", 8: "Other"}
	// loadTitle is data access that knows what it reads.
	loadTitle := func(ctx context.Context, id int) string {
		tmplcache.AddTags(ctx, fmt.Sprint("post:", id))
		return titles[id]
	}
	card := func(id int) tmplcache.Fragment {
		return tmplcache.Fragment{Template: "home.html", Name: "card", Vary: []any{id}}
	}
	page := tmplcache.Fragment{Template: "home.html", Name: "page", Tags: []string{"layout"}}
	renderPage := func() string {
		html, err := c.Render(ctx, page, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
			html := "<main>"
			for _, id := range []int{7, 8} {
				inner, err := c.Render(ctx, card(id), tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
					return "<h2>" + loadTitle(ctx, id) + "</h2>", nil
				})
				if err != nil {
					return "", err
				}
				html += inner
			}
			return html + "</main>", nil
		})
		if err != nil {
			log.Fatal(err)
		}
		return html
	}
	fmt.Println(renderPage())
	titles[7] = "Hello again"
	fmt.Println(renderPage()) // cached
	// The page depends on post:7 through the card it holds.
	if err := c.InvalidateTags(ctx, "post:7"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(renderPage())
	// Output:
	// <main><h2>Hello</h2><h2>Other</h2></main>
	// <main><h2>Hello</h2><h2>Other</h2></main>
	// <main><h2>Hello again</h2><h2>Other</h2></main>
}

// A collection is read in one round trip, and only the items missing,
// expired or retired are rendered.
func ExampleCache_RenderEach() {
	region := dogpile.NewRegion()
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		log.Fatal(err)
	}
	c := tmplcache.New(region)
	defer c.Close()
	ctx := context.Background()

	type post struct {
		ID    int
		Title string
	}
	posts := []post{{1, "One"}, {2, "Two"}, {3, "Three"}}
	fs := make([]tmplcache.Fragment, len(posts))
	for i, p := range posts {
		fs[i] = tmplcache.Fragment{Template: "home.html", Name: "card", Vary: []any{p.ID}, Tags: []string{fmt.Sprint("post:", p.ID)}}
	}
	var rendered []int
	render := func(_ context.Context, i int) (string, error) {
		rendered = append(rendered, posts[i].ID)
		return "<li>" + posts[i].Title + "</li>", nil
	}
	for range 2 {
		out, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, render)
		fmt.Println(strings.Join(out, ""), err, "rendered", rendered)
		rendered = nil
	}
	posts[1].Title = "Deux"
	if err := c.InvalidateTags(ctx, "post:2"); err != nil {
		log.Fatal(err)
	}
	out, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, render)
	fmt.Println(strings.Join(out, ""), err, "rendered", rendered)
	// Output:
	// <li>One</li><li>Two</li><li>Three</li> <nil> rendered [1 2 3]
	// <li>One</li><li>Two</li><li>Three</li> <nil> rendered []
	// <li>One</li><li>Deux</li><li>Three</li> <nil> rendered [2]
}
