// Command pongo2 shows template fragment caching with pongo2 (package
// pongo2ext): a page with a cached sidebar, written in the design's
// <% cached %> spelling, and a cached catalog that holds a cached
// collection of items ({% cachedfor %}, read with one region call),
// rendered twice; then one item changes and the fragments that show it are
// retired by its tag (tmplcache.Cache.InvalidateTags), and the sidebar by
// its key (Invalidate).
//
//	go run ./examples/pongo2
//
// The functions the templates call are slow on purpose; the program counts
// their calls and times each rendering, then exits. The templates are in
// templates/, embedded in the program. It needs no server: the regions are
// in memory.
package main

import (
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/pongo2ext"
	"github.com/dogpilego/dogpile/tmplcache"
)

//go:embed templates
var files embed.FS

func main() {
	if err := run(os.Stdout, 50*time.Millisecond); err != nil {
		log.Fatal(err)
	}
}

// product is an item of the catalog.
type product struct {
	ID   int
	Name string
}

// shop stands for a slow database: each call takes delay and is counted.
type shop struct {
	delay time.Duration
	calls atomic.Int64
	mu    sync.Mutex
	items []product
}

func (s *shop) slow() {
	s.calls.Add(1)
	time.Sleep(s.delay)
}

// products lists the catalog. It takes a context, as a query would.
func (s *shop) products(ctx context.Context) ([]product, error) {
	s.calls.Add(1)
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]product(nil), s.items...), nil
}

func (s *shop) price(id int) string {
	s.slow()
	return fmt.Sprintf("%d.%02d €", 2+id, 10*id)
}

func (s *shop) bestSellers() []string {
	s.slow()
	return []string{"Green tea", "Cocoa"}
}

func (s *shop) rename(id int, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.items {
		if s.items[i].ID == id {
			s.items[i].Name = name
		}
	}
}

// run renders the page several times, writing what happens to w. Each slow
// call takes delay.
func run(w io.Writer, delay time.Duration) error {
	ctx := context.Background() // a request's context, in a web application

	// Two memory regions: the default one and "local", which the sidebar
	// names with region="local".
	def := dogpile.NewRegion(dogpile.WithName("default"))
	local := dogpile.NewRegion(dogpile.WithName("local"))
	for _, r := range []*dogpile.Region{def, local} {
		if err := r.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: 10 * time.Minute}); err != nil {
			return err
		}
		defer r.Close()
	}
	cache := tmplcache.New(def, tmplcache.WithRegion("local", local))

	// The template set reads the embedded files and caches their blocks
	// in cache. The functions the templates call go in the set's Globals.
	dir, err := fs.Sub(files, "templates")
	if err != nil {
		return err
	}
	set := pongo2ext.NewSet("shop", cache, pongo2.NewFSLoader(dir))
	db := &shop{delay: delay, items: []product{{1, "Green tea"}, {2, "Coffee"}, {3, "Cocoa"}}}
	// A function whose first parameter is *pongo2.ExecutionContext gets it
	// from pongo2 without the template passing it; RequestContext returns
	// the context to query with: inside a cached block being rendered, the
	// rendering's, which goes on for the requests waiting for the fragment
	// even if the one that started it goes away.
	set.Globals["products"] = func(ec *pongo2.ExecutionContext) ([]product, error) {
		return db.products(pongo2ext.RequestContext(ec))
	}
	set.Globals["price"] = db.price
	set.Globals["best_sellers"] = db.bestSellers

	page, err := set.FromCache("shop.html")
	if err != nil {
		return err
	}
	render := func(label string) (string, error) {
		before := db.calls.Load()
		start := time.Now()
		// WithContext hands the request's context to the regions.
		html, err := page.Execute(pongo2ext.WithContext(ctx, pongo2.Context{"title": "Tea & co"}))
		if err != nil {
			return "", err
		}
		n := db.calls.Load() - before
		fmt.Fprintf(w, "%s: %v, %d slow %s\n", label, round(time.Since(start)), n, map[bool]string{true: "call", false: "calls"}[n == 1])
		return html, nil
	}

	first, err := render("render 1 (cold cache)")
	if err != nil {
		return err
	}
	second, err := render("render 2 (every fragment cached)")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "same HTML:", first == second)

	// A product changes. Every fragment that shows it depends on its tag:
	// its item, and the catalog around the items, by propagation.
	// InvalidateTags retires them without knowing their keys; the other
	// items stay cached.
	db.rename(2, "Filter coffee")
	itemKey, err := cache.KeyFor("shop.html", "item", 2)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "\nproduct 2 renamed; retiring the tag product:2, which item", itemKey, "declares")
	if err := cache.InvalidateTags(ctx, "product:2"); err != nil {
		return err
	}
	third, err := render("render 3 (catalog rebuilt: products() and item 2's price; items 1 and 3 cached)")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "shows the new name:", strings.Contains(third, "Filter coffee"))

	// The sidebar has no name: it is the template's first cached block,
	// "#1", in the local region.
	sidebarKey, err := cache.KeyFor("shop.html", "#1")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "\nsidebar key", sidebarKey)
	if err := cache.Invalidate(ctx, "shop.html", "#1"); err != nil {
		return err
	}
	if _, err := render("render 4 (sidebar invalidated)"); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nthe page:")
	for line := range strings.SplitSeq(third, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			fmt.Fprintln(w, "  ", line)
		}
	}
	return nil
}

// round shortens a duration for printing.
func round(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}
