package observe_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dogpilego/dogpile/dogpile/observe"
)

func TestNames(t *testing.T) {
	for op, want := range map[observe.Op]string{
		0: "unknown", observe.OpGet: "get", observe.OpGetOrCreateMulti: "get_or_create_multi",
		observe.OpLockWait: "lock_wait", observe.OpCreate: "create", observe.OpInvalidate: "invalidate", 200: "unknown",
	} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d).String() = %q, want %q", op, got, want)
		}
	}
	for r, want := range map[observe.Result]string{
		observe.None: "none", observe.Hit: "hit", observe.Stale: "stale", observe.Miss: "miss",
		observe.Created: "created", observe.Waited: "waited", observe.Error: "error", 99: "unknown",
	} {
		if got := r.String(); got != want {
			t.Errorf("Result(%d).String() = %q, want %q", r, got, want)
		}
	}
}

type key struct{}

// only is an observer enabled for contexts that carry name.
type only struct {
	name string
	got  *[]string
}

func (o only) Enabled(ctx context.Context) bool { return ctx.Value(key{}) == o.name }
func (o only) Observe(_ context.Context, e observe.Event) {
	*o.got = append(*o.got, o.name+":"+e.Op.String())
}

func TestMulti(t *testing.T) {
	if observe.Multi() != nil || observe.Multi(nil, nil) != nil {
		t.Error("Multi of no observers is not nil")
	}
	var got []string
	a, b := only{"a", &got}, only{"b", &got}
	if m := observe.Multi(nil, a); m != observe.Observer(a) {
		t.Error("Multi of one observer is not that observer")
	}
	m := observe.Multi(a, nil, b)
	ctxA := context.WithValue(context.Background(), key{}, "a")
	if !m.Enabled(ctxA) || m.Enabled(context.Background()) {
		t.Error("Multi.Enabled is not the or of its observers'")
	}
	m.Observe(ctxA, observe.Event{Op: observe.OpGet})
	if fmt.Sprint(got) != "[a:get]" {
		t.Errorf("Observe reached %v, want only the enabled observer", got)
	}
}

func TestFunc(t *testing.T) {
	n := 0
	f := observe.Func(func(context.Context, observe.Event) { n++ })
	if !f.Enabled(context.Background()) {
		t.Error("Func is not enabled")
	}
	f.Observe(context.Background(), observe.Event{})
	if n != 1 {
		t.Errorf("Func called %d times, want 1", n)
	}
}

// ExampleFunc counts hits and misses of every region it observes.
func ExampleFunc() {
	var hits, misses int
	count := observe.Func(func(_ context.Context, e observe.Event) {
		for _, r := range e.Results {
			switch r {
			case observe.Hit:
				hits++
			case observe.Miss, observe.Created:
				misses++
			}
		}
	})
	count.Observe(context.Background(), observe.Event{Op: observe.OpGetOrCreate, Keys: []string{"k"}, Results: []observe.Result{observe.Created}})
	count.Observe(context.Background(), observe.Event{Op: observe.OpGetOrCreate, Keys: []string{"k"}, Results: []observe.Result{observe.Hit}})
	fmt.Println(hits, misses)
	// Output: 1 1
}
