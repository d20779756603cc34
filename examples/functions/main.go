// Command functions shows function caching, dogpile.cache's
// cache_on_arguments and cache_multi_on_arguments in Go: Cache1 and Cache2
// cache a function by its arguments, CacheMulti caches one value per
// argument of a function that takes many, and each cached function has
// Invalidate, Refresh, Set and Get for its entries.
//
//	go run ./examples/functions
//
// The functions sleep to stand for slow queries; the program counts the
// times each one really ran, and exits when it has shown everything. It
// needs no server: the region is in memory.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
)

func main() {
	if err := run(os.Stdout, 50*time.Millisecond); err != nil {
		log.Fatal(err)
	}
}

// User is what loadUser returns.
type User struct {
	ID   int
	Name string
}

// backend stands for a database whose every query takes delay; it counts
// the queries each function ran.
type backend struct {
	delay                        time.Duration
	users, searches, priceChecks atomic.Int64
	lastPriceArgs                atomic.Value // []string: what the last price query asked for
}

func (b *backend) wait(ctx context.Context) error {
	select {
	case <-time.After(b.delay):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loadUser looks a user up: cached with Cache1.
func (b *backend) loadUser(ctx context.Context, id int) (User, error) {
	b.users.Add(1)
	if err := b.wait(ctx); err != nil {
		return User{}, err
	}
	return User{ID: id, Name: fmt.Sprintf("user-%d", id)}, nil
}

// search returns a page of results: cached with Cache2, one entry per
// (query, page).
func (b *backend) search(ctx context.Context, query string, page int) ([]string, error) {
	b.searches.Add(1)
	if err := b.wait(ctx); err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("%s result %d", query, 2*page-1), fmt.Sprintf("%s result %d", query, 2*page)}, nil
}

// prices returns the price of every SKU in one query, by SKU: cached with
// CacheMulti, one entry per SKU, so a call queries only the SKUs missing
// from the cache.
func (b *backend) prices(ctx context.Context, skus []string) (map[string]float64, error) {
	b.priceChecks.Add(1)
	b.lastPriceArgs.Store(append([]string(nil), skus...))
	if err := b.wait(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(skus))
	for _, sku := range skus {
		out[sku] = float64(len(sku)) * 1.25
	}
	return out, nil
}

// run shows the cached functions, writing what happens to w. Each slow call
// takes delay.
func run(w io.Writer, delay time.Duration) error {
	ctx := context.Background()
	region := dogpile.NewRegion(dogpile.WithName("functions"))
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: 10 * time.Minute}); err != nil {
		return err
	}
	defer region.Close()
	db := &backend{delay: delay}

	// The keys follow dogpile.cache: "<module>:<name>|<args>". FuncName
	// sets the module and name; without it they come from the function's
	// symbol ("main:(*backend).loadUser"), which changes with the code.
	user := dogpile.Cache1(region, db.loadUser, dogpile.FuncName("shop.users", "load_user"))
	search := dogpile.Cache2(region, db.search, dogpile.FuncName("shop.search", "search"),
		dogpile.Expiration(time.Minute)) // its own expiration time
	prices := dogpile.CacheMulti(region, db.prices, dogpile.FuncName("shop.catalog", "prices"))

	// timed runs f and says how long it took and whether the function
	// behind it ran (its counter moved).
	timed := func(counter *atomic.Int64, f func() (any, error)) (string, error) {
		before := counter.Load()
		start := time.Now()
		v, err := f()
		if err != nil {
			return "", err
		}
		how := "cached"
		if ran := counter.Load() - before; ran > 0 {
			how = fmt.Sprintf("function ran %d×", ran)
		}
		return fmt.Sprintf("%v in %v (%s)", v, round(time.Since(start)), how), nil
	}

	fmt.Fprintln(w, "Cache1: a function of one argument")
	for range 2 {
		line, err := timed(&db.users, func() (any, error) { return user.Call(ctx, 7) })
		if err != nil {
			return err
		}
		fmt.Fprintln(w, "  user.Call(7):", line)
	}
	key, err := user.Key(7)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "  key:", key)

	// Concurrent callers of a cold key: one runs the function under the
	// dogpile lock, the others wait for its value.
	before := db.users.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			if _, err := user.Call(ctx, 8); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Fprintf(w, "  20 concurrent user.Call(8): function ran %d×\n", db.users.Load()-before)

	fmt.Fprintln(w, "\nCache2: two arguments, one entry per pair")
	for _, args := range []struct {
		q    string
		page int
	}{{"redis", 1}, {"redis", 2}, {"redis", 1}} {
		line, err := timed(&db.searches, func() (any, error) { return search.Call(ctx, args.q, args.page) })
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  search.Call(%q, %d): %s\n", args.q, args.page, line)
	}
	if key, err = search.Key("redis", 2); err != nil {
		return err
	}
	fmt.Fprintln(w, "  key:", key)

	fmt.Fprintln(w, "\nCacheMulti: one entry per argument, one query for the missing ones")
	for _, skus := range [][]string{{"tea", "coffee"}, {"tea", "coffee", "cocoa", "mate"}, {"mate", "tea"}} {
		line, err := timed(&db.priceChecks, func() (any, error) { return prices.Call(ctx, skus...) })
		if err != nil {
			return err
		}
		asked := "nothing"
		if strings.Contains(line, "function ran") {
			asked = fmt.Sprint(db.lastPriceArgs.Load())
		}
		fmt.Fprintf(w, "  prices.Call(%s): %s; the function was asked for %s\n", strings.Join(skus, ", "), line, asked)
	}
	keys, err := prices.Keys("tea", "mate")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "  keys:", strings.Join(keys, "  "))

	fmt.Fprintln(w, "\nInvalidate, Refresh, Set, Get")
	if err := user.Invalidate(ctx, 7); err != nil {
		return err
	}
	line, err := timed(&db.users, func() (any, error) { return user.Call(ctx, 7) })
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "  after user.Invalidate(7), user.Call(7):", line)

	line, err = timed(&db.users, func() (any, error) { return user.Refresh(ctx, 7) })
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "  user.Refresh(7) runs the function now and stores the value:", line)

	if err := user.Set(ctx, User{ID: 7, Name: "Ann (renamed)"}, 7); err != nil {
		return err
	}
	line, err = timed(&db.users, func() (any, error) { return user.Call(ctx, 7) })
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "  after user.Set({7 Ann (renamed)}, 7), user.Call(7):", line)

	v, found, err := user.Get(ctx, 9)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  user.Get(9) never calls the function: %v, found=%v\n", v, found)
	v, found, err = user.Get(ctx, 7)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  user.Get(7): %v, found=%v\n", v, found)

	if err := prices.Invalidate(ctx, "tea", "coffee"); err != nil {
		return err
	}
	asked := []string{"tea", "coffee", "cocoa"}
	vals, err := prices.Get(ctx, asked...)
	if err != nil {
		return err
	}
	present := make([]bool, len(asked))
	for i, sku := range asked {
		_, present[i] = vals[sku]
	}
	fmt.Fprintf(w, "  after prices.Invalidate(tea, coffee), prices.Get(tea, coffee, cocoa): %v, found=%v\n", vals, present)

	fmt.Fprintf(w, "\nThe functions ran: loadUser %d×, search %d×, prices %d×.\n",
		db.users.Load(), db.searches.Load(), db.priceChecks.Load())
	return nil
}

// round shortens a duration for printing.
func round(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}
