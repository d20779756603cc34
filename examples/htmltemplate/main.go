// Command htmltemplate shows template fragment caching with html/template's
// fragment funcs (package htmltmpl): a page with a cached sidebar and a
// cached catalog that holds a cached collection of items (cachedEach, read
// with one region call), rendered twice; then one item changes and the
// fragments that show it are retired by its tag
// (tmplcache.Cache.InvalidateTags), and the sidebar by its key
// (Invalidate).
//
//	go run ./examples/htmltemplate
//
// html/template funcs cannot capture a block, so each fragment is a named
// template of the set, rendered with {{cached "name" data vary...}}. The
// order of calls matters: htmltmpl.FuncMap before parsing, htmltmpl.Bind
// after parsing and before the first execution. The request's context
// travels in the data (htmltmpl.Data, embedded in the page's struct).
//
// The methods the templates call are slow on purpose; the program counts
// their calls and times each rendering, then exits. It needs no server: the
// regions are in memory.
package main

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io"
	"log"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/htmltmpl"
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

func (s *shop) slow(ctx context.Context) error {
	s.calls.Add(1)
	select {
	case <-time.After(s.delay):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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

// page is the template data. It embeds htmltmpl.Data, which carries the
// context: the request's in the page, the rendering's in a fragment, which
// gets a copy of the page. Its methods query with that context.
type page struct {
	htmltmpl.Data
	db    *shop
	Title string
}

// Products lists the catalog (slow).
func (p page) Products() ([]product, error) {
	if err := p.db.slow(p.Context()); err != nil {
		return nil, err
	}
	p.db.mu.Lock()
	defer p.db.mu.Unlock()
	return append([]product(nil), p.db.items...), nil
}

// BestSellers lists the best sellers (slow).
func (p page) BestSellers() ([]string, error) {
	if err := p.db.slow(p.Context()); err != nil {
		return nil, err
	}
	return []string{"Green tea", "Cocoa"}, nil
}

// run renders the page several times, writing what happens to w. Each slow
// call takes delay.
func run(w io.Writer, delay time.Duration) error {
	ctx := context.Background() // a request's context, in a web application

	def := dogpile.NewRegion(dogpile.WithName("default"))
	local := dogpile.NewRegion(dogpile.WithName("local"))
	for _, r := range []*dogpile.Region{def, local} {
		if err := r.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: 10 * time.Minute}); err != nil {
			return err
		}
		defer r.Close()
	}
	cache := tmplcache.New(def, tmplcache.WithRegion("local", local))
	db := &shop{delay: delay, items: []product{{1, "Green tea"}, {2, "Coffee"}, {3, "Cocoa"}}}

	// 1. The placeholder FuncMap, so the parser knows `cached`,
	//    `cachedEach`, `addtags` and the others; 2. parse; 3. Bind, with
	//    per-fragment options.
	t := template.New("shop").Funcs(htmltmpl.FuncMap()).Funcs(template.FuncMap{
		// price gets the item's data, so it queries with its context:
		// funcs have no context of their own.
		"price": func(d htmltmpl.Data) (string, error) {
			if err := db.slow(d.Context()); err != nil {
				return "", err
			}
			id := d.Value.(product).ID
			return fmt.Sprintf("%d.%02d €", 2+id, 10*id), nil
		},
	})
	if _, err := t.ParseFS(files, "templates/*.html"); err != nil {
		return err
	}
	err := htmltmpl.Bind(t, cache, htmltmpl.Fragment("sidebar", htmltmpl.Region("local"), htmltmpl.Expires(time.Minute)))
	if err != nil {
		return err
	}
	// Check reports `cached` calls whose output does not land in HTML
	// text, where html/template would escape the fragment again.
	if problems := htmltmpl.Check(t); len(problems) > 0 {
		return fmt.Errorf("htmltmpl.Check: %v", problems)
	}
	fmt.Fprintln(w, "htmltmpl.Check: every cached call is in HTML text")

	render := func(label string) (string, error) {
		before := db.calls.Load()
		start := time.Now()
		var b strings.Builder
		data := page{Data: htmltmpl.Data{Ctx: ctx}, db: db, Title: "Tea & co"}
		if err := t.ExecuteTemplate(&b, "shop", data); err != nil {
			return "", err
		}
		n := db.calls.Load() - before
		fmt.Fprintf(w, "%s: %v, %d slow %s\n", label, round(time.Since(start)), n, map[bool]string{true: "call", false: "calls"}[n == 1])
		return b.String(), nil
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
	// items stay cached. (An item's key is made from the item itself, so
	// the renamed product would get a new entry anyway; the catalog needs
	// the tag.)
	db.rename(2, "Filter coffee")
	fmt.Fprintln(w, "\nproduct 2 renamed; retiring the tag product:2")
	if err := cache.InvalidateTags(ctx, "product:2"); err != nil {
		return err
	}
	third, err := render("render 3 (catalog rebuilt: Products and item 2's price; items 1 and 3 cached)")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "shows the new name:", strings.Contains(third, "Filter coffee"))

	// Fragments are named by the set ("shop", the name of the template
	// given to Bind) and the fragment's template name.
	sidebarKey, err := cache.KeyFor("shop", "sidebar")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "\nsidebar key", sidebarKey)
	if err := cache.Invalidate(ctx, "shop", "sidebar"); err != nil {
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
