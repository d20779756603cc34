// Package prometheus exposes the counts of a metrics.Observer as
// Prometheus metrics (github.com/prometheus/client_golang):
//
//	import dogpileprom "github.com/dogpilego/dogpile/metrics/prometheus"
//
//	obs := metrics.New() // installed on the regions with dogpile.WithObserver
//	prometheus.MustRegister(dogpileprom.NewCollector(obs, nil))
//
// The metrics, all counters labelled by region:
//
//	dogpile_results_total{region,result}       keys looked up, by result: hit, stale, miss, created, waited
//	dogpile_operations_total{region,op}        calls per operation (get, get_or_create, ..., lock_wait, create, invalidate, evict, expire)
//	dogpile_operation_seconds_total{region,op} their total time
//	dogpile_creations_total{region}            keys made by creators
//	dogpile_creation_seconds_total{region}     the creators' time
//	dogpile_lock_waits_total{region}           waits for a lock held elsewhere
//	dogpile_lock_wait_seconds_total{region}    their time
//	dogpile_invalidations_total{region}        region invalidations, hard and soft
//	dogpile_errors_total{region}               failed operations, absorbed errors included
//	dogpile_evictions_total{region}            entries a bounded backend dropped for its bounds (memory backends)
//	dogpile_expirations_total{region}          entries a backend dropped for its own time to live (memory backends)
//	dogpile_read_bytes_total{region}           payload bytes read (byte-storing backends)
//	dogpile_written_bytes_total{region}        payload bytes written
//
// The counts are read from the Observer's snapshot at each scrape.
package prometheus
