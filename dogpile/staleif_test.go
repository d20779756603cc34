package dogpile_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// TestStaleIf: a value the caller's StaleIf retires is regenerated under
// the dogpile lock: one creation, the other callers served the retired
// value at once; Get reports it missing; the re-read after a backend lock
// does not take it as fresh; multi calls regenerate it too.
func TestStaleIf(t *testing.T) {
	ctx := context.Background()
	for name, newBackend := range map[string]func() driver.Backend{
		"memory":        func() driver.Backend { return must(memory.New(memory.Options{})) },
		"memory_pickle": func() driver.Backend { return must(memory.NewBytes(memory.Options{})) },
		"locked":        func() driver.Backend { return newNearFake() },
	} {
		t.Run(name, func(t *testing.T) {
			r := dogpile.NewRegion()
			if err := r.ConfigureBackend(newBackend(), dogpile.Config{ExpirationTime: time.Hour}); err != nil {
				t.Fatal(err)
			}
			var retired atomic.Value // the value StaleIf retires
			retired.Store("")
			staleIf := dogpile.StaleIf(func(v any, _ time.Time) bool { return v == retired.Load() })
			if err := r.Set(ctx, "k", "v1"); err != nil {
				t.Fatal(err)
			}
			keep := func(context.Context) (string, error) { t.Error("creator called for a fresh value"); return "", nil }
			if v, err := dogpile.GetOrCreate(ctx, r, "k", keep, staleIf); err != nil || v != "v1" {
				t.Fatalf("GetOrCreate = %q, %v", v, err)
			}
			retired.Store("v1")
			if _, ok, err := dogpile.Get[string](ctx, r, "k", staleIf); ok || err != nil {
				t.Errorf("Get of a retired value = found, %v; want a miss", err)
			}
			if m, err := dogpile.GetMulti[string](ctx, r, []string{"k"}, staleIf); len(m) != 0 || err != nil {
				t.Errorf("GetMulti of a retired value = %v, %v; want none", m, err)
			}
			// 20 callers: one regenerates, the others get v1 at once.
			entered, release := make(chan struct{}), make(chan struct{})
			var calls atomic.Int32
			create := func(context.Context) (string, error) {
				if calls.Add(1) == 1 {
					close(entered)
				}
				<-release
				return "v2", nil
			}
			leader := make(chan string, 1)
			go func() {
				v, _ := dogpile.GetOrCreate(ctx, r, "k", create, staleIf)
				leader <- v
			}()
			<-entered
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					if v, err := dogpile.GetOrCreate(ctx, r, "k", create, staleIf); err != nil || v != "v1" {
						t.Errorf("a caller during the regeneration got %q, %v; want the retired v1 at once", v, err)
					}
				})
			}
			wg.Wait()
			close(release)
			if v := <-leader; v != "v2" {
				t.Errorf("the regenerating caller got %q, want v2", v)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("%d creations, want 1", n)
			}
			if v, err := dogpile.GetOrCreate(ctx, r, "k", keep, staleIf); err != nil || v != "v2" {
				t.Errorf("after the regeneration: %q, %v", v, err)
			}
			// Multi: a retired value is regenerated, a fresh one kept.
			if err := r.SetMulti(ctx, map[string]any{"a": "old", "b": "fine"}); err != nil {
				t.Fatal(err)
			}
			retired.Store("old")
			got, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(_ context.Context, keys []string) (map[string]string, error) {
				if len(keys) != 1 || keys[0] != "a" {
					t.Errorf("multi creator asked for %q, want [a]", keys)
				}
				return map[string]string{"a": "new"}, nil
			}, staleIf)
			if err != nil || got["a"] != "new" || got["b"] != "fine" {
				t.Errorf("GetOrCreateMulti = %v, %v", got, err)
			}
		})
	}
}
