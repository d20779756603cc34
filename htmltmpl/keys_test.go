package htmltmpl_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/htmltmpl"
	"github.com/dogpilego/dogpile/tmplcache"
)

// label is a vary value whose text comes from a String method reading
// state that changes.
type label struct{ id int }

var labels sync.Map // int -> string

func (l label) String() string { v, _ := labels.Load(l.id); s, _ := v.(string); return s }

// TestKeysFollowValues checks that the keys htmltmpl keeps for vary values
// and items are those tmplcache gives, whatever changes under them.
func TestKeysFollowValues(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour))
	var renders counters
	funcs := renders.funcs()
	funcs["list"] = func(v ...any) []any { return v }
	tm := parse(t, "page", `{{ cached "v" . .Value }}|{{ cachedEach "e" . (list .Value) }}
{{- define "v" }}{{ count "v" }}{{ end }}{{ define "e" }}{{ count "e" }}{{ end }}
{{- define "each" }}{{ cachedEach "e" . .Value }}{{ end }}`, funcs)
	bind(t, tm, c)
	show := func(v any) {
		t.Helper()
		run(t, tm, "page", htmltmpl.WithContext(ctx, v))
	}
	type point struct{ X, Y int }
	type item struct {
		ID   int
		Name string
		At   point
		Tags [2]string
	}
	// The same value twice is one entry; its key is KeyFor's.
	for _, v := range []any{item{1, "a", point{1, 2}, [2]string{"x", "y"}}, 7, "7", true, point{3, 4}} {
		show(v)
		show(v)
		for _, name := range []string{"v", "e"} {
			key, err := c.KeyFor("page", name, v)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok, err := storedHTML(ctx, mustRegion(t, c), key); err != nil || !ok {
				t.Errorf("%#v: %s is not stored under KeyFor's key: %v, %v", v, name, ok, err)
			}
		}
	}
	if got := renders.take(); got["v"] != 4 || got["e"] != 4 { // 7 and "7" share an entry
		t.Errorf("renders %v, want 4 of each", got)
	}
	// Values that may change under the same pointer or method get the key
	// of what they are now.
	p := &item{ID: 2, Name: "before"}
	show(p)
	p.Name = "after"
	show(p)
	labels.Store(1, "one")
	show(label{1})
	labels.Store(1, "uno")
	show(label{1})
	// 0.0 and -0.0 are == but have keys of their own.
	negZero := 0.0
	negZero = -negZero
	show(0.0)
	show(negZero)
	if got := renders.take(); got["v"] != 6 || got["e"] != 6 {
		t.Errorf("renders %v, want 6 of each: every change is a new entry", got)
	}
	// Items of a collection likewise.
	items := []*item{{ID: 3, Name: "before"}, {ID: 4, Name: "x"}}
	run(t, tm, "each", htmltmpl.WithContext(ctx, items))
	items[0].Name = "after"
	run(t, tm, "each", htmltmpl.WithContext(ctx, items))
	if got := renders.take(); got["e"] != 3 {
		t.Errorf("renders %v, want 3: the edited item again", got)
	}
}

// TestConcurrentCollections renders collections that share items from
// many goroutines: one render per distinct item, every output in order.
func TestConcurrentCollections(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour))
	var renders counters
	tm := parse(t, "page", `{{ cachedEach "card" . .Value }}{{ define "card" }}{{ count (print .Value) }}[{{ .Value }}]{{ end }}`, renders.funcs())
	bind(t, tm, c)
	lists := [][]int{{1, 2, 3}, {3, 2, 1}, {2, 4, 2}, {5, 1, 4}}
	want := []string{"[1][2][3]", "[3][2][1]", "[2][4][2]", "[5][1][4]"}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan string, 64)
	for g := range 16 {
		wg.Go(func() {
			<-start
			for r := range 20 {
				i := (g + r) % len(lists)
				if got := run(t, tm, "page", htmltmpl.WithContext(ctx, lists[i])); got != want[i] {
					errs <- got
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for got := range errs {
		t.Errorf("output %s", got)
	}
	got := renders.take()
	for item := range 5 {
		if n := got[string(rune('1'+item))]; n != 1 {
			t.Errorf("item %d rendered %d times, want once", item+1, n)
		}
	}
}
