package debugpanel

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpilego/dogpile/dogpile/observe"
)

// Layer tells where an Operation was recorded.
type Layer string

// The layers an Operation comes from.
const (
	// LayerRegion operations come from the Observer: what the application
	// asked a region for and what it got.
	LayerRegion Layer = "region"
	// LayerBackend operations come from the proxy backend: the calls the
	// region made to its backend.
	LayerBackend Layer = "backend"
)

// The default limits of a Recorder and a Panel.
const (
	DefaultMaxRequests = 50
	DefaultMaxOps      = 1000
	DefaultMaxKeys     = 100
	// DefaultMaxKeyLen is how many bytes of a key, a path, a template or
	// fragment name a recorder keeps.
	DefaultMaxKeyLen = 256
	// DefaultMaxRequestBytes bounds the memory one request's recording
	// keeps (Limits.MaxBytes).
	DefaultMaxRequestBytes = 512 << 10
)

// Limits bound the memory a Recorder uses. Zero fields take the defaults.
type Limits struct {
	// MaxOps is how many operations a request keeps (DefaultMaxOps); the
	// rest are counted in the statistics and in Dropped, but not kept.
	MaxOps int
	// MaxKeys is how many keys (and their results) an operation keeps
	// (DefaultMaxKeys); Operation.KeyCount tells how many it had.
	MaxKeys int
	// MaxKeyLen is how many bytes of each key the recorder keeps
	// (DefaultMaxKeyLen), cut at a UTF-8 boundary; Operation.KeyLens
	// tells the full lengths. Template and fragment names, and the
	// request's method and path, are cut the same way; error texts keep
	// up to four times as much.
	MaxKeyLen int
	// MaxBytes bounds the memory the recording of one request keeps, in
	// bytes (DefaultMaxRequestBytes, and never more than the Panel's
	// Options.MaxBytes): an operation that would go past it is counted
	// in the statistics and in Dropped, but not kept.
	MaxBytes int
}

func (l Limits) withDefaults() Limits {
	if l.MaxOps <= 0 {
		l.MaxOps = DefaultMaxOps
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = DefaultMaxKeys
	}
	if l.MaxKeyLen <= 0 {
		l.MaxKeyLen = DefaultMaxKeyLen
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxRequestBytes
	}
	return l
}

// Operation is one recorded cache operation. It holds keys and sizes, never
// values.
type Operation struct {
	// Seq numbers the request's operations from 1 in the order they
	// finished, dropped ones included.
	Seq int
	// Layer is LayerRegion or LayerBackend.
	Layer Layer
	// Region is the region's name; empty for backend operations, which do
	// not know their region.
	Region string
	// Backend is the backend's registered name, or its Go type.
	Backend string
	// Op is the operation: "get", "get_multi", "get_or_create",
	// "get_or_create_multi", "set", "set_multi", "delete", "delete_multi",
	// "lock_wait", "create" or "invalidate" (observe.Op's names).
	Op string
	// Keys are the keys as the caller gave them, at most Limits.MaxKeys,
	// each cut to Limits.MaxKeyLen bytes; none for an invalidate, which
	// concerns every key of the region.
	Keys []string
	// KeyLens holds the full length in bytes of each kept key when the
	// recorder cut one of them, and is nil otherwise.
	KeyLens []int
	// Results holds one result per kept key.
	Results []observe.Result
	// KeyCount is the number of keys of the operation, kept or not.
	KeyCount int
	// Start is when the operation started, from the start of the request.
	Start time.Duration
	// Duration is how long the operation took (monotonic).
	Duration time.Duration
	// Size is the number of payload bytes read or written, or -1 when
	// unknown (backends keeping Go values).
	Size int
	// Err is the error's text, if the operation failed (or, in fail-open
	// mode, absorbed an error).
	Err string
	// Template and Fragment name the template fragment whose rendering
	// made the call (tmplcache.FragmentFromContext), or the collection
	// whose region call it is (its first item's, for
	// tmplcache.Cache.RenderEach), if any.
	Template string
	Fragment string
	// Parent is the key of the fragment the operation is part of, from
	// tmplcache.Trace: for a fragment's own region call (its
	// get_or_create, or a collection's get_or_create_multi), the fragment
	// being rendered around it; for the other operations made for a
	// fragment (its creation, lock waits, the backend calls, the reads of
	// its tags' versions, the cache calls of the Go code its template
	// calls), that fragment, or a collection's first item. Empty outside
	// fragments. It is cut to Limits.MaxKeyLen bytes, as keys are.
	Parent string
	// Depth is the number of fragments being rendered around the
	// operation: 0 at the top of the page.
	Depth int
	// Collection reports the operations of a collection's region call
	// (tmplcache.Cache.RenderEach): its get_or_create_multi, the creation
	// and lock waits it caused, and their backend calls.
	Collection bool
}

// Result returns the operation's overall result: the result shared by all
// its keys, or false when keys differ (or there are none).
func (o *Operation) Result() (observe.Result, bool) {
	if len(o.Results) == 0 {
		return observe.None, false
	}
	r := o.Results[0]
	for _, x := range o.Results[1:] {
		if x != r {
			return observe.None, false
		}
	}
	return r, true
}

// operationJSON is Operation's JSON form: results as their names,
// durations in milliseconds.
type operationJSON struct {
	Seq        int      `json:"seq"`
	Layer      Layer    `json:"layer"`
	Region     string   `json:"region,omitempty"`
	Backend    string   `json:"backend,omitempty"`
	Op         string   `json:"op"`
	Keys       []string `json:"keys"`
	KeyLens    []int    `json:"key_lens,omitempty"`
	Results    []string `json:"results"`
	KeyCount   int      `json:"key_count"`
	StartMS    float64  `json:"start_ms"`
	DurationMS float64  `json:"duration_ms"`
	Size       int      `json:"size"`
	Err        string   `json:"error,omitempty"`
	Template   string   `json:"template,omitempty"`
	Fragment   string   `json:"fragment,omitempty"`
	Parent     string   `json:"parent,omitempty"`
	Depth      int      `json:"depth,omitempty"`
	Collection bool     `json:"collection,omitempty"`
}

// MarshalJSON writes results as their names ("hit", "miss", ...) and times
// as fractional milliseconds; "key_lens" appears only when a key was cut,
// "parent", "depth" and "collection" only inside fragments.
func (o Operation) MarshalJSON() ([]byte, error) {
	j := operationJSON{
		Seq: o.Seq, Layer: o.Layer, Region: o.Region, Backend: o.Backend, Op: o.Op,
		Keys: o.Keys, KeyLens: o.KeyLens, Results: make([]string, len(o.Results)), KeyCount: o.KeyCount,
		StartMS: ms(o.Start), DurationMS: ms(o.Duration), Size: o.Size, Err: o.Err,
		Template: o.Template, Fragment: o.Fragment, Parent: o.Parent, Depth: o.Depth, Collection: o.Collection,
	}
	if j.Keys == nil {
		j.Keys = []string{}
	}
	for i, r := range o.Results {
		j.Results[i] = r.String()
	}
	return json.Marshal(j)
}

// ms converts d to fractional milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}

// Recorder collects the cache operations of one request. The middleware
// puts one in each request's context; NewContext does it by hand, for work
// outside net/http. A Recorder is safe for concurrent use: goroutines of
// one request, and creations that outlive it, record into it.
//
// The memory it keeps is bounded by its Limits and, for the middleware's
// recorders, by the Panel's budget (Options.MaxBytes): it keeps the first
// operations that fit and counts the others.
type Recorder struct {
	limits Limits
	start  time.Time // monotonic
	panel  *Panel    // whose budget it is charged to; nil for NewRecorder's

	mu       sync.Mutex
	id       uint64
	method   string
	path     string
	pathLen  int
	status   int
	duration time.Duration
	finished bool
	ops      []Operation
	seq      int
	agg      aggregator
	used     int64 // bytes kept, against limits.MaxBytes

	// Guarded by panel.mu: the bytes charged to the panel's budget, and
	// whether the panel let go of the recorder.
	charged int64
	evicted bool
}

// NewRecorder returns an empty Recorder whose operations are timed from
// now.
func NewRecorder(l Limits) *Recorder {
	r := &Recorder{limits: l.withDefaults(), start: time.Now()}
	r.used = recorderCost
	return r
}

type recorderKey struct{}

// recording becomes true, for good, when a Recorder first enters a
// context: until then, in a process that never records (production), a
// lookup is one atomic load instead of a walk up the context chain.
var recording atomic.Bool

// NewContext returns a copy of ctx that carries rec: the Observer and the
// proxy backend record the cache operations of calls made with it.
func NewContext(ctx context.Context, rec *Recorder) context.Context {
	if rec == nil {
		return ctx
	}
	if !recording.Load() {
		recording.Store(true)
	}
	return context.WithValue(ctx, recorderKey{}, rec)
}

// FromContext returns the Recorder ctx carries, or nil.
func FromContext(ctx context.Context) *Recorder {
	if !recording.Load() {
		return nil
	}
	rec, _ := ctx.Value(recorderKey{}).(*Recorder)
	return rec
}

// Record adds op to the recorder; its Start is relative to the recorder's
// start (see Elapsed). Seq is assigned here. Keys and Results are copied,
// up to Limits.MaxKeys each, keys and the template, fragment, parent and
// error texts cut to Limits.MaxKeyLen bytes (errors to four times that). An
// operation beyond Limits.MaxOps or the memory budget is counted in the
// statistics and dropped.
func (r *Recorder) Record(op Operation) {
	if op.KeyCount < len(op.Keys) {
		op.KeyCount = len(op.Keys)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	op.Seq = r.seq
	if grow := r.agg.add(&op); grow > 0 {
		r.chargeStats(grow)
	}
	if len(r.ops) >= r.limits.MaxOps {
		r.agg.dropped++
		return
	}
	sh := r.limits.shape(op)
	cost := sh.cost()
	newCap := cap(r.ops)
	if len(r.ops) == cap(r.ops) {
		newCap = min(max(2*cap(r.ops), 8), r.limits.MaxOps)
		cost += int64(newCap-cap(r.ops)) * operationSize
	}
	if !r.charge(cost) {
		r.agg.dropped++
		return
	}
	if newCap > cap(r.ops) {
		grown := make([]Operation, len(r.ops), newCap)
		copy(grown, r.ops)
		r.ops = grown
	}
	r.ops = append(r.ops, sh.build(r.limits, op))
}

// Elapsed returns the time since the recorder was made (the request
// started): the Start of an operation that ends now is Elapsed() less its
// duration.
func (r *Recorder) Elapsed() time.Duration { return time.Since(r.start) }

// Operations returns the kept operations in chronological order: by start
// offset, the longer first (an operation that contains others, such as a
// get_or_create and the create it caused, comes before them), then by
// Seq. The slice is a copy; the Keys and Results it refers to are shared
// and must not be modified.
func (r *Recorder) Operations() []Operation {
	r.mu.Lock()
	ops := slices.Clone(r.ops)
	r.mu.Unlock()
	sortOps(ops)
	return ops
}

func sortOps(ops []Operation) {
	slices.SortStableFunc(ops, func(a, b Operation) int {
		switch {
		case a.Start != b.Start:
			return cmp.Compare(a.Start, b.Start)
		case a.Duration != b.Duration: // the enclosing one first
			return cmp.Compare(b.Duration, a.Duration)
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
}

// Stats returns the request's statistics so far. They count every
// operation, dropped ones too.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.agg.stats()
}

// Request is a snapshot of one recorded request.
type Request struct {
	// ID identifies the request in its Panel.
	ID uint64 `json:"id"`
	// Method and Path are the request's (the path only: no query string,
	// which may carry secrets), cut to Limits.MaxKeyLen bytes; PathLen is
	// the path's full length in bytes.
	Method  string `json:"method"`
	Path    string `json:"path"`
	PathLen int    `json:"path_len"`
	// Status is the response status; 0 while the request runs or when the
	// handler panicked before writing.
	Status int `json:"status"`
	// Start is the wall-clock time the request started.
	Start time.Time `json:"start"`
	// Duration is how long the handler took.
	Duration time.Duration `json:"-"`
	// Finished reports whether the handler returned.
	Finished bool `json:"finished"`
	// Stats are the statistics of every operation.
	Stats Stats `json:"stats"`
	// Memory is the number of bytes the recording of the request keeps,
	// as charged to its limits and the panel's budget.
	Memory int64 `json:"memory"`
	// Operations are the kept operations, in chronological order; nil in
	// the request lists of Panel.Requests (and then left out of the JSON).
	Operations []Operation `json:"operations,omitzero"`
}

// MarshalJSON adds the duration as fractional milliseconds
// ("duration_ms").
func (r Request) MarshalJSON() ([]byte, error) {
	type plain Request
	return json.Marshal(struct {
		plain
		DurationMS float64 `json:"duration_ms"`
	}{plain(r), ms(r.Duration)})
}

// Snapshot returns the request as recorded so far, operations included.
func (r *Recorder) Snapshot() Request {
	req := r.summary()
	req.Operations = r.Operations()
	if req.Operations == nil {
		req.Operations = []Operation{}
	}
	return req
}

func (r *Recorder) summary() Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Request{
		ID: r.id, Method: r.method, Path: r.path, PathLen: r.pathLen, Status: r.status,
		Start: r.start, Duration: r.duration, Finished: r.finished, Stats: r.agg.stats(), Memory: r.used,
	}
}
