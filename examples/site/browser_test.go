package main

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/debugpanel"
	"github.com/dogpilego/dogpile/internal/paneltest"
)

// TestBrowser loads the demo site in headless Chromium, pages rendered
// with pongo2 and with html/template, then its debug panel at /_dogpile/,
// and checks the panel's rows, key filter and sorting (internal/paneltest),
// saving screenshots (see paneltest.Browser.Screenshot for where).
func TestBrowser(t *testing.T) {
	s := newTestSite(t, time.Millisecond, nil)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	b := paneltest.Open(t, srv.URL, srv.Client())
	for _, path := range []string{"/", "/archive", "/", "/posts/1"} {
		b.Visit(path)
	}
	if nav := b.Text("nav"); nav == "" {
		t.Fatal("the site rendered no navigation")
	}
	b.CheckPanel("site")
}

// TestBrowserTimeline renders the demo's pages from scratch in headless
// Chromium, the home page (pongo2), a tag's and an author's page
// (html/template) and a post, and checks each one's timeline in the
// browser (paneltest.CheckTimeline): bars on the request's time axis,
// nested fragments under the fragment that rendered them, collections as
// one row with their items, folding. The stylesheet and the favicon the
// browser fetched are not among the recorded requests.
func TestBrowserTimeline(t *testing.T) {
	s := newTestSite(t, time.Millisecond, nil)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	b := paneltest.Open(t, srv.URL, srv.Client())
	pages := []struct{ name, path string }{{"home", "/"}}
	b.Visit("/")
	// The tag and author pages the site links to, whatever their names.
	link := func(prefix string) string {
		var href string
		b.Script(`var a = document.querySelector('a[href^="' + arguments[0] + '"]'); return a ? a.getAttribute("href") : "";`, []any{prefix}, &href)
		return href
	}
	if tag := link("/tags/"); tag != "" {
		pages = append(pages, struct{ name, path string }{"tag", tag})
	}
	b.Visit("/posts/1")
	pages = append(pages, struct{ name, path string }{"post", "/posts/1"})
	if author := link("/authors/"); author != "" {
		pages = append(pages, struct{ name, path string }{"author", author})
	}
	for _, p := range pages[1:] {
		if p.path != "/posts/1" {
			b.Visit(p.path)
		}
	}
	if len(pages) < 3 {
		t.Fatalf("the site links to no tag or author page: %v", pages)
	}
	paths, first := b.RequestPaths()
	for _, p := range paths {
		if debugpanel.StaticAsset(p) || strings.HasPrefix(p, "/static/") {
			t.Errorf("the panel recorded %s", p)
		}
	}
	var nested, collections int
	for _, p := range pages {
		id, ok := first[p.path]
		if !ok {
			t.Errorf("%s (%s) was not recorded; recorded %q", p.name, p.path, paths)
			continue
		}
		got := b.CheckTimeline(id, "site-"+p.name)
		t.Logf("%s %s: %+v", p.name, p.path, got)
		if got.Nested == 0 && p.name != "post" {
			t.Errorf("%s (%s): no fragment nested in another on a page rendered from scratch", p.name, p.path)
		}
		nested += got.Nested
		collections += got.Collections
	}
	if nested == 0 || collections == 0 {
		t.Errorf("the demo's pages show %d nested fragments and %d collections: want both", nested, collections)
	}
}
