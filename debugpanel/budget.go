package debugpanel

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/dogpilego/dogpile/dogpile/observe"
)

// The memory a recording keeps is charged, in bytes, to the request's
// Limits.MaxBytes and, for the middleware's recorders, to the Panel's
// budget (Options.MaxBytes), before it is allocated:
//
//   - a recorder: its struct, statistics entries for statsAllowance
//     operation types, its method and path (cut to Limits.MaxKeyLen);
//   - an operation: its share of the request's operation array (which
//     grows by doubling, charged as it grows), the array of its kept keys,
//     their results, their lengths when one was cut, and one string
//     holding the kept keys, template, fragment, parent and error texts.
//
// Each allocation is charged as alloc rounds it, above what the Go
// allocator uses. Strings the recorder does not copy are not charged: the
// names of regions, backends, layers and operations, which belong to the
// application.
var (
	operationSize = int64(unsafe.Sizeof(Operation{}))
	statsSize     = int64(unsafe.Sizeof(OpStats{}))
	recorderCost  = alloc(int(unsafe.Sizeof(Recorder{}))) + alloc(statsAllowance*int(statsSize))
)

// statsAllowance is how many statistics entries (one per layer and
// operation type) a recorder's base cost provides for: more than the
// Observer and the proxy backend ever make (17). Entries beyond it, which
// only operation names of the application's own Record calls make, are
// charged as they come and never refused, so that statistics stay exact.
const statsAllowance = 24

// alloc returns an upper bound of the memory the Go allocator takes for an
// object of n bytes: small objects are rounded up to a size class (at most
// a fifth more, and at least 8 bytes), large ones to whole 8 KiB pages.
func alloc(n int) int64 {
	switch {
	case n <= 0:
		return 0
	case n <= 32<<10:
		return int64(n + n/5 + 16)
	}
	return int64((n + 8191) &^ 8191)
}

// cut returns s cut to at most n bytes, at the start of a UTF-8 sequence
// when one begins within the last three bytes.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for i := 0; i < utf8.UTFMax-1 && n > 0 && !utf8.RuneStart(s[n]); i++ {
		n--
	}
	return s[:n]
}

// errLen is how many bytes of an error text a recorder keeps: error texts
// usually hold a key and more.
func (l Limits) errLen() int { return 4 * l.MaxKeyLen }

// shape is the size of the copy of an operation a recorder keeps.
type shape struct {
	keys, results int  // kept keys and results
	strBytes      int  // bytes of the kept strings
	cut           bool // a kept key was cut
}

func (l Limits) shape(op Operation) shape {
	sh := shape{keys: min(len(op.Keys), l.MaxKeys)}
	sh.results = min(len(op.Results), sh.keys)
	for _, k := range op.Keys[:sh.keys] {
		c := len(cut(k, l.MaxKeyLen))
		sh.cut = sh.cut || c < len(k)
		sh.strBytes += c
	}
	sh.strBytes += len(cut(op.Template, l.MaxKeyLen)) + len(cut(op.Fragment, l.MaxKeyLen)) + len(cut(op.Parent, l.MaxKeyLen)) +
		len(cut(op.Err, l.errLen()))
	return sh
}

// cost is what the copy costs, the operation array's share aside.
func (sh shape) cost() int64 {
	c := alloc(16*sh.keys) + alloc(sh.results) + alloc(sh.strBytes)
	if sh.cut {
		c += alloc(int(unsafe.Sizeof(0)) * sh.keys)
	}
	return c
}

// build returns the copy of op that the recorder keeps: its own slices,
// and its strings cut and copied into one, so that it shares no memory
// with the caller (a short key may be part of a long string, such as a
// request's path).
func (sh shape) build(l Limits, op Operation) Operation {
	var b strings.Builder
	b.Grow(sh.strBytes)
	for _, k := range op.Keys[:sh.keys] {
		b.WriteString(cut(k, l.MaxKeyLen))
	}
	b.WriteString(cut(op.Template, l.MaxKeyLen))
	b.WriteString(cut(op.Fragment, l.MaxKeyLen))
	b.WriteString(cut(op.Parent, l.MaxKeyLen))
	b.WriteString(cut(op.Err, l.errLen()))
	all := b.String()
	take := func(s string, n int) string {
		s = cut(s, n)
		out := all[:len(s)]
		all = all[len(s):]
		return out
	}
	kept := op
	if op.Keys != nil {
		kept.Keys = make([]string, sh.keys)
		for i, k := range op.Keys[:sh.keys] {
			kept.Keys[i] = take(k, l.MaxKeyLen)
		}
	}
	kept.KeyLens = nil
	if sh.cut {
		kept.KeyLens = make([]int, sh.keys)
		for i, k := range op.Keys[:sh.keys] {
			kept.KeyLens[i] = len(k)
		}
	}
	if op.Results != nil {
		kept.Results = make([]observe.Result, sh.results)
		copy(kept.Results, op.Results)
	}
	kept.Template = take(op.Template, l.MaxKeyLen)
	kept.Fragment = take(op.Fragment, l.MaxKeyLen)
	kept.Parent = take(op.Parent, l.MaxKeyLen)
	kept.Err = take(op.Err, l.errLen())
	return kept
}

// charge charges n bytes to the recorder's limit and its panel's budget,
// reporting false, charging nothing, when either has no room left.
// r.mu is held.
func (r *Recorder) charge(n int64) bool {
	if r.used+n > int64(r.limits.MaxBytes) {
		return false
	}
	if r.panel != nil && !r.panel.reserve(r, n, false) {
		return false
	}
	r.used += n
	return true
}

// chargeStats charges n bytes of statistics entries, room or not.
// r.mu is held.
func (r *Recorder) chargeStats(n int64) {
	r.used += n
	if r.panel != nil {
		r.panel.reserve(r, n, true)
	}
}

// reserve charges n bytes of rec to the panel's budget, letting go of the
// oldest kept requests to make room. It reports false, charging nothing,
// when rec was let go, or when the requests still running hold the rest
// of the budget and force is false.
//
// Lock order: a Recorder's mu, then the Panel's. The panel never locks a
// recorder while it holds its own lock.
func (p *Panel) reserve(rec *Recorder, n int64, force bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !rec.evicted && p.used+n > p.maxBytes && len(p.reqs) > 0 {
		p.evictOldest()
	}
	if rec.evicted || (p.used+n > p.maxBytes && !force) {
		return false
	}
	p.used += n
	rec.charged += n
	return true
}

// evictOldest lets go of the oldest kept request. p.mu is held.
func (p *Panel) evictOldest() {
	rec := p.reqs[0]
	rec.evicted = true
	p.used -= rec.charged
	rec.charged = 0
	p.reqs[0] = nil
	p.reqs = p.reqs[1:]
}

// newRecorder returns a Recorder for r charged to the panel's budget, or
// nil when the budget has no room even for that.
func (p *Panel) newRecorder(r *http.Request) *Recorder {
	l := p.opts.Limits
	method, path := cut(r.Method, l.MaxKeyLen), cut(r.URL.Path, l.MaxKeyLen)
	rec := &Recorder{limits: l, start: time.Now(), panel: p}
	base := recorderCost + alloc(len(method)) + alloc(len(path))
	if !p.reserve(rec, base, false) {
		return nil
	}
	rec.used = base
	rec.id = p.nextID.Add(1)
	// Copies: net/http's method and path are parts of the request line,
	// which may be much longer.
	rec.method, rec.path, rec.pathLen = methodName(method), strings.Clone(path), len(r.URL.Path)
	return rec
}

// methodName returns m, as one of net/http's constants when it is one.
func methodName(m string) string {
	for _, known := range [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace} {
		if m == known {
			return known
		}
	}
	return strings.Clone(m)
}
