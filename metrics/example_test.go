package metrics_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/metrics"
)

// One Observer counts every region of the process.
func ExampleObserver() {
	obs := metrics.New()
	users := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithObserver(obs))
	if err := users.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	load := func(context.Context) (string, error) { return "ann", nil }
	for range 4 {
		if _, err := dogpile.GetOrCreate(ctx, users, "user:1", load); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := dogpile.GetMulti[string](ctx, users, []string{"user:1", "user:2"}); err != nil {
		log.Fatal(err)
	}

	s, _ := obs.Stats().Region("users")
	fmt.Printf("hits=%d misses=%d created=%d creations=%d ratio=%.2f\n", s.Hits, s.Misses, s.Created, s.Creations, s.HitRatio())
	fmt.Println("get_or_create calls:", s.Ops["get_or_create"].Calls)
	// Output:
	// hits=4 misses=1 created=1 creations=1 ratio=0.67
	// get_or_create calls: 4
}
