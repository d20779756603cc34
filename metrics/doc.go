// Package metrics counts the cache operations of a whole process for
// production monitoring: hits, stale values served, misses, creations,
// errors, lock waits, invalidations, bytes, and the entries bounded
// backends evict or expire, per region.
//
// An Observer is an observe.Observer for every region of the process. It is
// always enabled and cheap: atomic counters, no lock and no allocation in
// Observe once a region has been seen. Read the counts in Go with Stats, as
// an expvar with Publish or Var, or in Prometheus with the Collector of
// package metrics/prometheus:
//
//	var cacheMetrics = metrics.New()
//
//	func init() { cacheMetrics.Publish("dogpile") } // /debug/vars
//
//	var users = dogpile.NewRegion(dogpile.WithName("users"),
//		dogpile.WithObserver(observe.Multi(cacheMetrics, debugpanel.Observer{})))
//
// Results are counted per key, so a get_multi of ten keys counts ten.
// get_or_create reports no plain miss: a key it did not find is Created (its
// own creation made the value) or Waited (another caller's did).
//
// An observed region leaves its allocation-free hit path: it builds an
// Event for each call. Measure with the benchmarks of this package.
package metrics
