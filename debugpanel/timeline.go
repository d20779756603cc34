package debugpanel

import (
	"cmp"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/tmplcache"
)

// timeline is the detail page's waterfall: the request's operations as a
// tree of rows on the request's own time axis. A fragment's get_or_create
// is a row whose bar holds its creation and lock waits as stripes; the
// operations made for it (the fragments rendered inside it, the cache
// calls of the code its template calls, its backend calls) are its
// children; a collection's get_or_create_multi is a row whose children are
// its items, each with the operations made while it rendered.
type timeline struct {
	Rows []*tlRow
	// Axis is the length of the time axis: the request's duration, or the
	// end of its last operation when that is later.
	Axis time.Duration
	// Ticks label the axis at 0, ¼, ½, ¾ and its end.
	Ticks []string
	// Busy is the time during which some outermost row ran, each moment
	// counted once.
	Busy time.Duration
	// Slowest are the rows with the most time of their own, at most three.
	Slowest []*tlRow
	// Style positions the bars: rules made of row ids and numbers only.
	Style template.CSS
	// ItemsLeft counts the items of collections not shown (maxItemRows).
	ItemsLeft int
}

// tlRow is one row of the timeline.
type tlRow struct {
	// ID is the row's element id ("t3"); its bar is ID+"b".
	ID string
	// Seq is the operation's (0 for an item).
	Seq int
	// Kind is "fragment" (a fragment's own region call), "collection",
	// "item" (a collection's item) or "op".
	Kind               string
	Layer              Layer
	Op, Region         string
	Template, Fragment string
	// Key is the first kept key (an item's own); KeyLen its full length
	// when it was cut; More the keys not shown.
	Key    string
	KeyLen int
	More   int
	// Items is the number of items of a collection; Index an item's
	// place in it, from 1.
	Items, Index int
	// Retired names what a delete, an invalidation or a write of tag
	// versions retired.
	Retired []retiredName
	// Class is the overall result ("mixed" when keys differ); Counts the
	// keys per result of a multi-key operation.
	Class  string
	Counts []tlCount
	Err    string
	// Start and Duration place the bar; Self is Duration less the time
	// of the children, each moment counted once. An item's bar spans the
	// operations made while it rendered, if any (Bar).
	Start, Duration, Self time.Duration
	Bar                   bool
	// Slow marks a row with at least a tenth of the axis of its own (and
	// slowFloor).
	Slow bool
	// Stripes are the creation and lock waits of a fragment's call (their
	// Seq in Absorbed); Parts the results of a multi-key operation, as
	// shares of its bar.
	Stripes  []tlSeg
	Parts    []tlSeg
	Absorbed string
	Depth    int
	Open     bool
	Children []*tlRow

	op      *Operation
	striped []*Operation // the operations of Stripes
}

type tlCount struct {
	Result string
	N      int
}

type tlSeg struct {
	ID, Class, Title string
}

type retiredName struct {
	Kind, Name string // Kind: "fragment", "tag" or "region"
}

// A row is slow when it has a tenth of the axis of its own, and at least
// slowFloor: in a request of a fraction of a millisecond, nothing is.
const slowFloor = time.Millisecond

// maxItemRows bounds the rows of collection items a page shows.
const maxItemRows = 2000

// resultOrder is the order results are counted and stacked in.
var resultOrder = []observe.Result{observe.Hit, observe.Stale, observe.Miss, observe.Created, observe.Waited, observe.Error, observe.None}

func isLookup(o *Operation) bool {
	return o.Layer == LayerRegion && (o.Op == observe.OpGetOrCreate.String() || o.Op == observe.OpGetOrCreateMulti.String())
}

// fragmentCall reports whether o is a fragment's own region call (a
// fragment's get_or_create, a collection's get_or_create_multi) rather
// than a lookup made while a fragment renders, which is named after that
// fragment too: its key is a fragment's (tmplcache.KeyName).
func fragmentCall(o *Operation) bool {
	if !isLookup(o) || (o.Template == "" && o.Fragment == "") || len(o.Keys) == 0 {
		return false
	}
	_, tag, ok := tmplcache.KeyName(o.Keys[0])
	return ok && !tag
}

// contains reports whether c ran within p.
func contains(p, c *Operation) bool {
	return p.Start <= c.Start && c.Start+c.Duration <= p.Start+p.Duration
}

// inner reports whether a is nested more deeply than b, both containing
// the same operation: it starts later, or as long ago but ends sooner.
func inner(ops []Operation, a, b int) bool {
	if b < 0 {
		return true
	}
	if ops[a].Start != ops[b].Start {
		return ops[a].Start > ops[b].Start
	}
	return ops[a].Duration < ops[b].Duration
}

// buildTimeline arranges the operations of req (in chronological order,
// as Recorder.Operations returns them) as a tree.
func buildTimeline(req Request) *timeline {
	ops := req.Operations
	tl := &timeline{Axis: req.Duration}
	for i := range ops {
		tl.Axis = max(tl.Axis, ops[i].Start+ops[i].Duration)
	}
	if tl.Axis <= 0 {
		tl.Axis = time.Microsecond
	}
	digits := 1 // enough to tell the ticks apart
	switch {
	case tl.Axis < time.Millisecond:
		digits = 3
	case tl.Axis < 10*time.Millisecond:
		digits = 2
	}
	for i := 0; i <= 4; i++ {
		tl.Ticks = append(tl.Ticks, strconv.FormatFloat(float64(tl.Axis)*float64(i)/4/float64(time.Millisecond), 'f', digits, 64))
	}

	// Lookups by key, for creations and for the operations of fragments.
	byKey := map[string][]int{}
	for i := range ops {
		if isLookup(&ops[i]) {
			for _, k := range ops[i].Keys {
				byKey[k] = append(byKey[k], i)
			}
		}
	}
	// A creation or lock wait is a stripe of the call that caused it: the
	// innermost get_or_create of its key that contains it.
	host := make([]int, len(ops))
	for i := range ops {
		host[i] = -1
		o := &ops[i]
		if o.Layer != LayerRegion || !nested(o.Op) || len(o.Keys) == 0 {
			continue
		}
		for _, j := range byKey[o.Keys[0]] {
			if j != i && ops[j].Region == o.Region && contains(&ops[j], o) && inner(ops, j, host[i]) {
				host[i] = j
			}
		}
	}
	// The parent of every other operation, among those before it: the
	// innermost call of the fragment it was made for that contains it or,
	// for a backend call, the innermost region operation of the same
	// fragment that does. One that ran outside its fragment's call (a
	// read after it) goes up to the first enclosing row that contains it.
	parent := make([]int, len(ops))
	for i := range ops {
		parent[i] = -1
		o := &ops[i]
		if host[i] >= 0 {
			continue
		}
		p, latest := -1, -1
		if o.Parent != "" {
			for _, j := range byKey[o.Parent] {
				if j >= i || host[j] >= 0 {
					continue
				}
				if contains(&ops[j], o) && inner(ops, j, p) {
					p = j
				}
				latest = j
			}
		}
		if o.Layer == LayerBackend {
			for j := range i {
				r := &ops[j]
				if r.Layer == LayerRegion && host[j] < 0 && r.Parent == o.Parent && contains(r, o) && inner(ops, j, p) {
					p = j
				}
			}
		}
		if p < 0 && latest >= 0 {
			for p = parent[latest]; p >= 0 && !contains(&ops[p], o); p = parent[p] {
			}
		}
		parent[i] = p
	}

	rows := make([]*tlRow, len(ops))
	for i := range ops {
		if host[i] < 0 {
			rows[i] = newOpRow(&ops[i])
		}
	}
	// Stripes: where the creation and lock waits fall in the host's bar.
	for i := range ops {
		if h := host[i]; h >= 0 {
			r := rows[h]
			cls, what := "seg-create", "creator"
			if ops[i].Op == observe.OpLockWait.String() {
				cls, what = "seg-wait", "lock wait"
			}
			r.Stripes = append(r.Stripes, tlSeg{Class: cls, Title: what + " " + msText(ops[i].Duration) + " ms"})
			r.striped = append(r.striped, &ops[i])
			if r.Absorbed != "" {
				r.Absorbed += " "
			}
			r.Absorbed += strconv.Itoa(ops[i].Seq)
		}
	}
	// The tree; a collection's children go to the item they were made
	// for.
	items := map[*tlRow]map[string]*tlRow{}
	shown := 0
	for i := range ops {
		r := rows[i]
		if r == nil {
			continue
		}
		if r.Kind == "collection" {
			items[r] = map[string]*tlRow{}
			for k, key := range r.op.Keys {
				if _, dup := items[r][key]; dup {
					continue
				}
				if shown == maxItemRows {
					tl.ItemsLeft += len(r.op.Keys) - k
					break
				}
				shown++
				it := &tlRow{Kind: "item", Index: k + 1, Key: key, Class: observe.None.String(), Region: r.Region, Template: r.Template, Fragment: r.Fragment}
				if k < len(r.op.KeyLens) && r.op.KeyLens[k] > len(key) {
					it.KeyLen = r.op.KeyLens[k]
				}
				if k < len(r.op.Results) {
					it.Class = r.op.Results[k].String()
				}
				items[r][key] = it
				r.Children = append(r.Children, it)
			}
		}
		p := parent[i]
		if p < 0 {
			tl.Rows = append(tl.Rows, r)
			continue
		}
		pr := rows[p]
		if it, ok := items[pr][ops[i].Parent]; ok && !ops[i].Collection {
			it.Children = append(it.Children, r)
			continue
		}
		pr.Children = append(pr.Children, r)
	}

	var css strings.Builder
	depths := map[int]bool{}
	n := 0
	var all []*tlRow
	var walk func(rs []*tlRow, depth int)
	walk = func(rs []*tlRow, depth int) {
		for _, r := range rs {
			n++
			r.ID = "t" + strconv.Itoa(n)
			r.Depth = depth
			depths[depth] = true
			walk(r.Children, depth+1)
			finishRow(r, tl.Axis, &css)
			all = append(all, r)
		}
	}
	walk(tl.Rows, 0)
	for d := range depths {
		if d > 0 {
			css.WriteString(".tl-d" + strconv.Itoa(d) + "{padding-left:" + strconv.FormatFloat(.3+1.15*float64(d), 'f', 2, 64) + "em}")
		}
	}
	tl.Style = template.CSS(css.String())

	var spans [][2]time.Duration
	for _, r := range tl.Rows {
		if r.Bar {
			spans = append(spans, [2]time.Duration{r.Start, r.Start + r.Duration})
		}
	}
	tl.Busy = covered(spans)
	slices.SortStableFunc(all, func(a, b *tlRow) int { return cmp.Compare(b.Self, a.Self) })
	for _, r := range all {
		if len(tl.Slowest) == 3 || r.Self <= 0 {
			break
		}
		tl.Slowest = append(tl.Slowest, r)
	}
	for _, r := range all {
		r.Slow = r.Bar && r.Self >= slowFloor && r.Self*10 >= tl.Axis
	}
	return tl
}

// newOpRow returns the row of one operation, without its place.
func newOpRow(o *Operation) *tlRow {
	r := &tlRow{
		Seq: o.Seq, Kind: "op", Layer: o.Layer, Op: o.Op, Region: o.Region, Template: o.Template, Fragment: o.Fragment,
		Err: o.Err, Start: o.Start, Duration: o.Duration, Bar: true, Open: true, op: o,
	}
	if fragmentCall(o) {
		r.Kind = "fragment"
		if o.Collection && o.Op == observe.OpGetOrCreateMulti.String() {
			r.Kind, r.Open, r.Items = "collection", false, o.KeyCount
		}
	}
	if len(o.Keys) > 0 {
		r.Key = o.Keys[0]
		if len(o.KeyLens) > 0 && o.KeyLens[0] > len(r.Key) {
			r.KeyLen = o.KeyLens[0]
		}
	}
	r.More = o.KeyCount - min(o.KeyCount, 1)
	if res, ok := o.Result(); ok {
		r.Class = res.String()
	} else if len(o.Results) > 0 {
		r.Class = "mixed"
	} else {
		r.Class = observe.None.String()
	}
	if len(o.Results) > 1 {
		for _, res := range resultOrder {
			c := 0
			for _, x := range o.Results {
				if x == res {
					c++
				}
			}
			if c > 0 {
				r.Counts = append(r.Counts, tlCount{res.String(), c})
			}
		}
	}
	r.Retired = retiredBy(o)
	return r
}

// retiredBy names what o retired: the fragments whose keys a delete
// removed, the tags whose versions a write moved on (InvalidateTags), the
// region an invalidation concerned. Names come from the keys
// (tmplcache.KeyName).
func retiredBy(o *Operation) []retiredName {
	if o.Layer != LayerRegion {
		return nil
	}
	var out []retiredName
	switch o.Op {
	case observe.OpInvalidate.String():
		return []retiredName{{"region", o.Region}}
	case observe.OpDelete.String(), observe.OpDeleteMulti.String(), observe.OpSet.String(), observe.OpSetMulti.String():
	default:
		return nil
	}
	deletes := o.Op == observe.OpDelete.String() || o.Op == observe.OpDeleteMulti.String()
	for _, k := range o.Keys {
		name, tag, ok := tmplcache.KeyName(k)
		if !ok || (!tag && !deletes) {
			continue
		}
		n := retiredName{"fragment", name}
		if tag {
			n.Kind = "tag"
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// finishRow computes the row's own time and writes the geometry of its
// bar, stripes and result parts, once its children are finished.
func finishRow(r *tlRow, axis time.Duration, css *strings.Builder) {
	var spans [][2]time.Duration
	var add func(rs []*tlRow)
	add = func(rs []*tlRow) {
		for _, c := range rs {
			if c.Kind == "item" {
				add(c.Children) // an item's own bar spans its children
				continue
			}
			spans = append(spans, [2]time.Duration{c.Start, c.Start + c.Duration})
		}
	}
	add(r.Children)
	if r.Kind == "item" {
		if len(spans) == 0 {
			return
		}
		r.Bar, r.Open = true, true
		r.Start, r.Duration = spans[0][0], 0
		end := spans[0][1]
		for _, s := range spans {
			r.Start, end = min(r.Start, s[0]), max(end, s[1])
		}
		r.Duration = end - r.Start
	}
	// Children stay within the row's own time.
	lo, hi := r.Start, r.Start+r.Duration
	for i := range spans {
		spans[i] = [2]time.Duration{max(spans[i][0], lo), min(spans[i][1], hi)}
	}
	r.Self = max(r.Duration-covered(spans), 0)
	if r.Kind == "item" {
		r.Self = 0 // not an operation: its time is its children's
	}
	css.WriteString("#" + r.ID + "b{left:" + pct(r.Start, axis) + ";width:" + pct(r.Duration, axis) + "}")
	if r.op == nil {
		return
	}
	// Stripes, relative to the bar.
	for i, s := range r.striped {
		r.Stripes[i].ID = r.ID + "s" + strconv.Itoa(i)
		css.WriteString("#" + r.Stripes[i].ID + "{left:" + pct(s.Start-r.Start, r.Duration) + ";width:" + pct(s.Duration, r.Duration) + "}")
	}
	// Result parts, as shares of the bar.
	total := len(r.op.Results)
	at := 0
	for i, c := range r.Counts {
		id := r.ID + "p" + strconv.Itoa(i)
		r.Parts = append(r.Parts, tlSeg{ID: id, Class: "b-" + c.Result, Title: strconv.Itoa(c.N) + " " + c.Result})
		css.WriteString("#" + id + "{left:" + ratio(at, total) + ";width:" + ratio(c.N, total) + "}")
		at += c.N
	}
}

// covered returns the time some span of spans covers, each moment once.
func covered(spans [][2]time.Duration) time.Duration {
	spans = slices.Clone(spans)
	slices.SortFunc(spans, func(a, b [2]time.Duration) int { return cmp.Compare(a[0], b[0]) })
	var total, end time.Duration
	started := false
	for _, s := range spans {
		if s[1] <= s[0] {
			continue
		}
		switch {
		case !started || s[0] >= end:
			total += s[1] - s[0]
			end, started = s[1], true
		case s[1] > end:
			total += s[1] - end
			end = s[1]
		}
	}
	return total
}

// pct writes d as a percentage of whole.
func pct(d, whole time.Duration) string {
	if whole <= 0 {
		return "0%"
	}
	return strconv.FormatFloat(min(max(float64(d)/float64(whole)*100, 0), 100), 'f', 4, 64) + "%"
}

func ratio(n, total int) string {
	if total <= 0 {
		return "0%"
	}
	return strconv.FormatFloat(float64(n)/float64(total)*100, 'f', 4, 64) + "%"
}

func msText(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
}
