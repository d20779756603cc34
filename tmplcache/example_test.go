package tmplcache_test

import (
	"context"
	"fmt"
	"log"
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
