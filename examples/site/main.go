// Command site is a small blog that shows dogpile's caching in a web
// application. Its data layer is slow on purpose: every query sleeps
// (50 ms by default), so what the caches save is visible in the page
// timings.
//
//	go run ./examples/site                          # http://127.0.0.1:8080/
//	go run ./examples/site -addr 127.0.0.1:0        # any free port
//	go run ./examples/site -config site.ini         # regions from a file (see config.example.ini)
//
// What it shows:
//
//   - Template fragment caching with both engines, through one
//     tmplcache.Cache: the home and post pages are pongo2 templates with
//     {% cached %} blocks (package pongo2ext, which also reads the Mako
//     spelling <% cached %>, used by the tag cloud, a nameless block); the
//     archive, tag, author and stats pages are html/template with the
//     `cached` func (package htmltmpl).
//   - Sidebars (recent posts, tag cloud) cached in a "local" region that
//     expires sooner, and collections of cards: the home page's cards are
//     a {% cachedfor %}, the tag and author pages' a cachedEach, so all the
//     cards of a page are read with one region call (one round trip to
//     Redis or Memcached) and only the missing ones are rendered. Each
//     collection is inside a cached section (Russian-doll caching): when
//     one post changes, the section is rebuilt from the other cards, which
//     are still cached.
//   - Invalidation by tags: each fragment that shows a post declares the
//     post's tag ("post:7"), the lists of a tag or an author declare theirs
//     ("tag:go", "author:mira"), the lists of titles "titles", and the Go
//     code that reads the tag counts adds "tag-counts" to the fragment it
//     renders (tmplcache.AddTags). A section depends on the tags of the
//     cards inside it without declaring them. Saving the edit form
//     (/posts/{id}/edit) retires the tags the edit affects with
//     tmplcache.Cache.InvalidateTags, so exactly the fragments that show
//     what changed are rendered again, with no list of keys kept by hand;
//     the page then lists the tags and the fragments that depend on them.
//   - Function caching of data-layer calls with dogpile.Cache1 and Cache0.
//   - The dogpile lock: /stats lists each request's time and queries, and
//     sends 50 concurrent requests at the home page after a hard or soft
//     invalidation: each query runs once, and after a soft invalidation the
//     other requests are served the previous page at once.
//   - The request's context reaches the regions through the templates'
//     data (pongo2ext.WithContext, htmltmpl.Data).
//
// Every page prints, in small type, when each of its fragments was
// rendered, and its footer the queries and time the request took.
//
// Without -config the regions are in memory. -config names a Pyramid or
// Paste .ini file whose [app:main] section holds dogpile.cache's settings
// (or "file#name" for [app:name]), read as the Python application reads the
// same file (pyconfig.ReadINI) and configured by tmplcache.FromConfig:
//
//	[app:main]
//	cache.default.backend = dogpile.cache.redis
//	cache.default.expiration_time = 300
//	cache.default.arguments.url = redis://127.0.0.1:6379/0
//	cache.local.backend = dogpile.cache.memcached
//	cache.local.arguments.url =
//	    127.0.0.1:11211
//	    127.0.0.1:11212
//
// The file, Redis and Memcached backends are linked in, so their names work.
// The server stops cleanly on SIGINT (Ctrl-C) or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "site:", err)
		stop()
		os.Exit(1)
	}
}

// shutdownTimeout bounds how long requests in flight may take to finish
// once the server is asked to stop.
const shutdownTimeout = 5 * time.Second

// run parses args, serves the site until ctx ends, then shuts the server
// down and closes the regions. It prints the site's URL to stdout once the
// server listens.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("site", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", "127.0.0.1:8080", "`host:port` to listen on (port 0: any free port)")
	configFile := flags.String("config", "", "read the regions' settings from the [app:main] section of the .ini `file` (file#name: [app:name]; see config.example.ini)")
	delay := flags.Duration("delay", 50*time.Millisecond, "how long each query of the data layer takes")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: site [-addr host:port] [-config file] [-delay duration]")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		flags.Usage()
		return fmt.Errorf("unexpected arguments: %q", flags.Args())
	}

	cfg := siteConfig{Delay: *delay}
	if *configFile != "" {
		settings, err := loadSettings(*configFile)
		if err != nil {
			return err
		}
		cfg.Settings = settings
	}
	s, err := newSite(cfg)
	if err != nil {
		return err
	}
	defer s.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s is already in use (is the site running already?); choose another address with -addr, such as -addr 127.0.0.1:0 for any free port", *addr)
		}
		return err
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
	}

	fmt.Fprintf(stdout, "dogpile demo blog on http://%s/ (queries take %s; Ctrl-C to stop)\n", ln.Addr(), *delay)
	for _, r := range s.regions {
		fmt.Fprintf(stdout, "  region %-8s %s, expires %s\n", r.Name, r.Backend, r.ExpirationText())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}

	fmt.Fprintln(stdout, "shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("closing the regions: %w", err)
	}
	fmt.Fprintln(stdout, "stopped")
	return nil
}
