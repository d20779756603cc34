package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/observe"
)

// A region is declared first, configured later, then used.
func ExampleNewRegion() {
	region := dogpile.NewRegion(dogpile.WithName("users"))
	fmt.Println(region.IsConfigured())

	// The memory backend registers "dogpile.cache.memory" when its package
	// is imported.
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	name, err := dogpile.GetOrCreate(ctx, region, "user:1", func(context.Context) (string, error) {
		return "ann", nil
	})
	fmt.Println(region.IsConfigured(), name, err)
	// Output:
	// false
	// true ann <nil>
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

// GetOrCreateMulti asks its creator only for the keys that are missing;
// the creator returns the values it produced, by key.
func ExampleGetOrCreateMulti() {
	region := dogpile.NewRegion()
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{}); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	_ = region.Set(ctx, "b", 20)
	values, err := dogpile.GetOrCreateMulti(ctx, region, []string{"a", "b", "c", "z"},
		func(_ context.Context, keys []string) (map[string]int, error) {
			fmt.Println("creating", keys)
			out := make(map[string]int)
			for _, k := range keys {
				if k != "z" { // no value for z: not cached, not returned
					out[k] = int(k[0]-'a'+1) * 10
				}
			}
			return out, nil
		})
	fmt.Println(values, err)
	// Output:
	// creating [a c z]
	// map[a:10 b:20 c:30] <nil>
}

// Set, Get and Delete work on values directly, without the dogpile lock.
func ExampleRegion_Set() {
	region := dogpile.NewRegion()
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := region.Set(ctx, "greeting", "hello"); err != nil {
		log.Fatal(err)
	}
	v, ok, err := dogpile.Get[string](ctx, region, "greeting")
	fmt.Println(v, ok, err)

	_, _, err = dogpile.Get[int](ctx, region, "greeting")
	fmt.Println(errors.Is(err, dogpile.ErrTypeMismatch))

	if err := region.Delete(ctx, "greeting"); err != nil {
		log.Fatal(err)
	}
	v, ok, err = dogpile.Get[string](ctx, region, "greeting")
	fmt.Printf("%q %v %v\n", v, ok, err)
	// Output:
	// hello true <nil>
	// true
	// "" false <nil>
}

// Hard invalidation makes every value absent; soft invalidation makes them
// expired, served while one caller regenerates each.
func ExampleRegion_Invalidate() {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	region := dogpile.NewRegion(dogpile.WithClock(func() time.Time { return now }))
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

	now = now.Add(time.Second) // invalidation retires values created before it
	if err := region.Invalidate(ctx, true); err != nil {
		log.Fatal(err)
	}
	_, ok, _ := dogpile.Get[string](ctx, region, "home")
	fmt.Println("after hard invalidation, Get finds a value:", ok)
	page, _ = dogpile.GetOrCreate(ctx, region, "home", render)
	fmt.Println(page)
	// Output:
	// page v1
	// after hard invalidation, Get finds a value: false
	// page v2
}

// SharedInvalidation keeps the invalidation times in the backend: a region
// of another process, here another region on the same backend, sees them.
func ExampleSharedInvalidation() {
	ctx := context.Background()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	shared := must(memory.NewBytes(memory.Options{})) // stands for a Redis server both processes use
	newProcess := func() *dogpile.Region {
		r := dogpile.NewRegion(dogpile.WithName("pages"), dogpile.WithClock(clock))
		cfg := dogpile.Config{ExpirationTime: time.Hour, Invalidator: &dogpile.SharedInvalidation{}}
		if err := r.ConfigureBackend(shared, cfg); err != nil {
			log.Fatal(err)
		}
		return r
	}
	web, worker := newProcess(), newProcess()

	_ = web.Set(ctx, "home", "<p>v1</p>")
	now = now.Add(time.Second)
	if err := worker.Invalidate(ctx, true); err != nil {
		log.Fatal(err)
	}
	_, ok, _ := dogpile.Get[string](ctx, web, "home")
	fmt.Println("the web process finds a value:", ok)
	// Output:
	// the web process finds a value: false
}

// Every error is a *dogpile.Error naming the operation, the region and the
// keys; errors.Is reaches the sentinels and the creator's own errors.
func ExampleError() {
	region := dogpile.NewRegion(dogpile.WithName("users"))
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{}); err != nil {
		log.Fatal(err)
	}
	errNoSuchUser := errors.New("no such user")
	_, err := dogpile.GetOrCreate(context.Background(), region, "user:7", func(context.Context) (string, error) {
		return "", errNoSuchUser
	})
	var de *dogpile.Error
	if errors.As(err, &de) {
		fmt.Println(de.Region, de.Keys)
	}
	fmt.Println(errors.Is(err, errNoSuchUser))

	_, _, err = dogpile.Get[string](context.Background(), dogpile.NewRegion(dogpile.WithName("unset")), "k")
	fmt.Println(err)
	fmt.Println(errors.Is(err, dogpile.ErrNotConfigured))
	// Output:
	// users [user:7]
	// true
	// dogpile: region "unset": get "k": region is not configured
	// true
}

// An observer sees what each call did.
func ExampleWithObserver() {
	region := dogpile.NewRegion(dogpile.WithName("pages"), dogpile.WithObserver(
		observe.Func(func(_ context.Context, e observe.Event) {
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
