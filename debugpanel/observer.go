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
// that made the call, if any, and its place in the tree of fragments
// (Operation.Parent, Depth and Collection).
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
		op.Template, op.Fragment = fragmentName(f)
	}
	place(ctx, &op, e.Op == observe.OpGetOrCreate || e.Op == observe.OpGetOrCreateMulti)
	rec.Record(op)
}

// fragmentName returns the template and name the panel shows for f: its
// explicit key when it has no name.
func fragmentName(f tmplcache.Fragment) (template, name string) {
	if f.Name == "" && f.Key != "" {
		return f.Template, f.Key
	}
	return f.Template, f.Name
}

// place sets op's Parent, Depth and Collection from the tree of fragments
// ctx is in (tmplcache.Trace), and names the collection whose region call
// op belongs to. lookup reports a get_or_create or get_or_create_multi of
// the region layer: in a fragment's region call, that is the call itself,
// whose parent is the fragment around it.
func place(ctx context.Context, op *Operation, lookup bool) {
	levels := tmplcache.Trace(ctx)
	if len(levels) == 0 {
		return
	}
	last := levels[len(levels)-1]
	for _, l := range levels {
		if l.Rendering {
			op.Depth++
		}
	}
	switch {
	case last.Rendering || !lookup:
		op.Parent = last.Key
	case len(levels) > 1:
		op.Parent = levels[len(levels)-2].Key
	}
	if !last.Rendering && last.Items > 0 {
		op.Collection = true
		if op.Template == "" && op.Fragment == "" {
			op.Template, op.Fragment = fragmentName(last.Fragment)
		}
	}
}

var _ observe.Observer = Observer{}
