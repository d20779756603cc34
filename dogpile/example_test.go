package dogpile_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
)

// A region is declared first, configured later, then used.
func ExampleNewRegion() {
	region := dogpile.NewRegion(dogpile.WithName("users"))
	fmt.Println(region.IsConfigured())

	if err := region.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := region.Set(ctx, "user:1", "ann"); err != nil {
		log.Fatal(err)
	}
	v, ok, err := region.Get(ctx, "user:1")
	fmt.Println(region.IsConfigured(), v, ok, err)
	// Output:
	// false
	// true ann true <nil>
}

// GetOrCreate calls the creator only when the value is missing or expired.
func ExampleGetOrCreate() {
	region := dogpile.NewRegion()
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Minute}); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	calls := 0
	loadUser := func(context.Context) (string, error) {
		calls++
		return "ann", nil
	}
	for range 3 {
		name, err := dogpile.GetOrCreate(ctx, region, "user:1", loadUser)
		fmt.Println(name, err)
	}
	fmt.Println("creator calls:", calls)
	// Output:
	// ann <nil>
	// ann <nil>
	// ann <nil>
	// creator calls: 1
}

// GetOrCreateMulti asks its creator only for the keys that are missing.
func ExampleGetOrCreateMulti() {
	region := dogpile.NewRegion()
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{}); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	_ = region.Set(ctx, "b", 20)
	values, err := dogpile.GetOrCreateMulti(ctx, region, []string{"a", "b", "c"},
		func(_ context.Context, keys []string) ([]int, error) {
			fmt.Println("creating", keys)
			out := make([]int, len(keys))
			for i, k := range keys {
				out[i] = int(k[0]-'a'+1) * 10
			}
			return out, nil
		})
	fmt.Println(values, err)
	// Output:
	// creating [a c]
	// [10 20 30] <nil>
}

// Hard invalidation makes every value absent; soft invalidation makes them
// expired, served while one caller regenerates each.
func ExampleRegion_Invalidate() {
	region := dogpile.NewRegion()
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	version := 0
	render := func(context.Context) (string, error) {
		version++
		return fmt.Sprintf("page v%d", version), nil
	}
	page, _ := dogpile.GetOrCreate(ctx, region, "home", render)
	fmt.Println(page)

	time.Sleep(time.Millisecond) // invalidation retires values created strictly before it
	if err := region.Invalidate(ctx, true); err != nil {
		log.Fatal(err)
	}
	_, ok, _ := region.Get(ctx, "home")
	fmt.Println("after hard invalidation, Get finds a value:", ok)
	page, _ = dogpile.GetOrCreate(ctx, region, "home", render)
	fmt.Println(page)
	// Output:
	// page v1
	// after hard invalidation, Get finds a value: false
	// page v2
}

// An observer sees what each call did.
func ExampleWithObserver() {
	region := dogpile.NewRegion(dogpile.WithName("pages"), dogpile.WithObserver(
		dogpile.ObserverFunc(func(_ context.Context, e dogpile.Event) {
			fmt.Println(e.Region, e.Op, e.Keys, e.Results)
		})))
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{}); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	create := func(context.Context) (string, error) { return "<p>hi</p>", nil }
	_, _ = dogpile.GetOrCreate(ctx, region, "home", create)
	_, _ = dogpile.GetOrCreate(ctx, region, "home", create)
	// Output:
	// pages create [home] [created]
	// pages get_or_create [home] [created]
	// pages get_or_create [home] [hit]
}
