package metrics

import (
	"context"
	"encoding/json"
	"expvar"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpilego/dogpile/dogpile/observe"
)

// numOps bounds the observe.Op values counted, OpGet (1) to OpExpire.
const numOps = int(observe.OpExpire) + 1

// counters are one region's, updated with atomic adds only.
type counters struct {
	hits, stale, misses, created, waited atomic.Uint64
	creations, createNanos               atomic.Uint64
	lockWaits, lockWaitNanos             atomic.Uint64
	invalidations, errors                atomic.Uint64
	evictions, expirations               atomic.Uint64
	bytesRead, bytesWritten              atomic.Uint64
	calls, nanos                         [numOps]atomic.Uint64
}

// Observer counts the operations of every region it is installed on, per
// region: a process-wide observe.Observer for production. Install one
// Observer on all regions (combined with others by observe.Multi):
//
//	var cacheMetrics = metrics.New()
//	region := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithObserver(cacheMetrics))
//
// It is always enabled. Observe takes no lock and allocates nothing once a
// region has been seen: counters are atomic. The first event of a region
// name adds its counters in constant amortised time, however many names
// the Observer already counts (BenchmarkNewRegions). An Observer is safe
// for concurrent use.
type Observer struct {
	// regions maps a region's name to its *counters. A sync.Map reads
	// without a lock or an allocation, and adds a name in constant
	// amortised time, however many names it already holds.
	regions sync.Map
}

// New returns an Observer with no counts.
func New() *Observer { return &Observer{} }

// region returns the counters of name, adding them on first sight.
func (o *Observer) region(name string) *counters {
	if c, ok := o.regions.Load(name); ok {
		return c.(*counters)
	}
	c, _ := o.regions.LoadOrStore(name, &counters{})
	return c.(*counters)
}

// Enabled reports true: the counts cover every call.
func (o *Observer) Enabled(context.Context) bool { return true }

// Observe counts e. Results are counted per key for lookups (get,
// get_multi, get_or_create, get_or_create_multi), and so are evictions and
// expirations; creations, lock waits, invalidations, errors and bytes per
// event.
func (o *Observer) Observe(_ context.Context, e observe.Event) {
	c := o.region(e.Region)
	if int(e.Op) < numOps {
		c.calls[e.Op].Add(1)
		c.nanos[e.Op].Add(uint64(max(e.Duration, 0)))
	}
	if e.Err != nil {
		c.errors.Add(1)
	}
	switch e.Op {
	case observe.OpCreate:
		if e.Err == nil {
			c.creations.Add(uint64(len(e.Keys)))
		}
		c.createNanos.Add(uint64(max(e.Duration, 0)))
		return
	case observe.OpLockWait:
		if e.Err == nil {
			c.lockWaits.Add(1)
			c.lockWaitNanos.Add(uint64(max(e.Duration, 0)))
		}
		return
	case observe.OpSet, observe.OpSetMulti:
		if e.Size > 0 {
			c.bytesWritten.Add(uint64(e.Size))
		}
		return
	case observe.OpDelete, observe.OpDeleteMulti:
		return
	case observe.OpInvalidate:
		if e.Err == nil {
			c.invalidations.Add(1)
		}
		return
	case observe.OpEvict:
		c.evictions.Add(uint64(len(e.Keys)))
		return
	case observe.OpExpire:
		c.expirations.Add(uint64(len(e.Keys)))
		return
	}
	if e.Size > 0 {
		c.bytesRead.Add(uint64(e.Size))
	}
	var hits, stale, misses, created, waited uint64
	for _, r := range e.Results {
		switch r {
		case observe.Hit:
			hits++
		case observe.Stale:
			stale++
		case observe.Miss:
			misses++
		case observe.Created:
			created++
		case observe.Waited:
			waited++
		}
	}
	add(&c.hits, hits)
	add(&c.stale, stale)
	add(&c.misses, misses)
	add(&c.created, created)
	add(&c.waited, waited)
}

func add(c *atomic.Uint64, n uint64) {
	if n > 0 {
		c.Add(n)
	}
}

// OpStats count the calls of one operation type.
type OpStats struct {
	Calls uint64        `json:"calls"`   // operations made
	Time  time.Duration `json:"time_ns"` // their total duration
}

// RegionStats are the counts of one region since the Observer was made.
type RegionStats struct {
	// Region is the region's name ("" for an unnamed region).
	Region string `json:"region"`
	// Hits, Stale, Misses, Created and Waited count keys looked up by get,
	// get_multi, get_or_create and get_or_create_multi by their result: a
	// fresh value, an expired one served, none (get), a value this call's
	// creation made, one another caller's creation made.
	Hits    uint64 `json:"hits"`
	Stale   uint64 `json:"stale"`
	Misses  uint64 `json:"misses"`
	Created uint64 `json:"created"`
	Waited  uint64 `json:"waited"`
	// Creations counts the keys creators made, background regenerations
	// included; CreateTime is the creators' time.
	Creations  uint64        `json:"creations"`
	CreateTime time.Duration `json:"create_time_ns"`
	// LockWaits counts the waits for a distributed lock held elsewhere.
	LockWaits    uint64        `json:"lock_waits"`
	LockWaitTime time.Duration `json:"lock_wait_time_ns"`
	// Invalidations counts the successful calls of Region.Invalidate,
	// hard and soft.
	Invalidations uint64 `json:"invalidations"`
	// Errors counts operations that failed or, in fail-open mode,
	// absorbed a backend error.
	Errors uint64 `json:"errors"`
	// Evictions counts the entries a bounded backend dropped to stay
	// within its bounds (evict), Expirations those it dropped once they
	// outlived its own time to live (expire). Only backends that report
	// them (driver.Evicter) are counted, such as the memory backends.
	Evictions   uint64 `json:"evictions"`
	Expirations uint64 `json:"expirations"`
	// BytesRead and BytesWritten count payload bytes of byte-storing
	// backends (zero for backends keeping Go values).
	BytesRead    uint64 `json:"bytes_read"`
	BytesWritten uint64 `json:"bytes_written"`
	// Ops holds the calls and time per operation name ("get_or_create",
	// ...), for the operations seen.
	Ops map[string]OpStats `json:"ops"`
}

// HitRatio returns the share of looked-up keys served fresh from the cache,
// or 0 before any lookup.
func (s RegionStats) HitRatio() float64 {
	n := s.Hits + s.Stale + s.Misses + s.Created + s.Waited
	if n == 0 {
		return 0
	}
	return float64(s.Hits) / float64(n)
}

// Stats is a snapshot of every region's counts.
type Stats struct {
	// Regions are sorted by name.
	Regions []RegionStats `json:"regions"`
}

// Region returns the stats of the named region.
func (s Stats) Region(name string) (RegionStats, bool) {
	for _, r := range s.Regions {
		if r.Region == name {
			return r, true
		}
	}
	return RegionStats{Region: name}, false
}

// Stats returns a snapshot of the counts. Each counter is read atomically;
// counters are not read all at one instant.
func (o *Observer) Stats() Stats {
	var st Stats
	for key, value := range o.regions.Range {
		name, c := key.(string), value.(*counters)
		r := RegionStats{
			Region: name, Hits: c.hits.Load(), Stale: c.stale.Load(), Misses: c.misses.Load(),
			Created: c.created.Load(), Waited: c.waited.Load(),
			Creations: c.creations.Load(), CreateTime: time.Duration(c.createNanos.Load()),
			LockWaits: c.lockWaits.Load(), LockWaitTime: time.Duration(c.lockWaitNanos.Load()),
			Invalidations: c.invalidations.Load(), Errors: c.errors.Load(),
			Evictions: c.evictions.Load(), Expirations: c.expirations.Load(),
			BytesRead: c.bytesRead.Load(), BytesWritten: c.bytesWritten.Load(),
			Ops: map[string]OpStats{},
		}
		for op := observe.OpGet; int(op) < numOps; op++ {
			if n := c.calls[op].Load(); n > 0 {
				r.Ops[op.String()] = OpStats{Calls: n, Time: time.Duration(c.nanos[op].Load())}
			}
		}
		st.Regions = append(st.Regions, r)
	}
	if st.Regions == nil {
		st.Regions = []RegionStats{}
	}
	slices.SortFunc(st.Regions, func(a, b RegionStats) int {
		switch {
		case a.Region < b.Region:
			return -1
		case a.Region > b.Region:
			return 1
		}
		return 0
	})
	return st
}

// Var returns an expvar.Var whose value is the JSON of Stats, computed
// when read.
func (o *Observer) Var() expvar.Var { return statsVar{o} }

type statsVar struct{ o *Observer }

func (v statsVar) String() string {
	b, err := json.Marshal(v.o.Stats())
	if err != nil {
		return "null"
	}
	return string(b)
}

// Publish publishes the counts as the expvar named name (served by
// expvar's handler at /debug/vars). Like expvar.Publish, it panics if name
// is already published.
func (o *Observer) Publish(name string) { expvar.Publish(name, o.Var()) }

var _ observe.Observer = (*Observer)(nil)
