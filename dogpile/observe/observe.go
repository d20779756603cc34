// Package observe defines how dogpile regions report their work to
// observers: request-scoped recorders such as a debug panel, metrics,
// tracing. It plays for regions the part net/http/httptrace plays for
// HTTP clients.
//
// A region given an Observer (dogpile.WithObserver) asks Enabled before it
// reads a clock or builds an event, as log/slog asks Handler.Enabled, so
// an observer that wants nothing of a call costs one method call; a
// region without an observer spends nothing on observation.
package observe

import (
	"context"
	"time"
)

// Op names a region operation in an Event.
type Op uint8

// The operations an Observer hears about. OpLockWait and OpCreate are
// reported in addition to the OpGetOrCreate or OpGetOrCreateMulti that
// caused them; OpInvalidate is Region.Invalidate.
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
	OpInvalidate
	// OpEvict is an entry a bounded backend dropped to stay within its
	// bounds; OpExpire one it dropped once it outlived the backend's own
	// time to live. Their Keys are as the backend holds them (mangled),
	// their context has no caller's values, and a region reports them
	// only for backends that tell (driver.Evicter).
	OpEvict
	OpExpire
)

var opNames = [...]string{"", "get", "get_multi", "get_or_create", "get_or_create_multi",
	"set", "set_multi", "delete", "delete_multi", "lock_wait", "create", "invalidate", "evict", "expire"}

// String returns the dogpile.cache-style name: "get_or_create", ...
func (o Op) String() string {
	if int(o) < len(opNames) && o != 0 {
		return opNames[o]
	}
	return "unknown"
}

// Result is what an operation did for one key.
type Result uint8

// The per-key results of an Event.
const (
	// None is the result of writes, deletes and invalidations.
	None Result = iota
	// Hit is a fresh value found in the backend.
	Hit
	// Stale is an expired value served while another caller (or the
	// async runner) regenerates it.
	Stale
	// Miss is no usable value: absent, expired, invalidated or
	// undecodable. A get_or_create reports the value it then returns as
	// Created or Waited instead.
	Miss
	// Created is a value this call's creation produced.
	Created
	// Waited is a value another caller created while this one waited.
	Waited
	// Error is a failed read, write or creation.
	Error
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
	Region  string   // the region's name
	Backend string   // the backend's registered name, or its Go type
	Op      Op       // what was done
	Keys    []string // the keys as the caller gave them; none for OpInvalidate
	Results []Result // one per key
	// Start is when the operation began, with the monotonic clock
	// reading of time.Now; Duration is how long it took.
	Start    time.Time
	Duration time.Duration
	// Size is the number of payload bytes read or written, or -1 when it
	// is unknown (backends that keep Go values).
	Size int
	Err  error // the error returned or, failing open, absorbed
}

// Observer is told about the operations of a region. Observe runs with
// the caller's context, so request-scoped recorders can find themselves in
// it: on the caller's goroutine, except for OpCreate and OpLockWait, which
// run on the creation's goroutine with the context of the caller that
// started the creation (for a background creation, after that caller has
// returned). It must be fast and safe for concurrent use.
type Observer interface {
	// Enabled reports whether Observe wants the events of calls made with
	// ctx. The region asks before it reads a clock or builds an event.
	Enabled(ctx context.Context) bool
	// Observe receives one event.
	Observe(ctx context.Context, e Event)
}

// Func adapts a function to an Observer enabled for every call.
type Func func(ctx context.Context, e Event)

// Enabled reports true.
func (f Func) Enabled(context.Context) bool { return true }

// Observe calls f.
func (f Func) Observe(ctx context.Context, e Event) { f(ctx, e) }

// Multi returns an Observer that passes each event to every observer
// enabled for it. Nil observers are skipped; with none left, Multi
// returns nil.
func Multi(observers ...Observer) Observer {
	var m multi
	for _, o := range observers {
		if o != nil {
			m = append(m, o)
		}
	}
	switch len(m) {
	case 0:
		return nil
	case 1:
		return m[0]
	}
	return m
}

type multi []Observer

func (m multi) Enabled(ctx context.Context) bool {
	for _, o := range m {
		if o.Enabled(ctx) {
			return true
		}
	}
	return false
}

func (m multi) Observe(ctx context.Context, e Event) {
	for _, o := range m {
		if o.Enabled(ctx) {
			o.Observe(ctx, e)
		}
	}
}
