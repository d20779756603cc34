// Command quickstart shows a region at work: a slow lookup cached, a
// stampede of 100 callers on an expired key served by one creation, and a
// region-wide invalidation. It needs no server.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
)

// A region is declared at start-up and configured later.
var pages = dogpile.NewRegion(dogpile.WithName("pages"))

type page struct {
	Title string
	Body  string
}

var queries atomic.Int64

// loadPage stands for a slow database query.
func loadPage(ctx context.Context, slug string) (page, error) {
	queries.Add(1)
	select {
	case <-time.After(50 * time.Millisecond):
	case <-ctx.Done():
		return page{}, ctx.Err()
	}
	return page{Title: "About " + slug, Body: "Rendered at " + time.Now().Format(time.TimeOnly)}, nil
}

// cachedPage caches loadPage by its argument.
var cachedPage = dogpile.Cache1(pages, loadPage)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run configures the region and shows it at work, writing to w.
func run(w io.Writer) error {
	ctx := context.Background()
	if err := pages.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: 200 * time.Millisecond}); err != nil {
		return err
	}
	defer pages.Close()

	for i := 1; i <= 2; i++ {
		start := time.Now()
		p, err := cachedPage.Call(ctx, "dogpile")
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "call %d: %q in %v\n", i, p.Title, round(time.Since(start)))
	}

	// Let the value expire, then send 100 callers at once: one regenerates
	// it, the others are served the previous value without waiting.
	time.Sleep(250 * time.Millisecond)
	before := queries.Load()
	var wg sync.WaitGroup
	var slowest atomic.Int64
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			start := time.Now()
			if _, err := cachedPage.Call(ctx, "dogpile"); err != nil {
				errs <- err
			}
			d := int64(time.Since(start))
			for old := slowest.Load(); d > old && !slowest.CompareAndSwap(old, d); old = slowest.Load() {
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Fprintf(w, "100 callers on an expired key: %d query, slowest caller %v\n",
		queries.Load()-before, round(time.Duration(slowest.Load())))

	// Invalidate everything: the next call queries again.
	if err := pages.Invalidate(ctx, true); err != nil {
		return err
	}
	before = queries.Load()
	if _, err := cachedPage.Call(ctx, "dogpile"); err != nil {
		return err
	}
	fmt.Fprintf(w, "after Invalidate: %d query\n", queries.Load()-before)
	key, err := cachedPage.Key("dogpile")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "key:", key)
	return nil
}

// round shortens a duration for printing: milliseconds, or microseconds
// for a cache hit.
func round(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}
