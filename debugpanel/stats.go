package debugpanel

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/dogpilego/dogpile/dogpile/observe"
)

// OpStats are the statistics of one operation type of one layer. Hits,
// misses and the other results are counted per key, so a get_multi of ten
// keys counts ten.
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
	// Time is the operations' total duration.
	Time time.Duration `json:"-"`
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

// MarshalJSON adds the time as fractional milliseconds ("time_ms").
func (s OpStats) MarshalJSON() ([]byte, error) {
	type plain OpStats
	return json.Marshal(struct {
		plain
		TimeMS float64 `json:"time_ms"`
	}{plain(s), ms(s.Time)})
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
	// Dropped is the number of operations beyond Limits.MaxOps, counted
	// here but not kept.
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
	// CacheTime is the time spent in the cache outside creators: the
	// region layer's operation time less the creators' time (CreateTime)
	// or, when only the proxy backend recorded, the backend calls' time.
	// Concurrent operations add up, so it can exceed the request's time.
	CacheTime time.Duration `json:"-"`
	// CreateTime is the time creators took.
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
}

func (a *aggregator) add(op *Operation) {
	a.ops++
	var s *OpStats
	for i := range a.byOp {
		if a.byOp[i].Op == op.Op && a.byOp[i].Layer == op.Layer {
			s = &a.byOp[i]
			break
		}
	}
	if s == nil {
		a.byOp = append(a.byOp, OpStats{Layer: op.Layer, Op: op.Op})
		s = &a.byOp[len(a.byOp)-1]
	}
	s.Calls++
	s.Keys += op.KeyCount
	s.Time += op.Duration
	s.count(op.Results) // every key's, before Record keeps MaxKeys of them
	if op.Size >= 0 {
		s.Bytes += int64(op.Size)
		s.SizeKnown = true
	}
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
		if s.Layer == LayerRegion && s.Op == observe.OpCreate.String() {
			st.CreateTime += s.Time
		}
		if s.Layer != layer || nested(s.Op) {
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
		st.CacheTime += s.Time
	}
	if layer == LayerRegion {
		st.CacheTime = max(st.CacheTime-st.CreateTime, 0)
	}
	return st
}
