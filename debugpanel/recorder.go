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
)

// Limits bound the memory a Recorder uses. Zero fields take the defaults.
type Limits struct {
	// MaxOps is how many operations a request keeps (DefaultMaxOps); the
	// rest are counted in the statistics and in Dropped, but not kept.
	MaxOps int
	// MaxKeys is how many keys (and their results) an operation keeps
	// (DefaultMaxKeys); Operation.KeyCount tells how many it had.
	MaxKeys int
}

func (l Limits) withDefaults() Limits {
	if l.MaxOps <= 0 {
		l.MaxOps = DefaultMaxOps
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = DefaultMaxKeys
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
	// Keys are the keys as the caller gave them, at most Limits.MaxKeys;
	// none for an invalidate, which concerns every key of the region.
	Keys []string
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
	// made the call (tmplcache.FragmentFromContext), if any.
	Template string
	Fragment string
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
	Results    []string `json:"results"`
	KeyCount   int      `json:"key_count"`
	StartMS    float64  `json:"start_ms"`
	DurationMS float64  `json:"duration_ms"`
	Size       int      `json:"size"`
	Err        string   `json:"error,omitempty"`
	Template   string   `json:"template,omitempty"`
	Fragment   string   `json:"fragment,omitempty"`
}

// MarshalJSON writes results as their names ("hit", "miss", ...) and times
// as fractional milliseconds.
func (o Operation) MarshalJSON() ([]byte, error) {
	j := operationJSON{
		Seq: o.Seq, Layer: o.Layer, Region: o.Region, Backend: o.Backend, Op: o.Op,
		Keys: o.Keys, Results: make([]string, len(o.Results)), KeyCount: o.KeyCount,
		StartMS: ms(o.Start), DurationMS: ms(o.Duration), Size: o.Size, Err: o.Err,
		Template: o.Template, Fragment: o.Fragment,
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
type Recorder struct {
	limits Limits
	start  time.Time // monotonic

	mu       sync.Mutex
	id       uint64
	method   string
	path     string
	status   int
	duration time.Duration
	finished bool
	ops      []Operation
	seq      int
	agg      aggregator
}

// NewRecorder returns an empty Recorder whose operations are timed from
// now.
func NewRecorder(l Limits) *Recorder {
	return &Recorder{limits: l.withDefaults(), start: time.Now()}
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
// start (see Elapsed). Seq is assigned here; Keys and Results are copied,
// up to Limits.MaxKeys each. An operation beyond Limits.MaxOps is counted
// in the statistics and dropped.
func (r *Recorder) Record(op Operation) {
	if op.KeyCount < len(op.Keys) {
		op.KeyCount = len(op.Keys)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	op.Seq = r.seq
	r.agg.add(&op)
	if len(r.ops) >= r.limits.MaxOps {
		r.agg.dropped++
		return
	}
	n := min(len(op.Keys), r.limits.MaxKeys)
	op.Keys = slices.Clone(op.Keys[:n:n])
	if len(op.Results) > n {
		op.Results = op.Results[:n]
	}
	op.Results = slices.Clone(op.Results)
	r.ops = append(r.ops, op)
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
	// which may carry secrets).
	Method string `json:"method"`
	Path   string `json:"path"`
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
		ID: r.id, Method: r.method, Path: r.path, Status: r.status,
		Start: r.start, Duration: r.duration, Finished: r.finished, Stats: r.agg.stats(),
	}
}
