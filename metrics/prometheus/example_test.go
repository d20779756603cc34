package prometheus_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/metrics"
	dogpileprom "github.com/dogpilego/dogpile/metrics/prometheus"
)

// The collector exposes the counts of a metrics.Observer installed on the
// regions.
func ExampleNewCollector() {
	obs := metrics.New()
	region := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithObserver(obs))
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(dogpileprom.NewCollector(obs, nil))

	ctx := context.Background()
	load := func(context.Context) (string, error) { return "ann", nil }
	for range 3 {
		_, _ = dogpile.GetOrCreate(ctx, region, "user:1", load)
	}
	// One series per region; its value is what obs.Stats reports.
	n, err := testutil.GatherAndCount(reg, "dogpile_creations_total")
	users, _ := obs.Stats().Region("users")
	fmt.Println(n, err, users.Creations, users.Hits)
	// Output:
	// 1 <nil> 1 2
}
