package debugpanel

import (
	"encoding/json"
	"hash/maphash"
	"slices"
	"time"

	"github.com/dogpilego/dogpile/dogpile/observe"
)

// OpStats are the statistics of one operation type of one layer. Hits,
// misses and the other results are counted per key, so a get_multi of ten
// keys counts ten (see the package documentation for what each result
// means).
//
// get_or_create never reports a plain miss: a key that was not found is
// Created (this call's creation made it) or Waited (another caller's did).
// The "create" row counts the keys creators made, lock_wait the blocking
// waits for a lock, invalidate the calls of Region.Invalidate (which have
// no keys).
type OpStats struct {
	// Layer and Op name the operation type.
	Layer Layer  `json:"layer"`
	Op    string `json:"op"`
	// Calls is the number of operations; Keys the number of keys they had.
	Calls int `json:"calls"`
	Keys  int `json:"keys"`
	// Time is the operations' total duration. Operations nested in
	// others count in their own row and in the one around them: a
	// fragment's get_or_create includes its creation and the fragments
	// rendered inside it.
	Time time.Duration `json:"-"`
	// Self is the time spent in these operations and not in others nested
	// in them, counting each moment once: for the region layer, only the
	// operations not made while a fragment renders (whose time is its
	// creation's), and a get_or_create or get_or_create_multi without the
	// creation and lock waits it caused, which have rows of their own. The
	// region layer's Self times add up to the time spent in its
	// outermost operations. Backend calls do not nest: their Self is their
	// Time.
	Self time.Duration `json:"-"`
	// Hits ... Errors count keys by result.
	Hits    int `json:"hits"`
	Misses  int `json:"misses"`
	Stale   int `json:"stale"`
	Created int `json:"created"`
	Waited  int `json:"waited"`
	Errors  int `json:"errors"`
	// Bytes is the payload size read or written, where known (SizeKnown).
	Bytes     int64 `json:"bytes"`
	SizeKnown bool  `json:"size_known"`
}

// MarshalJSON adds the times as fractional milliseconds ("time_ms",
// "self_ms").
func (s OpStats) MarshalJSON() ([]byte, error) {
	type plain OpStats
	return json.Marshal(struct {
		plain
		TimeMS float64 `json:"time_ms"`
		SelfMS float64 `json:"self_ms"`
	}{plain(s), ms(s.Time), ms(s.Self)})
}

func (s *OpStats) count(res []observe.Result) {
	for _, r := range res {
		switch r {
		case observe.Hit:
			s.Hits++
		case observe.Miss:
			s.Misses++
		case observe.Stale:
			s.Stale++
		case observe.Created:
			s.Created++
		case observe.Waited:
			s.Waited++
		case observe.Error:
			s.Errors++
		}
	}
}

// Stats summarise the operations of one request.
type Stats struct {
	// Ops is the number of operations recorded, dropped ones included.
	Ops int `json:"ops"`
	// Dropped is the number of operations counted here but not kept:
	// beyond Limits.MaxOps, or past the memory budget (Limits.MaxBytes,
	// Options.MaxBytes).
	Dropped int `json:"dropped"`
	// Hits ... Errors count keys over the request's lookups: the region
	// layer's operations other than create and lock_wait or, when only
	// the proxy backend recorded, the backend layer's.
	Hits    int `json:"hits"`
	Misses  int `json:"misses"`
	Stale   int `json:"stale"`
	Created int `json:"created"`
	Waited  int `json:"waited"`
	Errors  int `json:"errors"`
	// Bytes is the payload size read and written by the same operations,
	// where known (SizeKnown).
	Bytes     int64 `json:"bytes"`
	SizeKnown bool  `json:"size_known"`
	// CacheTime is the time spent in the cache outside creators, each
	// moment counted once: the Self time of the region layer's rows other
	// than create (lookups, writes, lock waits) or, when only the proxy
	// backend recorded, the backend calls' time. The cache calls made
	// while a fragment renders are part of its creation's time. Operations
	// of concurrent goroutines add up, so it can exceed the request's
	// time.
	CacheTime time.Duration `json:"-"`
	// CreateTime is the time the outermost creators took, each moment
	// counted once: a fragment created while another one renders is part
	// of that one's creation (known for template fragments, through
	// tmplcache.Trace). CacheTime and CreateTime add up to the time spent
	// in the outermost cache operations.
	CreateTime time.Duration `json:"-"`
	// ByOp has one entry per layer and operation type: the region layer's
	// first, in observe.Op order (get, get_multi, get_or_create, ...,
	// lock_wait, create, invalidate), then the backend layer's.
	ByOp []OpStats `json:"by_op"`
}

// MarshalJSON adds the times as fractional milliseconds ("cache_time_ms",
// "create_time_ms").
func (s Stats) MarshalJSON() ([]byte, error) {
	type plain Stats
	p := plain(s)
	if p.ByOp == nil {
		p.ByOp = []OpStats{}
	}
	return json.Marshal(struct {
		plain
		CacheTimeMS  float64 `json:"cache_time_ms"`
		CreateTimeMS float64 `json:"create_time_ms"`
	}{p, ms(s.CacheTime), ms(s.CreateTime)})
}

// Lookups returns the number of keys looked up: hits, misses, stale,
// created, waited and errors.
func (s Stats) Lookups() int {
	return s.Hits + s.Misses + s.Stale + s.Created + s.Waited + s.Errors
}

// aggregator keeps the statistics of a Recorder as operations arrive, so
// they stay exact when operations are dropped.
type aggregator struct {
	ops     int
	dropped int
	byOp    []OpStats
	// The creations and lock waits of outermost get_or_create calls, not
	// yet claimed by the call that caused them, which finishes after
	// them: each by a hash of its region and first key.
	pending [pendingSlots]pendingTime
	next    int // the slot to take when every one is in use
}

// pendingSlots bounds the creations and lock waits awaiting their call:
// calls in flight at once, in one request.
const pendingSlots = 8

type pendingTime struct {
	hash uint64
	d    time.Duration
}

var pendingSeed = maphash.MakeSeed()

func pendingHash(region, key string) uint64 {
	var h maphash.Hash
	h.SetSeed(pendingSeed)
	h.WriteString(region)
	h.WriteByte(0)
	h.WriteString(key)
	return h.Sum64()
}

// hold keeps d, the time of a creation or lock wait of key, for the call
// that caused it. With every slot in use, the oldest is given up: its
// time then stays in the call's Self too.
func (a *aggregator) hold(region, key string, d time.Duration) {
	h := pendingHash(region, key)
	for i := range a.pending {
		if a.pending[i].d == 0 {
			a.pending[i] = pendingTime{h, d}
			return
		}
	}
	a.pending[a.next] = pendingTime{h, d}
	a.next = (a.next + 1) % pendingSlots
}

// claim returns, and forgets, the time held for the keys of a call.
func (a *aggregator) claim(region string, keys []string) time.Duration {
	var d time.Duration
	held := 0
	for _, p := range a.pending {
		if p.d > 0 {
			held++
		}
	}
	for _, k := range keys {
		if held == 0 {
			break
		}
		h := pendingHash(region, k)
		for i := range a.pending {
			if a.pending[i].d > 0 && a.pending[i].hash == h {
				d += a.pending[i].d
				a.pending[i] = pendingTime{}
				held--
			}
		}
	}
	return d
}

// self returns the part of op's duration that counts in its row's Self
// (see OpStats.Self).
func (a *aggregator) self(op *Operation) time.Duration {
	if op.Layer != LayerRegion {
		return op.Duration
	}
	if nested(op.Op) {
		if op.Depth > 0 {
			return 0 // inside the creation of the fragment around it
		}
		if len(op.Keys) > 0 && op.Duration > 0 {
			a.hold(op.Region, op.Keys[0], op.Duration)
		}
		return op.Duration
	}
	if op.Parent != "" {
		return 0 // made for a fragment, inside its creation or call
	}
	if op.Op == observe.OpGetOrCreate.String() || op.Op == observe.OpGetOrCreateMulti.String() {
		return max(op.Duration-a.claim(op.Region, op.Keys), 0)
	}
	return op.Duration
}

// add counts op. It returns the bytes by which the statistics entries
// grew past the statsAllowance of the recorder's base cost.
func (a *aggregator) add(op *Operation) (grown int64) {
	a.ops++
	var s *OpStats
	for i := range a.byOp {
		if a.byOp[i].Op == op.Op && a.byOp[i].Layer == op.Layer {
			s = &a.byOp[i]
			break
		}
	}
	if s == nil {
		if c := cap(a.byOp); len(a.byOp) == c {
			newCap := 4
			switch {
			case c >= 16:
				newCap = c + 8
			case c > 0:
				newCap = 2 * c
			}
			grown = int64(max(newCap, statsAllowance)-max(c, statsAllowance)) * statsSize
			a.byOp = append(make([]OpStats, 0, newCap), a.byOp...)
		}
		a.byOp = append(a.byOp, OpStats{Layer: op.Layer, Op: op.Op})
		s = &a.byOp[len(a.byOp)-1]
	}
	s.Calls++
	s.Keys += op.KeyCount
	s.Time += op.Duration
	s.Self += a.self(op)
	s.count(op.Results) // every key's, before Record keeps MaxKeys of them
	if op.Size >= 0 {
		s.Bytes += int64(op.Size)
		s.SizeKnown = true
	}
	return grown
}

// nested reports the region operations that run inside another one:
// their time and results are part of the enclosing get_or_create.
func nested(op string) bool {
	return op == observe.OpCreate.String() || op == observe.OpLockWait.String()
}

// opRank orders operation names as observe.Op does; unknown names last.
func opRank(op string) int {
	for o := observe.OpGet; o <= observe.OpInvalidate; o++ {
		if o.String() == op {
			return int(o)
		}
	}
	return int(observe.OpInvalidate) + 1
}

func (a *aggregator) stats() Stats {
	st := Stats{Ops: a.ops, Dropped: a.dropped, ByOp: slices.Clone(a.byOp)}
	slices.SortStableFunc(st.ByOp, func(x, y OpStats) int {
		if x.Layer != y.Layer {
			if x.Layer == LayerRegion {
				return -1
			}
			return 1
		}
		return opRank(x.Op) - opRank(y.Op)
	})
	layer := LayerBackend
	for i := range a.byOp {
		if a.byOp[i].Layer == LayerRegion {
			layer = LayerRegion
			break
		}
	}
	for _, s := range a.byOp {
		if s.Layer != layer {
			continue
		}
		if s.Op == observe.OpCreate.String() {
			st.CreateTime += s.Self
			continue
		}
		st.CacheTime += s.Self
		if nested(s.Op) {
			continue
		}
		st.Hits += s.Hits
		st.Misses += s.Misses
		st.Stale += s.Stale
		st.Created += s.Created
		st.Waited += s.Waited
		st.Errors += s.Errors
		st.Bytes += s.Bytes
		st.SizeKnown = st.SizeKnown || s.SizeKnown
	}
	return st
}
