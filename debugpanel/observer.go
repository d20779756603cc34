package debugpanel

import (
	"context"

	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/tmplcache"
)

// Observer records region operations into the Recorder of the call's
// context. Install it on regions with dogpile.WithObserver (with others,
// through observe.Multi):
//
//	region := dogpile.NewRegion(dogpile.WithName("pages"), dogpile.WithObserver(debugpanel.Observer{}))
//
// It is enabled only for calls whose context carries a Recorder, so on a
// call without one it costs one context lookup (one atomic load in a
// process where no Recorder was ever put in a context) and the region
// keeps its allocation-free hit path.
type Observer struct{}

// Enabled reports whether ctx carries a Recorder.
func (Observer) Enabled(ctx context.Context) bool {
	return recording.Load() && ctx.Value(recorderKey{}) != nil
}

// Observe records e into the Recorder of ctx, with the template fragment
// that made the call, if any.
func (Observer) Observe(ctx context.Context, e observe.Event) {
	rec := FromContext(ctx)
	if rec == nil {
		return
	}
	start := rec.Elapsed() - e.Duration
	if !e.Start.IsZero() {
		start = e.Start.Sub(rec.start)
	}
	op := Operation{
		Layer:    LayerRegion,
		Region:   e.Region,
		Backend:  e.Backend,
		Op:       e.Op.String(),
		Keys:     e.Keys,
		Results:  e.Results,
		KeyCount: len(e.Keys),
		Start:    max(start, 0),
		Duration: e.Duration,
		Size:     e.Size,
	}
	if e.Err != nil {
		op.Err = e.Err.Error()
	}
	if f, ok := tmplcache.FragmentFromContext(ctx); ok {
		op.Template, op.Fragment = f.Template, f.Name
		if f.Name == "" && f.Key != "" {
			op.Fragment = f.Key
		}
	}
	rec.Record(op)
}

var _ observe.Observer = Observer{}
