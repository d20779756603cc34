package dogpile

import (
	"context"
	"time"
)

// Op names a region operation in an Event.
type Op uint8

// The operations an Observer hears about. OpLockWait and OpCreate are
// reported in addition to the OpGetOrCreate or OpGetOrCreateMulti that
// caused them.
const (
	OpGet Op = iota + 1
	OpGetMulti
	OpGetOrCreate
	OpGetOrCreateMulti
	OpSet
	OpSetMulti
	OpDelete
	OpDeleteMulti
	OpLockWait
	OpCreate
)

var opNames = [...]string{"", "get", "get_multi", "get_or_create", "get_or_create_multi",
	"set", "set_multi", "delete", "delete_multi", "lock_wait", "create"}

// String returns the dogpile.cache-style name: "get_or_create", ...
func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "unknown"
}

// Result is what an operation did for one key.
type Result uint8

// The per-key results of an Event.
const (
	// ResultNone is the result of writes and deletes.
	ResultNone Result = iota
	// ResultHit is a fresh value found in the backend.
	ResultHit
	// ResultStale is an expired value served while another caller (or the
	// async runner) regenerates it.
	ResultStale
	// ResultMiss is no usable value: absent, expired, invalidated or
	// undecodable.
	ResultMiss
	// ResultCreated is a value this call's creation produced.
	ResultCreated
	// ResultWaited is a value another caller created while this one waited.
	ResultWaited
	// ResultError is a failed read or creation.
	ResultError
)

var resultNames = [...]string{"none", "hit", "stale", "miss", "created", "waited", "error"}

// String returns "hit", "stale", "miss", ...
func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return "unknown"
}

// Event describes one operation of a region. Its Keys and Results slices
// may be shared with other events: observers must not modify them, and
// must copy what they keep after Observe returns.
type Event struct {
	Region   string        // the region's name
	Backend  string        // the backend's registered name, or its Go type
	Op       Op            // what was done
	Keys     []string      // the keys as the caller gave them
	Results  []Result      // one per key
	Duration time.Duration // monotonic time the operation took
	// Size is the number of payload bytes read or written, or -1 when the
	// backend keeps Go values.
	Size int
	Err  error // the error returned or, in fail-open mode, absorbed
}

// Observer is told about the operations of a region. Observe runs on the
// caller's goroutine with the caller's context, so request-scoped recorders
// can find themselves in it; it must be fast and safe for concurrent use.
type Observer interface {
	// Enabled reports whether Observe wants the events of calls made with
	// ctx. The region asks before it reads a clock or builds an event, so
	// an observer that is not enabled costs one call.
	Enabled(ctx context.Context) bool
	// Observe receives one event.
	Observe(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to an Observer enabled for every call.
type ObserverFunc func(ctx context.Context, e Event)

// Enabled reports true.
func (f ObserverFunc) Enabled(context.Context) bool { return true }

// Observe calls f.
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// MultiObserver returns an Observer that passes each event to every
// observer enabled for it. Nil observers are skipped.
func MultiObserver(observers ...Observer) Observer {
	var m multiObserver
	for _, o := range observers {
		if o != nil {
			m = append(m, o)
		}
	}
	return m
}

type multiObserver []Observer

func (m multiObserver) Enabled(ctx context.Context) bool {
	for _, o := range m {
		if o.Enabled(ctx) {
			return true
		}
	}
	return false
}

func (m multiObserver) Observe(ctx context.Context, e Event) {
	for _, o := range m {
		if o.Enabled(ctx) {
			o.Observe(ctx, e)
		}
	}
}
