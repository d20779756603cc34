// Package debugpanel shows the cache operations of each web request: the
// Go counterpart of pyramid_debugtoolbar_dogpile's "Dogpile" panel.
//
// # Recording
//
// A Recorder collects one request's operations. Panel.Middleware puts a new
// one in each request's context.Context (Go's replacement for Pyramid's
// thread-local request); NewContext does it by hand for work outside
// net/http. Two sources record into the Recorder of the context of each
// cache call:
//
//   - Observer, an observe.Observer installed on regions with
//     dogpile.WithObserver (combined with others by observe.Multi). It
//     hears every region operation with its per-key results (hit, stale,
//     miss, created, waited, error), the creations and lock waits it
//     caused, the region's invalidations, and, for template fragments, the
//     template and fragment name (tmplcache.FragmentFromContext). It is
//     enabled only for calls whose context carries a Recorder, so elsewhere
//     it costs one context lookup and a hit keeps the region's
//     allocation-free path.
//   - ProxyBackend, a proxy backend (built on driver.ProxyBackend)
//     registered with pyconfig.RegisterProxy as "debugpanel" for regions
//     configured from files ("cache.pages.wrap = debugpanel"): it records
//     the calls the region makes to its backend, as the Python package's
//     LoggingProxy does.
//
// Each Operation holds its region, backend, operation, keys, per-key
// results, start (from the request's start) and duration (monotonic),
// payload size in bytes when the backend stores bytes, and the fragment
// that made the call. Never a value.
//
// Memory is bounded: a Panel keeps the last Options.MaxRequests requests
// (50), each with at most Limits.MaxOps operations (1000) of at most
// Limits.MaxKeys keys (100). Operations beyond the limit are dropped but
// still counted, so the statistics stay exact.
//
// # The panel
//
// A Panel is an http.Handler. It is off unless mounted; the demo site
// mounts it at /_dogpile:
//
//	panel := debugpanel.New(debugpanel.Options{
//		Guard: func(r *http.Request) bool { return isDeveloper(r) },
//	})
//	mux.Handle("/_dogpile/", panel)
//	http.ListenAndServe(addr, panel.Middleware(mux))
//
// Its pages list the kept requests (method, path, status, time, operation
// count, cache time), and for each request the statistics per operation
// type (calls, keys, time, hits, misses, stale values served, creations,
// bytes: multi-key operations count per key), then the operations in
// chronological order, colour-coded by result, sortable by any column, with
// a filter box matching keys (space-separated terms, all must match). Size
// columns appear only when some size is known. The same data is served as
// JSON at /_dogpile/requests.json and /_dogpile/requests/{id}.json (or
// with ?format=json); ServeHTTP lists the paths.
//
// The panel shows the paths and cache keys of every request that went
// through the middleware, whoever made it. Never mount it on a production
// server without Options.Guard (a request it rejects gets 403), and prefer
// not to install the middleware there at all: the metrics package is the
// production counterpart.
//
// # Server-Timing
//
// The middleware adds a Server-Timing header to each response, written
// just before the response header is sent, which browsers show in their
// network timings:
//
//	Server-Timing: dogpile;dur=1.234;desc="12 ops, 9 hits, 2 created", dogpile-get_or_create;dur=3.100;desc="11 calls, 9 hits, 2 created", ...
//
// "dogpile" is the time spent in the cache outside creators (Stats.CacheTime);
// one metric per operation type follows. Operations made after the header
// was sent appear in the panel only. Options.NoServerTiming turns it off.
package debugpanel
