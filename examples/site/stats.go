package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// requestStats follows one request: when it started and how many store
// queries it caused. The store charges a query to the requestStats of its
// context; creators of cached values run with the context of the request
// that started the creation (cancellation removed, values kept), so a
// request is charged with the queries its cache misses cost, and a request
// that was served from the cache, or waited for another's creation, with
// none.
type requestStats struct {
	start   time.Time
	path    string
	queries atomic.Int64
}

type requestStatsKey struct{}

// withRequestStats returns ctx carrying rs.
func withRequestStats(ctx context.Context, rs *requestStats) context.Context {
	return context.WithValue(ctx, requestStatsKey{}, rs)
}

// requestStatsFrom returns the requestStats ctx carries, or nil.
func requestStatsFrom(ctx context.Context) *requestStats {
	rs, _ := ctx.Value(requestStatsKey{}).(*requestStats)
	return rs
}

// summary is the footer of every page: the queries and time spent so far.
func (rs *requestStats) summary() string {
	if rs == nil {
		return ""
	}
	q := rs.queries.Load()
	return fmt.Sprintf("%d %s, %s so far", q, plural(int(q), "query", "queries"), formatDuration(time.Since(rs.start)))
}

// requestEntry is a finished request, for /stats.
type requestEntry struct {
	At       time.Time
	Method   string
	Path     string
	Status   int
	Duration time.Duration
	Queries  int64
}

// requestLog remembers the last requests, for /stats.
type requestLog struct {
	mu      sync.Mutex
	entries []requestEntry // oldest first
}

// maxRequestLog is how many requests /stats lists.
const maxRequestLog = 25

func (l *requestLog) add(e requestEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
	if len(l.entries) > maxRequestLog {
		l.entries = slices.Delete(l.entries, 0, len(l.entries)-maxRequestLog)
	}
}

// list returns the requests, newest first.
func (l *requestLog) list() []requestEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.entries)
	slices.Reverse(out)
	return out
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
}

// middleware gives every request a requestStats and logs it when it is
// done. Static files are served but not logged.
func (l *requestLog) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs := &requestStats{start: time.Now(), path: r.URL.Path}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(withRequestStats(r.Context(), rs)))
		if strings.HasPrefix(r.URL.Path, "/static/") || r.URL.Path == "/favicon.ico" {
			return
		}
		l.add(requestEntry{
			At: rs.start, Method: r.Method, Path: r.URL.RequestURI(), Status: sw.status,
			Duration: time.Since(rs.start), Queries: rs.queries.Load(),
		})
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// stampedeResult is what a stampede did: n concurrent requests for one
// page after the caches were invalidated.
type stampedeResult struct {
	Hard      bool
	Requests  int
	Queries   int64           // store queries all requests caused together
	Distinct  int             // distinct queries among them
	MostRuns  int             // the most times one query ran
	Durations []time.Duration // sorted
	Failed    int             // requests that did not answer 200
	Threshold time.Duration   // the time of one query: faster requests ran or waited for none
}

// Fast is the number of requests answered in under Threshold: served a
// cached (or stale) page without waiting for a query.
func (r stampedeResult) Fast() int {
	n := 0
	for _, d := range r.Durations {
		if d < r.Threshold {
			n++
		}
	}
	return n
}

// String summarises the result for the flash message.
func (r stampedeResult) String() string {
	kind := "hard"
	if !r.Hard {
		kind = "soft"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d concurrent requests for / after a %s invalidation: %d store %s", r.Requests, kind, r.Queries, plural(int(r.Queries), "query", "queries"))
	switch {
	case r.Queries == 0:
	case r.MostRuns == 1:
		b.WriteString(", each run once")
	default:
		fmt.Fprintf(&b, " (%d distinct, one ran %s)", r.Distinct, times(r.MostRuns))
	}
	if len(r.Durations) > 0 {
		fmt.Fprintf(&b, "; fastest %s, slowest %s; %d of %d answered in under %s, the time of one query",
			formatDuration(r.Durations[0]), formatDuration(r.Durations[len(r.Durations)-1]),
			r.Fast(), r.Requests, formatDuration(r.Threshold))
	}
	if r.Failed > 0 {
		fmt.Fprintf(&b, "; %d failed", r.Failed)
	}
	b.WriteString(".")
	return b.String()
}

// stampede renders the home page once, so the cache holds it, invalidates
// every region (hard or soft), then sends n concurrent requests for the
// home page through h: the site's routes, without the request log, which
// the n requests would fill. They carry ctx, so their queries are charged
// to the request that asked for the stampede. After a
// hard invalidation one request renders each fragment while the others
// wait for it; after a soft one, one request renders each fragment while
// the others are served the previous HTML at once. Either way each query
// runs once.
func (s *site) stampede(ctx context.Context, h http.Handler, hard bool, n int) (stampedeResult, error) {
	get := func() (int, time.Duration) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
		if err != nil {
			return 0, 0
		}
		w := &discardWriter{status: http.StatusOK}
		start := time.Now()
		h.ServeHTTP(w, req)
		return w.status, time.Since(start)
	}
	if status, _ := get(); status != http.StatusOK {
		return stampedeResult{}, fmt.Errorf("warming the home page: status %d", status)
	}
	if err := s.frags.InvalidateAll(ctx, hard); err != nil {
		return stampedeResult{}, err
	}

	before := s.store.Counts()
	total := s.store.Total()
	res := stampedeResult{Hard: hard, Requests: n, Durations: make([]time.Duration, n), Threshold: max(s.store.delay, time.Millisecond)}
	var wg sync.WaitGroup
	var failed atomic.Int64
	startLine := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-startLine
			status, d := get()
			if status != http.StatusOK {
				failed.Add(1)
			}
			res.Durations[i] = d
		})
	}
	close(startLine)
	wg.Wait()
	slices.Sort(res.Durations)
	res.Failed = int(failed.Load())
	res.Queries = s.store.Total() - total
	for name, c := range s.store.Counts() {
		if ran := c - before[name]; ran > 0 {
			res.Distinct++
			res.MostRuns = max(res.MostRuns, ran)
		}
	}
	return res, nil
}

// discardWriter is an http.ResponseWriter that keeps only the status.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

// statsView is what the /stats page shows.
type statsView struct {
	Total    int64
	ByKind   []queryKind
	Queries  []queryRecord
	Requests []requestRow
	Regions  []regionInfo
	Delay    time.Duration // of every query
	Stampede int           // requests a stampede sends
}

// queryKind is the number of queries of one kind ("CommentCount").
type queryKind struct {
	Kind  string
	Count int
}

// requestRow is a logged request with the width of its bar, relative to
// the slowest request listed.
type requestRow struct {
	requestEntry
	Bar int // percent
}

// regionInfo describes a region for /stats and the start-up message.
type regionInfo struct {
	Name       string
	Backend    string
	Expiration time.Duration
}

// ExpirationText is the expiration time as people write it.
func (r regionInfo) ExpirationText() string {
	if r.Expiration <= 0 {
		return "never"
	}
	return r.Expiration.String()
}

func (s *site) statsView() *statsView {
	v := &statsView{Total: s.store.Total(), Queries: s.store.Recent(), Regions: s.regions, Delay: s.store.delay, Stampede: stampedeSize}
	kinds := map[string]int{}
	for name, n := range s.store.Counts() {
		kind, _, _ := strings.Cut(name, "(")
		kinds[kind] += n
	}
	for k, n := range kinds {
		v.ByKind = append(v.ByKind, queryKind{k, n})
	}
	slices.SortFunc(v.ByKind, func(a, b queryKind) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	entries := s.requests.list()
	var slowest time.Duration
	for _, e := range entries {
		slowest = max(slowest, e.Duration)
	}
	for _, e := range entries {
		bar := 0
		if slowest > 0 {
			bar = max(1, int(100*e.Duration/slowest))
		}
		v.Requests = append(v.Requests, requestRow{e, bar})
	}
	return v
}

// formatDuration rounds d for people: 312ms, 1.4ms, 85µs.
func formatDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func times(n int) string {
	switch n {
	case 0:
		return "zero times"
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}
