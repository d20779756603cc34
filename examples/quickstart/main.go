// Command quickstart shows a region at work: a slow lookup cached, a
// stampede of 100 callers on an expired key served by one creation, and a
// region-wide invalidation. It needs no server.
package main

import (
	"context"
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
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
	ctx := context.Background()
	if err := pages.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: 200 * time.Millisecond}); err != nil {
		log.Fatal(err)
	}

	for i := 1; i <= 2; i++ {
		start := time.Now()
		p, err := cachedPage.Call(ctx, "dogpile")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("call %d: %q in %v\n", i, p.Title, time.Since(start).Round(time.Millisecond))
	}

	// Let the value expire, then send 100 callers at once: one regenerates
	// it, the others are served the previous value without waiting.
	time.Sleep(250 * time.Millisecond)
	before := queries.Load()
	var wg sync.WaitGroup
	var slowest atomic.Int64
	for range 100 {
		wg.Go(func() {
			start := time.Now()
			if _, err := cachedPage.Call(ctx, "dogpile"); err != nil {
				log.Print(err)
			}
			if d := int64(time.Since(start)); d > slowest.Load() {
				slowest.Store(d)
			}
		})
	}
	wg.Wait()
	fmt.Printf("100 callers on an expired key: %d query, slowest caller %v\n",
		queries.Load()-before, time.Duration(slowest.Load()).Round(time.Millisecond))

	// Invalidate everything: the next call queries again.
	if err := pages.Invalidate(ctx, true); err != nil {
		log.Fatal(err)
	}
	before = queries.Load()
	if _, err := cachedPage.Call(ctx, "dogpile"); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("after Invalidate: %d query\n", queries.Load()-before)
	fmt.Println("key:", cachedPage.Key("dogpile"))
}
