package memory_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// A backend bounded to 10,000 entries and 1 MiB, whose entries live ten
// minutes whatever the region's expiration.
func ExampleNew() {
	b, err := memory.New(memory.Options{MaxEntries: 10_000, MaxBytes: 1 << 20, TTL: 10 * time.Minute})
	if err != nil {
		panic(err)
	}
	r := dogpile.NewRegion(dogpile.WithLogger(slog.New(slog.DiscardHandler)))
	if err := r.ConfigureBackend(b, dogpile.Config{ExpirationTime: time.Minute}); err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = r.Set(ctx, "greeting", "hello")
	v, ok, _ := dogpile.Get[string](ctx, r, "greeting")
	fmt.Println(v, ok)
	fmt.Println(b.Len(), "entry of", b.Bytes(), "bytes; TTL", b.TTL())

	// A value over MaxBytes is served by the region, but not stored.
	page, _ := dogpile.GetOrCreate(ctx, r, "huge", func(context.Context) (string, error) {
		return strings.Repeat("x", 2<<20), nil
	})
	_, stored, _ := b.Get(ctx, "huge")
	fmt.Println(len(page), stored)

	_, err = memory.New(memory.Options{MaxEntries: -1})
	fmt.Println(err)
	// Output:
	// hello true
	// 1 entry of 13 bytes; TTL 10m0s
	// 2097152 false
	// memory: invalid argument: Options.MaxEntries is -1, want a positive number of entries, or 0 for DefaultMaxEntries
}

// Configured by name, with dogpile.cache-style arguments, as from a
// configuration file: strings are taken as they come.
func Example_arguments() {
	r := dogpile.NewRegion()
	err := r.Configure("dogpile.cache.memory", dogpile.Config{
		ExpirationTime: 5 * time.Minute,
		Arguments: map[string]any{
			"max_size":  "50000",
			"max_bytes": "64MiB",
		},
	})
	fmt.Println(err, driver.Unwrap(r.Backend()).(*memory.Backend).TTL()) // twice the region's expiration

	fixed := dogpile.NewRegion()
	_ = fixed.Configure("dogpile.cache.memory_pickle", dogpile.Config{
		ExpirationTime: 5 * time.Minute,
		Arguments:      map[string]any{"memory_expiration_time": 3600},
	})
	fmt.Println(driver.Unwrap(fixed.Backend()).(*memory.BytesBackend).TTL())

	for _, args := range []driver.Arguments{
		{"max_bytes": "lots"},
		{"memory_expiration_time": -1},
		{"cache_dict": map[string]any{}},
	} {
		_, err := driver.Open("dogpile.cache.memory", args)
		fmt.Println(err)
	}
	// Output:
	// <nil> 10m0s
	// 1h0m0s
	// dogpile.cache.memory: invalid argument: argument "max_bytes" is string "lots", want a positive number of bytes, or a size such as "64MiB" or "1GB" (leave it out for 268435456)
	// dogpile.cache.memory: invalid argument: argument "memory_expiration_time" is int -1, want a number of seconds, 0 or "none" for no time to live (leave it out to derive it from the region)
	// dogpile.cache.memory: invalid argument: argument "cache_dict" is not supported: the backend keeps its entries in a bounded cache of its own, not in a map given to it (bound it with max_size and max_bytes)
}

// The default cost of a value is an estimate of the memory it holds.
func ExampleEstimateCost() {
	type user struct {
		Name   string
		Emails []string
	}
	fmt.Println(memory.EstimateCost("hello"))
	fmt.Println(memory.EstimateCost(42))
	fmt.Println(memory.EstimateCost(user{Name: "ann", Emails: []string{"ann@example.com"}}))
	// Output:
	// 5
	// 8
	// 74
}
