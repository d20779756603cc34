package paneltest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Timeline is what CheckTimeline found in a request's timeline.
type Timeline struct {
	// Rows counts the rows of operations; Stripes the creations and lock
	// waits drawn in the bar of the call that caused them.
	Rows, Stripes int
	// Nested counts the rows of fragments rendered inside another
	// fragment, each checked to be under that fragment's row.
	Nested int
	// Collections counts the rows of collections, Items their items.
	Collections, Items int
	// MaxDepth is the deepest row's nesting.
	MaxDepth int
}

// timelineOp is an operation of a request's JSON view.
type timelineOp struct {
	Seq        int      `json:"seq"`
	Layer      string   `json:"layer"`
	Op         string   `json:"op"`
	Keys       []string `json:"keys"`
	Results    []string `json:"results"`
	KeyCount   int      `json:"key_count"`
	StartMS    float64  `json:"start_ms"`
	DurationMS float64  `json:"duration_ms"`
	Template   string   `json:"template"`
	Fragment   string   `json:"fragment"`
	Parent     string   `json:"parent"`
	Depth      int      `json:"depth"`
	Collection bool     `json:"collection"`
}

func (o *timelineOp) lookup() bool {
	return o.Layer == "region" && (o.Op == "get_or_create" || o.Op == "get_or_create_multi")
}

// fragmentKey matches a fragment's key: a prefix, a readable part, and 32
// hex digits.
var fragmentKey = regexp.MustCompile(`^[^:]+:.+:[0-9a-f]{32}$`)

// fragmentCall reports whether o is a fragment's own region call.
func (o *timelineOp) fragmentCall() bool {
	return o.lookup() && (o.Template != "" || o.Fragment != "") && len(o.Keys) > 0 && fragmentKey.MatchString(o.Keys[0])
}

// contains reports whether c ran within o, to the microsecond the JSON
// view gives.
func (o *timelineOp) contains(c *timelineOp) bool {
	const eps = 0.0015
	return o.StartMS <= c.StartMS+eps && c.StartMS+c.DurationMS <= o.StartMS+o.DurationMS+eps
}

// domRow is a timeline row as the browser lays it out.
type domRow struct {
	ID       string    `json:"id"`
	Seq      int       `json:"seq"`
	Kind     string    `json:"kind"`
	Depth    int       `json:"depth"`
	Key      string    `json:"key"`
	Absorbed string    `json:"absorbed"`
	Parent   string    `json:"parent"` // the id of the row it is nested in
	Bar      []float64 `json:"bar"`    // left, right; nil without a bar
	Track    []float64 `json:"track"`  // left, width
	Name     float64   `json:"name"`   // left of the row's name
	Counts   string    `json:"counts"`
	Open     *bool     `json:"open"` // of a row with children
}

// timelineRows reads every row of the timeline: its place in the tree and
// the geometry of its bar and name.
const timelineRows = `var out = [];
	var rect = function (e) { var r = e.getBoundingClientRect(); return r; };
	document.querySelectorAll("#timeline .tl-row[data-seq]").forEach(function (row) {
		var box = row.tagName === "SUMMARY" ? row.parentElement : row;
		var up = box.parentElement, parent = "";
		if (up.classList.contains("tl-kids")) { parent = up.parentElement.querySelector(":scope > summary").id; }
		var bar = row.querySelector(":scope > .tl-track > .tl-bar"), track = rect(row.querySelector(":scope > .tl-track"));
		var counts = row.querySelector(".tl-counts");
		var r = {id: row.id, seq: Number(row.dataset.seq), kind: row.dataset.kind, depth: Number(row.dataset.depth),
			key: row.dataset.key || "", absorbed: row.dataset.absorbed || "", parent: parent,
			bar: bar ? [rect(bar).left, rect(bar).right] : null, track: [track.left, track.width],
			name: rect(row.querySelector(".tl-name")).left, counts: counts ? counts.textContent : ""};
		if (row.tagName === "SUMMARY") { r.open = box.open; }
		out.push(r);
	});
	return out;`

// CheckTimeline opens the page of request id of the panel mounted at
// /_dogpile/ and checks its timeline in the browser, against the
// request's JSON view:
//
//   - every operation is a row, or a stripe (a creation, a lock wait) in
//     the bar of the call that caused it;
//   - each bar lies on the request's own time axis where its operation
//     ran, and a row nested in another is one level deeper, its name
//     indented further, its bar within the other's horizontally (bars are
//     at least a pixel wide, hence a pixel's tolerance);
//   - a fragment rendered inside another is under the row of that
//     fragment's call, or of the collection item it was rendered for;
//   - a collection is one row, folded at first, with its item count and
//     its results, whose items are its keys;
//   - folding a row hides the rows in it, unfolding shows them again.
//
// It saves a screenshot of the unfolded timeline, name+"-timeline.png",
// and returns what it found.
func (b *Browser) CheckTimeline(id uint64, name string) Timeline {
	t := b.t
	t.Helper()
	var req struct {
		DurationMS float64      `json:"duration_ms"`
		Operations []timelineOp `json:"operations"`
	}
	b.getJSON(fmt.Sprintf("/_dogpile/requests/%d.json", id), &req)
	if len(req.Operations) == 0 {
		t.Fatalf("request %d made no cache operation: no timeline to check", id)
	}
	ops := map[int]*timelineOp{}
	axis := req.DurationMS
	for i := range req.Operations {
		o := &req.Operations[i]
		ops[o.Seq] = o
		axis = max(axis, o.StartMS+o.DurationMS)
	}
	b.Visit(fmt.Sprintf("/_dogpile/requests/%d", id))

	var folded []domRow
	b.Script(timelineRows, nil, &folded)
	b.click("#tl-expand")
	var rows []domRow
	b.Script(timelineRows, nil, &rows)
	if len(rows) == 0 || len(rows) != len(folded) {
		t.Fatalf("%d timeline rows, %d before unfolding", len(rows), len(folded))
	}
	byID := map[string]*domRow{}
	for i := range rows {
		byID[rows[i].ID] = &rows[i]
	}
	var found Timeline
	seen := map[int]int{}
	rowOf := map[int]*domRow{}
	for i := range rows {
		r := &rows[i]
		found.MaxDepth = max(found.MaxDepth, r.Depth)
		if r.Seq > 0 {
			seen[r.Seq]++
			rowOf[r.Seq] = r
			found.Rows++
		}
		for f := range strings.FieldsSeq(r.Absorbed) {
			n, _ := strconv.Atoi(f)
			if o := ops[n]; o == nil || (o.Op != "create" && o.Op != "lock_wait") {
				t.Errorf("row %s draws operation %s as a stripe: %+v", r.ID, f, o)
			}
			seen[n]++
			found.Stripes++
		}
		// On the request's time axis.
		if o := ops[r.Seq]; o != nil {
			if r.Bar == nil {
				t.Errorf("operation %d has no bar", r.Seq)
				continue
			}
			left := r.Track[0] + o.StartMS/axis*r.Track[1]
			width := max(o.DurationMS/axis*r.Track[1], 1)
			if d := r.Bar[0] - left; d < -1 || d > 1 {
				t.Errorf("operation %d's bar starts at %.1fpx, want %.1fpx (%.3f ms of %.3f)", r.Seq, r.Bar[0], left, o.StartMS, axis)
			}
			if d := r.Bar[1] - r.Bar[0] - width; d < -1.5 || d > 1.5 {
				t.Errorf("operation %d's bar is %.1fpx wide, want %.1fpx", r.Seq, r.Bar[1]-r.Bar[0], width)
			}
		}
		if r.Parent == "" {
			if r.Depth != 0 {
				t.Errorf("row %s at the top has depth %d", r.ID, r.Depth)
			}
			continue
		}
		p := byID[r.Parent]
		if p == nil {
			t.Errorf("row %s is nested in %s, which is not a row", r.ID, r.Parent)
			continue
		}
		if r.Depth != p.Depth+1 {
			t.Errorf("row %s has depth %d under row %s of depth %d", r.ID, r.Depth, p.ID, p.Depth)
		}
		if r.Name < p.Name+4 {
			t.Errorf("row %s's name at %.1fpx is not indented under row %s's at %.1fpx", r.ID, r.Name, p.ID, p.Name)
		}
		if r.Bar != nil && p.Bar != nil && (r.Bar[0] < p.Bar[0]-0.5 || r.Bar[1] > p.Bar[1]+1) {
			t.Errorf("row %s's bar [%.1f, %.1f] is not within row %s's [%.1f, %.1f]", r.ID, r.Bar[0], r.Bar[1], p.ID, p.Bar[0], p.Bar[1])
		}
	}
	for seq := range ops {
		if seen[seq] != 1 {
			t.Errorf("operation %d is shown %d times, want once: %+v", seq, seen[seq], *ops[seq])
		}
	}

	// Fragments under the fragment (or the collection item) they were
	// rendered for, when that fragment's call holds them in time.
	for _, o := range req.Operations {
		if !o.fragmentCall() || o.Parent == "" {
			continue
		}
		r := rowOf[o.Seq]
		if r == nil {
			continue
		}
		var holders []int
		for _, p := range req.Operations {
			if p.Seq != o.Seq && p.lookup() && slices.Contains(p.Keys, o.Parent) && p.contains(&o) {
				holders = append(holders, p.Seq)
			}
		}
		if len(holders) == 0 {
			continue
		}
		p := byID[r.Parent]
		if p != nil && p.Kind == "item" && p.Key == o.Parent {
			p = byID[p.Parent]
		}
		if p == nil || !slices.Contains(holders, p.Seq) {
			t.Errorf("fragment %s %s (operation %d) is not under its parent's row (operations %v): it is under %+v", o.Template, o.Fragment, o.Seq, holders, p)
			continue
		}
		found.Nested++
	}

	// Collections: one row, folded at first, with its items and counts.
	foldedByID := map[string]domRow{}
	for _, r := range folded {
		foldedByID[r.ID] = r
	}
	for _, o := range req.Operations {
		if !o.Collection || o.Op != "get_or_create_multi" {
			continue
		}
		r := rowOf[o.Seq]
		if r == nil || r.Kind != "collection" {
			t.Errorf("collection operation %d is not a collection row: %+v", o.Seq, r)
			continue
		}
		found.Collections++
		if f := foldedByID[r.ID]; f.Open == nil || *f.Open {
			t.Errorf("collection row %s is not folded at first", r.ID)
		}
		var keys []string
		for _, c := range rows {
			if c.Parent == r.ID && c.Kind == "item" {
				keys = append(keys, c.Key)
				found.Items++
			}
		}
		var distinct []string // an item per key, in order
		for _, k := range o.Keys {
			if !slices.Contains(distinct, k) {
				distinct = append(distinct, k)
			}
		}
		if !slices.Equal(keys, distinct) {
			t.Errorf("collection row %s has items %q, want %q", r.ID, keys, distinct)
		}
		counts := map[string]int{}
		for _, res := range o.Results {
			counts[res]++
		}
		want := []string{fmt.Sprintf("%d items", o.KeyCount)}
		for res, n := range counts {
			want = append(want, fmt.Sprintf("%d %s", n, res))
		}
		for _, w := range want {
			if !strings.Contains(r.Counts, w) {
				t.Errorf("collection row %s says %q, which lacks %q", r.ID, r.Counts, w)
			}
		}
	}

	// Folding: the outermost row with rows in it hides them, and shows
	// them again.
	var node *domRow
	for i := range rows {
		if rows[i].Open != nil && rows[i].Parent == "" {
			node = &rows[i]
			break
		}
	}
	if node == nil {
		t.Fatal("no row of the timeline holds others: folding cannot be checked")
	}
	// checkVisibility: the content of a closed <details> may keep its
	// boxes, hidden by content-visibility.
	inside := `var row = document.getElementById(arguments[0]), n = 0, shown = 0;
		row.parentElement.querySelectorAll(".tl-kids .tl-row").forEach(function (r) {
			n++;
			var box = r.getBoundingClientRect();
			if (r.checkVisibility() && box.width > 0 && box.height > 0) { shown++; }
		});
		return [n, shown, row.checkVisibility() ? 1 : 0];`
	var counts []int
	b.click("#" + node.ID)
	b.Script(inside, []any{node.ID}, &counts)
	if len(counts) != 3 || counts[0] == 0 || counts[1] != 0 || counts[2] != 1 {
		t.Errorf("folding row %s: %v (rows in it, shown, the row itself shown); want every row in it hidden", node.ID, counts)
	}
	b.click("#" + node.ID)
	b.Script(inside, []any{node.ID}, &counts)
	if len(counts) != 3 || counts[1] != counts[0] {
		t.Errorf("unfolding row %s: %v; want every row in it shown", node.ID, counts)
	}
	b.ScreenshotElement("#timeline", name+"-timeline.png")
	return found
}
