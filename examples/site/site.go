package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/debugpanel"
	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/htmltmpl"
	"github.com/dogpilego/dogpile/pongo2ext"
	"github.com/dogpilego/dogpile/tmplcache"

	// Backends a -config file may name: importing a backend package
	// registers its names (memory: dogpile.cache.memory and
	// dogpile.cache.memory_pickle; null: dogpile.cache.null).
	_ "github.com/dogpilego/dogpile/dogpile/backends/file"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memcached"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
	_ "github.com/dogpilego/dogpile/dogpile/backends/null"
	_ "github.com/dogpilego/dogpile/dogpile/backends/redis"
)

// files holds the templates and the stylesheet, so the site runs from any
// directory.
//
//go:embed templates static
var files embed.FS

// funcModule is the module part of the cached functions' keys.
const funcModule = "blog.store"

// htmlSet names the html/template set in fragment keys, KeyFor and
// Invalidate.
const htmlSet = "site"

// pongoPages are the pongo2 templates the handlers execute. They are parsed
// when the site starts, so that a template error stops the site at once,
// and the fragments they declare are known to KeyFor and Invalidate before
// the first page is rendered.
var pongoPages = []string{"home.html", "post.html", "edit.html", "error.html"}

// siteConfig is what newSite needs.
type siteConfig struct {
	// Settings configure the regions, with dogpile.cache's keys under
	// "cache.<region>." (see defaultSettings); nil means defaultSettings.
	// A "default" region is required. Without a "local" region the site
	// adds a memory one.
	Settings map[string]any
	// Delay is how long every store query takes.
	Delay time.Duration
	// Logger receives rendering errors; nil means slog.Default().
	Logger *slog.Logger
	// Observer, when not nil, is told about the operations of every
	// region, besides the debug panel.
	Observer observe.Observer
}

// site is the demo blog: a slow store, regions of cached fragments and
// functions, and the pages that use them.
type site struct {
	store    *slowStore
	frags    *tmplcache.Cache
	owned    []*dogpile.Region // regions the site made besides frags' own
	regions  []regionInfo
	pongo    map[string]*pongo2.Template
	html     *template.Template
	requests requestLog
	flashes  flashes
	log      *slog.Logger

	// Function caching of data-layer calls, in the default region.
	post      *dogpile.Func1[int, Post]
	author    *dogpile.Func1[string, Author]
	tagCounts *dogpile.Func0[[]TagCount]

	pages   http.Handler // the routes alone
	handler http.Handler // the routes behind the middleware

	closeOnce sync.Once
	closeErr  error
}

// newSite builds the site: its regions from cfg.Settings (through
// tmplcache.FromConfig), its cached functions and both template sets.
// Close releases the regions.
func newSite(cfg siteConfig) (_ *site, err error) {
	s := &site{store: newSlowStore(cfg.Delay), log: cfg.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	settings := cfg.Settings
	if settings == nil {
		settings = defaultSettings
	}

	// Regions. FromConfig builds one region per "cache.<name>.backend".
	// Every region reports to the debug panel, and fails open: with Redis
	// or Memcached down, pages are rendered uncached instead of failing.
	regionOpts := []dogpile.Option{dogpile.WithObserver(observe.Multi(debugpanel.Observer{}, cfg.Observer)), dogpile.WithFailOpen()}
	opts := []tmplcache.Option{tmplcache.WithRegionOptions(regionOpts...)}
	if _, ok := settings[settingsPrefix+"local.backend"]; !ok {
		local := dogpile.NewRegion(append([]dogpile.Option{dogpile.WithName("local")}, regionOpts...)...)
		if err := local.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Minute}); err != nil {
			return nil, err
		}
		s.owned = append(s.owned, local)
		opts = append(opts, tmplcache.WithRegion("local", local))
	}
	s.frags, err = tmplcache.FromConfig(settings, settingsPrefix, opts...)
	if err != nil {
		_ = s.closeOwned()
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	def, err := s.frags.Region("")
	if err != nil {
		return nil, err
	}
	for _, name := range s.frags.RegionNames() {
		r, _ := s.frags.Region(name)
		info := regionInfo{Name: r.Name(), Expiration: r.ExpirationTime()}
		if info.Name == "" {
			info.Name = "default"
		}
		info.Backend, _ = settings[settingsPrefix+info.Name+".backend"].(string)
		if info.Backend == "" {
			info.Backend = "dogpile.cache.memory"
		}
		s.regions = append(s.regions, info)
	}

	// Function caching: these data-layer calls are cached in the default
	// region, under dogpile.cache's function keys, "<module>:<name>|<args>":
	// "blog.store:Post|3". FuncName fixes the names: derived from the
	// symbols they would be "main:(*slowStore).Post", and another package
	// path under go test.
	s.post = dogpile.Cache1(def, s.store.Post, dogpile.FuncName(funcModule, "Post"))
	s.author = dogpile.Cache1(def, s.store.Author, dogpile.FuncName(funcModule, "Author"))
	s.tagCounts = dogpile.Cache0(def, s.store.TagCounts, dogpile.FuncName(funcModule, "TagCounts"))

	if err := s.parsePongo(); err != nil {
		return nil, fmt.Errorf("pongo2 templates: %w", err)
	}
	if err := s.parseHTML(); err != nil {
		return nil, fmt.Errorf("html/template templates: %w", err)
	}

	mux := http.NewServeMux()
	s.routes(mux)
	debug := mountDebug(mux)
	s.pages = mux
	s.handler = debug(s.requests.middleware(http.NewCrossOriginProtection().Handler(mux)))
	return s, nil
}

// mountDebug mounts the request-scoped debug panel at /_dogpile/ on mux
// and returns its middleware, which records the cache operations of every
// request the site serves (the regions report to it through their
// debugpanel.Observer). The panel shows paths and cache keys, never values;
// it answers only the browsers of this machine (debugpanel.Loopback, which
// also refuses requests a proxy forwarded), the demo's stand-in for the
// authentication a real deployment would put in Guard. Server-Timing goes
// to the same clients only.
func mountDebug(mux *http.ServeMux) func(http.Handler) http.Handler {
	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.Loopback()})
	mux.Handle(debugpanel.DefaultPrefix+"/", panel)
	return panel.Middleware
}

// Handler returns the site's http.Handler.
func (s *site) Handler() http.Handler { return s.handler }

// Close closes the regions. Calls after the first do nothing.
func (s *site) Close() error {
	s.closeOnce.Do(func() {
		if s.frags != nil {
			s.closeErr = s.frags.Close()
		}
		s.closeErr = errors.Join(s.closeErr, s.closeOwned())
	})
	return s.closeErr
}

func (s *site) closeOwned() error {
	var errs []error
	for _, r := range s.owned {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}

// parsePongo parses the pongo2 pages from the embedded files, with the
// functions their fragments call. pongo2ext.NewSet makes the set: its
// templates cache their blocks in s.frags, and may spell them as Mako does
// (<% cached %>) however they are loaded. Functions that query take the
// *pongo2.ExecutionContext, which pongo2 passes implicitly, and ask
// pongo2ext.Context for the context to query with: inside a block being
// rendered it is the rendering's context, which outlives a request that
// goes away while others wait for the fragment, and through which the
// functions add tags to the block (tag_cloud).
func (s *site) parsePongo() error {
	dir, err := fs.Sub(files, "templates/pongo2")
	if err != nil {
		return err
	}
	set := pongo2ext.NewSet("site", s.frags, pongo2.NewFSLoader(dir))
	ctxOf := pongo2ext.Context
	set.Globals.Update(pongo2.Context{
		"recent_posts": func(ec *pongo2.ExecutionContext, n int) ([]Post, error) {
			return s.store.RecentPosts(ctxOf(ec), n)
		},
		"comments": func(ec *pongo2.ExecutionContext, id int) (string, error) {
			n, err := s.store.CommentCount(ctxOf(ec), id)
			return commentsText(n), err
		},
		"author_name": func(ec *pongo2.ExecutionContext, slug string) (string, error) {
			return s.authorName(ctxOf(ec), slug)
		},
		"tag_cloud": func(ec *pongo2.ExecutionContext) ([]TagCount, error) {
			return s.tagCloud(ctxOf(ec))
		},
		"request_summary": func(ec *pongo2.ExecutionContext) string {
			return requestStatsFrom(ctxOf(ec)).summary()
		},
		"stamp": stamp,
	})
	s.pongo = map[string]*pongo2.Template{}
	for _, name := range pongoPages {
		t, err := set.FromCache(name)
		if err != nil {
			return err
		}
		s.pongo[name] = t
	}
	return nil
}

// parseHTML parses the html/template set: the placeholder FuncMap before
// parsing, Bind (with the sidebars in the "local" region) before the first
// execution, and Check for fragment calls outside HTML text. The cards of
// cachedEach are rendered with the post as their data (.Value), carrying
// the rendering's context (.Context), which the functions that query take.
func (s *site) parseHTML() error {
	t := template.New(htmlSet).Funcs(htmltmpl.FuncMap()).Funcs(template.FuncMap{
		"stamp":    stamp,
		"duration": formatDuration,
		"comments": func(ctx context.Context, id int) (string, error) {
			n, err := s.store.CommentCount(ctx, id)
			return commentsText(n), err
		},
		"authorName": s.authorName,
	})
	if _, err := t.ParseFS(files, "templates/html/*.html"); err != nil {
		return err
	}
	err := htmltmpl.Bind(t, s.frags,
		htmltmpl.Fragment("sidebar-recent", htmltmpl.Region("local")),
		htmltmpl.Fragment("sidebar-tags", htmltmpl.Region("local")),
	)
	if err != nil {
		return err
	}
	if problems := htmltmpl.Check(t); len(problems) > 0 {
		return fmt.Errorf("%v", problems)
	}
	s.html = t
	return nil
}

// authorName returns the name of the author slug (from the cached
// function).
func (s *site) authorName(ctx context.Context, slug string) (string, error) {
	a, err := s.author.Call(ctx, slug)
	return a.Name, err
}

// tagCloud returns the tags with their counts (from the cached function).
// Inside a fragment it adds the tag-counts tag to the fragment first, so
// that an edit that changes the counts retires it, even one saved while
// the fragment renders.
func (s *site) tagCloud(ctx context.Context) ([]TagCount, error) {
	tmplcache.AddTags(ctx, tagCountsTag)
	return s.tagCounts.Call(ctx)
}

// commentsText says how many comments there are: "1 comment", "3 comments".
func commentsText(n int) string { return fmt.Sprintf("%d %s", n, plural(n, "comment", "comments")) }

// stamp is the time a fragment was rendered, printed in each fragment: a
// cached fragment keeps showing the time of its rendering.
func stamp() string { return time.Now().Format("15:04:05.000") }

// renderPongo executes a pongo2 page into a buffer, then writes it with
// status; an error is logged and answered with a 500.
func (s *site) renderPongo(w http.ResponseWriter, r *http.Request, status int, name string, data pongo2.Context) {
	data["flash"] = s.flashes.pop(w, r)
	var buf bytes.Buffer
	if err := s.pongo[name].ExecuteWriterUnbuffered(pongo2ext.WithContext(r.Context(), data), &buf); err != nil {
		s.fail(w, r, fmt.Errorf("%s: %w", name, err))
		return
	}
	s.write(w, status, buf.Bytes())
}

// renderHTML executes an html/template page into a buffer, then writes it
// with status. The page carries the request's context in its embedded
// htmltmpl.Data.
func (s *site) renderHTML(w http.ResponseWriter, r *http.Request, status int, name string, p htmlPage) {
	p.Data = htmltmpl.Data{Ctx: r.Context()}
	p.site = s
	p.Flash = s.flashes.pop(w, r)
	var buf bytes.Buffer
	if err := s.html.ExecuteTemplate(&buf, name, p); err != nil {
		s.fail(w, r, fmt.Errorf("%s: %w", name, err))
		return
	}
	s.write(w, status, buf.Bytes())
}

func (s *site) write(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *site) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() == nil {
		s.log.Error("rendering failed", "path", r.URL.Path, "err", err)
	}
	http.Error(w, "Internal Server Error", http.StatusInternalServerError)
}
