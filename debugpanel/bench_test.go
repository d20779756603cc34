package debugpanel_test

import (
	"context"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/debugpanel"
	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/metrics"
)

type ctxKey int

// requestLike returns a context as deep as a request's usually is: a few
// values from the server and middlewares, and a cancel.
func requestLike(b *testing.B) context.Context {
	ctx := context.Background()
	for i := range 4 {
		ctx = context.WithValue(ctx, ctxKey(i), i)
	}
	ctx, cancel := context.WithCancel(ctx)
	b.Cleanup(cancel)
	return ctx
}

// BenchmarkRegionHit is a fresh typed GetOrCreate hit on a memory region:
//
//	none                        no observer
//	panel,never-recorded        the panel's Observer in a process where no
//	                            Recorder ever entered a context (production)
//	panel,no-recorder           the Observer, recorders in use elsewhere (a
//	                            debugging process), none in this context
//	panel,recorder              recording (the debugging case)
//	metrics+panel,no-recorder   both observers, through observe.Multi
//
// ",request-ctx" variants use a context as deep as a request's. The
// first three must be within noise of each other.
func BenchmarkRegionHit(b *testing.B) {
	creator := func(context.Context) (int, error) { return 42, nil }
	region := func(b *testing.B, opts ...dogpile.Option) *dogpile.Region {
		r := dogpile.NewRegion(append(opts, dogpile.WithName("bench"))...)
		if err := r.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
			b.Fatal(err)
		}
		if _, err := dogpile.GetOrCreate(context.Background(), r, "key", creator); err != nil {
			b.Fatal(err)
		}
		return r
	}
	hit := func(b *testing.B, r *dogpile.Region, ctx context.Context) {
		b.ReportAllocs()
		for b.Loop() {
			if v, err := dogpile.GetOrCreate(ctx, r, "key", creator); err != nil || v != 42 {
				b.Fatal(v, err)
			}
		}
	}
	panelObs := dogpile.WithObserver(debugpanel.Observer{})
	defer debugpanel.SetRecording(true) // as NewContext left it

	b.Run("none", func(b *testing.B) { hit(b, region(b), context.Background()) })
	b.Run("none,request-ctx", func(b *testing.B) { hit(b, region(b), requestLike(b)) })
	b.Run("panel,never-recorded", func(b *testing.B) {
		debugpanel.SetRecording(false)
		hit(b, region(b, panelObs), context.Background())
	})
	b.Run("panel,never-recorded,request-ctx", func(b *testing.B) {
		debugpanel.SetRecording(false)
		hit(b, region(b, panelObs), requestLike(b))
	})
	b.Run("panel,no-recorder", func(b *testing.B) {
		debugpanel.SetRecording(true)
		hit(b, region(b, panelObs), context.Background())
	})
	b.Run("panel,no-recorder,request-ctx", func(b *testing.B) {
		debugpanel.SetRecording(true)
		hit(b, region(b, panelObs), requestLike(b))
	})
	b.Run("panel,recorder,request-ctx", func(b *testing.B) {
		r := region(b, panelObs)
		base := requestLike(b)
		ctx := debugpanel.NewContext(base, debugpanel.NewRecorder(debugpanel.Limits{}))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			// A new request every 1000 operations, the default limit, so
			// every operation is kept as in a real request.
			if i++; i%debugpanel.DefaultMaxOps == 0 {
				ctx = debugpanel.NewContext(base, debugpanel.NewRecorder(debugpanel.Limits{}))
			}
			if v, err := dogpile.GetOrCreate(ctx, r, "key", creator); err != nil || v != 42 {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("metrics+panel,no-recorder,request-ctx", func(b *testing.B) {
		debugpanel.SetRecording(true)
		hit(b, region(b, dogpile.WithObserver(observe.Multi(metrics.New(), debugpanel.Observer{}))), requestLike(b))
	})
}
