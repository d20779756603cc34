package prometheus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/metrics"
	dogpileprom "github.com/dogpilego/dogpile/metrics/prometheus"
)

func TestCollector(t *testing.T) {
	obs := metrics.New()
	ctx := context.Background()
	obs.Observe(ctx, observe.Event{Region: "users", Op: observe.OpGetMulti, Keys: []string{"a", "b", "c"},
		Results: []observe.Result{observe.Hit, observe.Hit, observe.Miss}, Duration: 2 * time.Millisecond, Size: 40})
	obs.Observe(ctx, observe.Event{Region: "users", Op: observe.OpCreate, Keys: []string{"c"},
		Results: []observe.Result{observe.Created}, Duration: 500 * time.Millisecond, Size: -1})
	obs.Observe(ctx, observe.Event{Region: "users", Op: observe.OpSet, Keys: []string{"c"},
		Results: []observe.Result{observe.None}, Duration: time.Millisecond, Size: 12})
	obs.Observe(ctx, observe.Event{Region: "users", Op: observe.OpInvalidate, Duration: time.Millisecond, Size: -1})
	for _, op := range []observe.Op{observe.OpEvict, observe.OpEvict, observe.OpExpire} {
		obs.Observe(ctx, observe.Event{Region: "users", Op: op, Keys: []string{"u:9"},
			Results: []observe.Result{observe.None}, Size: -1})
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(dogpileprom.NewCollector(obs, prometheus.Labels{"app": "test"}))

	want := `
# HELP dogpile_results_total Keys looked up, by result (hit, stale, miss, created, waited).
# TYPE dogpile_results_total counter
dogpile_results_total{app="test",region="users",result="created"} 0
dogpile_results_total{app="test",region="users",result="hit"} 2
dogpile_results_total{app="test",region="users",result="miss"} 1
dogpile_results_total{app="test",region="users",result="stale"} 0
dogpile_results_total{app="test",region="users",result="waited"} 0
# HELP dogpile_creations_total Keys made by creators.
# TYPE dogpile_creations_total counter
dogpile_creations_total{app="test",region="users"} 1
# HELP dogpile_creation_seconds_total Time spent in creators.
# TYPE dogpile_creation_seconds_total counter
dogpile_creation_seconds_total{app="test",region="users"} 0.5
# HELP dogpile_operations_total Region operations, by operation.
# TYPE dogpile_operations_total counter
dogpile_operations_total{app="test",op="create",region="users"} 1
dogpile_operations_total{app="test",op="evict",region="users"} 2
dogpile_operations_total{app="test",op="expire",region="users"} 1
dogpile_operations_total{app="test",op="get_multi",region="users"} 1
dogpile_operations_total{app="test",op="invalidate",region="users"} 1
dogpile_operations_total{app="test",op="set",region="users"} 1
# HELP dogpile_invalidations_total Region invalidations, hard and soft.
# TYPE dogpile_invalidations_total counter
dogpile_invalidations_total{app="test",region="users"} 1
# HELP dogpile_evictions_total Entries a bounded backend dropped to stay within its bounds.
# TYPE dogpile_evictions_total counter
dogpile_evictions_total{app="test",region="users"} 2
# HELP dogpile_expirations_total Entries a backend dropped once they outlived its own time to live.
# TYPE dogpile_expirations_total counter
dogpile_expirations_total{app="test",region="users"} 1
# HELP dogpile_read_bytes_total Payload bytes read from byte-storing backends.
# TYPE dogpile_read_bytes_total counter
dogpile_read_bytes_total{app="test",region="users"} 40
# HELP dogpile_written_bytes_total Payload bytes written to byte-storing backends.
# TYPE dogpile_written_bytes_total counter
dogpile_written_bytes_total{app="test",region="users"} 12
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"dogpile_results_total", "dogpile_creations_total", "dogpile_creation_seconds_total",
		"dogpile_operations_total", "dogpile_invalidations_total", "dogpile_read_bytes_total", "dogpile_written_bytes_total",
		"dogpile_evictions_total", "dogpile_expirations_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(dogpileprom.NewCollector(obs, nil)); n != 5+6+6+10 { // results, operations and their seconds, per-region counters
		t.Errorf("collected %d metrics", n)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
