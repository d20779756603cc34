package debugpanel

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile/observe"
)

// fkey returns a fragment's key, as tmplcache writes them.
func fkey(name string) string { return "tmpl:page.html:" + name + ":0123456789abcdef0123456789abcdef" }

// pageOps are the operations of a page whose layout fragment (a) renders
// a sidebar (b, which reads a post, through the backend) and a collection
// of three cards (c, the second holding an avatar, e), then reads a tag
// version after the sidebar's call; an edit after it deletes the sidebar
// and writes a tag's version. Times are in milliseconds; the operations
// are recorded as regions report them, inner ones first.
func pageOps() []Operation {
	const ms = time.Millisecond
	at := func(start, d float64) (time.Duration, time.Duration) {
		return time.Duration(start * float64(ms)), time.Duration(d * float64(ms))
	}
	a, b, e := fkey("a"), fkey("b"), fkey("e")
	k1, k2, k3 := fkey("card1"), fkey("card2"), fkey("card3")
	op := func(layer Layer, name string, keys []string, res []observe.Result, start, d float64, parent string, depth int) Operation {
		s, du := at(start, d)
		return Operation{Layer: layer, Region: "pages", Op: name, Keys: keys, Results: res, Start: s, Duration: du, Size: -1, Parent: parent, Depth: depth}
	}
	created := []observe.Result{observe.Created}
	frag := func(o Operation, name string) Operation {
		o.Template, o.Fragment = "page.html", name
		return o
	}
	coll := func(o Operation) Operation {
		o.Collection = true
		return frag(o, "card")
	}
	return []Operation{
		frag(op(LayerRegion, "get_multi", []string{"tmpl:tag:page"}, []observe.Result{observe.Miss}, 2, 1, a, 0), "a"),
		frag(op(LayerRegion, "lock_wait", []string{b}, []observe.Result{observe.None}, 10.5, 0.4, b, 1), "b"),
		backendOf(op(LayerBackend, "get", []string{"post:7"}, []observe.Result{observe.Miss}, 13, 2, b, 2)),
		frag(op(LayerRegion, "get", []string{"post:7"}, []observe.Result{observe.Miss}, 12, 5, b, 2), "b"),
		frag(op(LayerRegion, "create", []string{b}, created, 11, 38, b, 1), "b"),
		frag(op(LayerRegion, "get_or_create", []string{b}, created, 10, 40, a, 1), "b"),
		frag(op(LayerRegion, "get_multi", []string{"tmpl:tag:post:1"}, []observe.Result{observe.Hit}, 55, 1, b, 1), "b"),
		frag(op(LayerRegion, "get_or_create", []string{e}, created, 65, 10, k2, 2), "e"),
		coll(op(LayerRegion, "create", []string{k2, k3}, []observe.Result{observe.Created, observe.Created}, 61, 28, k1, 1)),
		coll(op(LayerRegion, "get_or_create_multi", []string{k1, k2, k3}, []observe.Result{observe.Hit, observe.Created, observe.Created}, 60, 30, a, 1)),
		frag(op(LayerRegion, "create", []string{a}, created, 1, 98, a, 0), "a"),
		frag(op(LayerRegion, "get_or_create", []string{a}, created, 0, 100, "", 0), "a"),
		backendOf(op(LayerBackend, "delete_multi", []string{b}, []observe.Result{observe.None}, 101.2, 0.5, "", 0)),
		op(LayerRegion, "delete_multi", []string{b}, []observe.Result{observe.None}, 101, 1, "", 0),
		op(LayerRegion, "set_multi", []string{"tmpl:tag:post:2", "other"}, []observe.Result{observe.None, observe.None}, 103, 1, "", 0),
	}
}

func backendOf(o Operation) Operation {
	o.Region, o.Backend = "", "*memory.Backend"
	return o
}

// recordPage records pageOps into a new Recorder and returns it.
func recordPage() *Recorder {
	rec := NewRecorder(Limits{})
	for _, o := range pageOps() {
		rec.Record(o)
	}
	return rec
}

// shape writes the tree as "kind:seq-or-key[stripes](children)".
func shapeOf(rows []*tlRow) string {
	var parts []string
	for _, r := range rows {
		s := r.Kind + ":" + r.Op
		if r.Kind == "item" {
			s = "item:" + strings.TrimPrefix(strings.TrimSuffix(r.Key, ":0123456789abcdef0123456789abcdef"), "tmpl:page.html:")
		} else if r.Template != "" {
			s += "/" + r.Fragment
		}
		if len(r.Stripes) > 0 {
			var st []string
			for _, x := range r.Stripes {
				st = append(st, x.Class)
			}
			s += "[" + strings.Join(st, " ") + "]"
		}
		if len(r.Children) > 0 {
			s += "(" + shapeOf(r.Children) + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// TestTimelineTree: creations and lock waits are stripes of the call
// that caused them; a fragment's operations are its children, a backend
// call goes under the region operation around it, a collection's children
// under the item they were made for, and a read made after its
// fragment's call under the first row around it.
func TestTimelineTree(t *testing.T) {
	rec := recordPage()
	req := rec.Snapshot()
	req.Duration = 110 * time.Millisecond
	tl := buildTimeline(req)
	want := "fragment:get_or_create/a[seg-create](op:get_multi/a fragment:get_or_create/b[seg-wait seg-create](op:get/b(op:get)) op:get_multi/b " +
		"collection:get_or_create_multi/card[seg-create](item:card1 item:card2(fragment:get_or_create/e) item:card3)) " +
		"op:delete_multi(op:delete_multi) op:set_multi"
	if got := shapeOf(tl.Rows); got != want {
		t.Errorf("tree\n%s\nwant\n%s", got, want)
	}
	ms := time.Millisecond
	byName := map[string]*tlRow{}
	var walk func([]*tlRow)
	walk = func(rs []*tlRow) {
		for _, r := range rs {
			byName[r.Kind+":"+r.Op+"/"+r.Fragment+"/"+r.Key] = r
			walk(r.Children)
		}
	}
	walk(tl.Rows)
	for name, self := range map[string]time.Duration{
		"fragment:get_or_create/a/" + fkey("a"):                28 * ms, // 100 less the tag read, b, the late read and c
		"fragment:get_or_create/b/" + fkey("b"):                35 * ms, // 40 less the post's get
		"op:get/b/post:7":                                      3 * ms,  // 5 less its backend call
		"collection:get_or_create_multi/card/" + fkey("card1"): 20 * ms, // 30 less the avatar
		"item:/card/" + fkey("card2"):                          0,
	} {
		r := byName[name]
		if r == nil {
			t.Errorf("no row %s", name)
			continue
		}
		if r.Self != self {
			t.Errorf("%s: own time %v, want %v", name, r.Self, self)
		}
	}
	// An item's bar spans what was made for it; an item without it has
	// none.
	if it := byName["item:/card/"+fkey("card2")]; !it.Bar || it.Start != 65*ms || it.Duration != 10*ms {
		t.Errorf("item card2: bar %v from %v for %v", it.Bar, it.Start, it.Duration)
	}
	if it := byName["item:/card/"+fkey("card1")]; it.Bar || it.Class != "hit" {
		t.Errorf("item card1: bar %v, class %s", it.Bar, it.Class)
	}
	if tl.Axis != 110*ms || tl.Busy != 102*ms {
		t.Errorf("axis %v, busy %v; want 110ms and 102ms (a, the delete and the write, each moment once)", tl.Axis, tl.Busy)
	}
	// Every child lies within its parent, every operation is shown once.
	seen := map[int]int{}
	var check func(parent *tlRow, rs []*tlRow)
	check = func(parent *tlRow, rs []*tlRow) {
		for _, r := range rs {
			if r.Seq > 0 {
				seen[r.Seq]++
			}
			for f := range strings.FieldsSeq(r.Absorbed) {
				n, _ := strconv.Atoi(f)
				seen[n]++
			}
			if parent != nil && parent.Bar && r.Bar && (r.Start < parent.Start || r.Start+r.Duration > parent.Start+parent.Duration) {
				t.Errorf("row %s [%v, +%v] outside its parent %s [%v, +%v]", r.ID, r.Start, r.Duration, parent.ID, parent.Start, parent.Duration)
			}
			check(r, r.Children)
		}
	}
	check(nil, tl.Rows)
	for _, o := range req.Operations {
		if seen[o.Seq] != 1 {
			t.Errorf("operation %d (%s) shown %d times", o.Seq, o.Op, seen[o.Seq])
		}
	}
	// Geometry: percentages of the axis, stripes of their bar.
	for _, rule := range []string{
		"#t1b{left:0.0000%;width:90.9091%}",
		"#t1s0{left:1.0000%;width:98.0000%}",
	} {
		if !strings.Contains(string(tl.Style), rule) {
			t.Errorf("style lacks %s: %s", rule, tl.Style)
		}
	}
	if len(tl.Slowest) != 3 || tl.Slowest[0].Fragment != "b" || !tl.Slowest[0].Slow {
		t.Errorf("slowest %v", tl.Slowest)
	}
	// What the edit retired.
	if r := tl.Rows[1]; r.Op != "delete_multi" || !slices.Equal(r.Retired, []retiredName{{"fragment", "page.html:b"}}) {
		t.Errorf("delete row %+v", r)
	}
	if r := tl.Rows[2]; r.Op != "set_multi" || !slices.Equal(r.Retired, []retiredName{{"tag", "post:2"}}) {
		t.Errorf("tag write row %+v", r)
	}
}

// TestNestedTimesCountOnce: the statistics of the same page count each
// moment once: the creators' time is the outermost creation's, the
// get_or_create row leaves out the creations, and the region rows' own
// times add up to the outermost operations' time.
func TestNestedTimesCountOnce(t *testing.T) {
	st := recordPage().Stats()
	ms := time.Millisecond
	if st.CreateTime != 98*ms {
		t.Errorf("creators %v, want 98ms: the layout's creation holds the others", st.CreateTime)
	}
	// a's 100 less its creation, the delete, the write.
	if st.CacheTime != 4*ms {
		t.Errorf("cache %v, want 4ms", st.CacheTime)
	}
	var sum time.Duration
	for _, s := range st.ByOp {
		if s.Layer == LayerRegion {
			sum += s.Self
		}
		switch {
		case s.Layer == LayerRegion && s.Op == "get_or_create" && (s.Self != 2*ms || s.Time != 150*ms):
			t.Errorf("get_or_create: own %v of %v, want 2ms of 150ms", s.Self, s.Time)
		case s.Layer == LayerRegion && s.Op == "get" && s.Self != 0:
			t.Errorf("the post's get, made while b rendered, has own time %v", s.Self)
		case s.Layer == LayerBackend && s.Self != s.Time:
			t.Errorf("backend %s: own %v, total %v", s.Op, s.Self, s.Time)
		}
	}
	if sum != 102*ms {
		t.Errorf("the region rows' own times add up to %v, want 102ms", sum)
	}
	h := ServerTiming(st)
	for _, want := range []string{"dogpile;dur=4.000;", "dogpile-create;dur=98.000;", "dogpile-get_or_create;dur=2.000;", `dogpile-backend-get;desc="1 call, 1 miss"`} {
		if !strings.Contains(h, want) {
			t.Errorf("Server-Timing lacks %s: %s", want, h)
		}
	}
}
