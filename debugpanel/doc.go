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
// payload size in bytes when the backend stores bytes, the fragment that
// made the call and its place in the tree of fragments (tmplcache.Trace:
// Operation.Parent, Depth, Collection). Never a value.
//
// # Results
//
// One vocabulary names what an operation did for each key, on both pages,
// in the JSON views and in Server-Timing, and each name counts one result:
//
//	hit      a fresh value found in the cache
//	stale    an expired value served while another caller makes the new one
//	miss     no usable value, and none made (get, get_multi)
//	created  no usable value: this request's creator made it
//	waited   no usable value: another caller made it while this one waited
//	error    a failed read, write or creation
//
// A get_or_create reports no plain miss: a key it did not find is created
// or waited.
//
// # Memory
//
// What a Panel keeps is bounded in bytes, not only in count: a budget of
// Options.MaxBytes (DefaultMaxBytes, 4 MiB) for everything its recordings
// keep, the requests still running included: requests, operations, keys,
// paths, error texts (the JSON and HTML it serves are made from these and
// are a few times their size at most). Each allocation is charged before
// it is made. To make room the panel lets go of its oldest requests, whole;
// running requests share what is left, and when they hold all of it their
// next operations are counted but not kept, and a new request is not
// recorded at all (Panel.Unrecorded).
//
// Within the budget a request keeps at most Limits.MaxBytes
// (DefaultMaxRequestBytes, 512 KiB), Limits.MaxOps operations (1000) of at
// most Limits.MaxKeys keys (100), and the Panel at most
// Options.MaxRequests requests (50). Keys, paths, methods, template and
// fragment names are cut to Limits.MaxKeyLen bytes (256; error texts to
// four times that) and copied, so that nothing the recorder keeps holds on
// to a longer string; the page and the JSON show the full lengths
// (Request.PathLen, Operation.KeyLens). Operations beyond a limit are
// counted in the statistics and in Stats.Dropped, so the statistics stay
// exact. A client that sends 900 KiB paths and keys therefore leaves the
// process holding no more than the budget, however many requests it sends.
//
// # The panel
//
// A Panel is an http.Handler. It is off unless mounted, and it shows
// nothing to anyone until Options.Guard says who may see it: without a
// Guard every request gets 403 Forbidden, with a text saying how to open
// it. Mounted at /_dogpile for the browsers of the machine it runs on:
//
//	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.Loopback()})
//	mux.Handle("/_dogpile/", panel)
//	http.ListenAndServe(addr, panel.Middleware(mux))
//
// Loopback admits loopback clients, and refuses a request that carries
// forwarding headers (X-Forwarded-For, Forwarded, X-Real-IP) unless it
// comes from a proxy the application names; then the client's own
// address, read from the headers past the trusted proxies, decides. A
// panel open to anyone who can reach it is a deliberate choice:
// Options{Guard: debugpanel.AllowAll}.
//
// In production, leave the middleware out (the metrics package is the
// production counterpart), or put the panel behind the application's own
// authentication:
//
//	var handler http.Handler = mux
//	if cfg.DebugPanel { // off unless configured
//		panel := debugpanel.New(debugpanel.Options{
//			Guard: func(r *http.Request) bool {
//				u, ok := auth.UserFromRequest(r) // the application's sessions
//				return ok && u.IsStaff
//			},
//		})
//		mux.Handle("/_dogpile/", panel)
//		handler = panel.Middleware(mux)
//	}
//
// The Guard sees the request as the middleware receives it: when it relies
// on values the application's authentication middleware adds to the
// context, wrap that middleware around the panel's.
//
// Its pages list the kept requests (method, path, status, time, operation
// count, results, cache time), and for each request:
//
//   - a timeline: each operation a bar on the request's own time axis,
//     coloured by result, the fragments rendered inside a fragment
//     indented under it in a tree that folds (<details>), a fragment's
//     creation and lock waits drawn as stripes in its bar, a collection
//     (tmplcache.Cache.RenderEach) one row with its item counts that
//     unfolds to its items, deletes and writes of tag versions naming the
//     fragments and tags they retired (tmplcache.KeyName), and the rows
//     with the most time of their own (their time less that of the rows
//     nested in them) marked slow and listed;
//   - the statistics per operation type (calls, keys, own time, the
//     results, bytes: multi-key operations count per key);
//   - the operations in chronological order, colour-coded by result,
//     sortable by any column, with a filter box matching keys
//     (space-separated terms, all must match).
//
// Times count each moment once: the creators' time is the outermost
// creations' (a fragment created while another renders is part of that
// one's creation), the cache time leaves creators out, and the own times
// of the region layer's rows add up to the time spent in the outermost
// operations. Size columns appear only when some size is known. The page
// holds its own style and script, under a Content-Security-Policy that
// allows nothing else, and is drawn from what the recorder keeps, within
// its budget. The same data is served as JSON at
// /_dogpile/requests.json and /_dogpile/requests/{id}.json (or with
// ?format=json); ServeHTTP lists the paths.
//
// The middleware does not record the panel's own pages, nor, by default,
// static files and the favicon (StaticAsset); Options.Skip replaces that
// choice.
//
// The panel shows the paths and cache keys of every request that went
// through the middleware, whoever made it: guard it as the application's
// own administration pages.
//
// # Server-Timing
//
// The middleware adds a Server-Timing header to the responses to clients
// the Guard admits, written just before the response header is sent,
// which browsers show in their network timings:
//
//	Server-Timing: dogpile;dur=0.520;desc="14 ops, 9 hits, 1 miss, 2 created", dogpile-get_or_create;dur=0.500;desc="11 calls, 9 hits, 2 created", dogpile-create;dur=2.600;desc="2 calls, 2 created", ...
//
// "dogpile" is the time spent in the cache outside creators (Stats.CacheTime);
// one metric per operation type follows, with its own time (OpStats.Self),
// so that no moment counts twice: the region layer's metrics add up to the
// time of the outermost operations, and the backend layer's carry counts
// only, their time being part of the region operations', unless the
// backend layer alone recorded. Operations made
// after the header was sent appear in the panel only. Other clients get no such header: its
// counts would tell them whether someone else viewed a page just before.
// Options.ServerTiming chooses otherwise: ServerTimingOff sends it to no
// one, ServerTimingAll, deliberately, to everyone.
package debugpanel
