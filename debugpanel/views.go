package debugpanel

import (
	_ "embed"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/dogpilego/dogpile/dogpile/observe"
)

//go:embed page.html
var pageSource string

// pages holds the "list" and "detail" pages. html/template escapes every
// key, path and name for its context: keys are user-controlled.
var pages = template.Must(template.New("pages").Funcs(template.FuncMap{
	"ms": func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
	},
	"clock": func(t time.Time) string { return t.Format("15:04:05.000") },
}).Parse(pageSource))

type pageData interface{ setNonce(string) }

type page struct {
	Title string
	Nonce string
}

func (p *page) setNonce(n string) { p.Nonce = n }

type listView struct {
	page
	MaxRequests int
	Requests    []listRow
	// Memory and Budget are the bytes the panel keeps and may keep;
	// Unrecorded counts the requests left out for lack of room.
	Memory, Budget string
	Unrecorded     uint64
}

type listRow struct {
	Request
	// PathCut is how many bytes of the path were not kept.
	PathCut int
}

func (p *Panel) newListView(reqs []Request) *listView {
	used, budget := p.Memory()
	v := &listView{MaxRequests: p.opts.MaxRequests, Memory: formatBytes(used), Budget: formatBytes(budget), Unrecorded: p.Unrecorded()}
	v.Title = "Dogpile · " + count(len(reqs), "request", "requests")
	for _, r := range reqs {
		v.Requests = append(v.Requests, listRow{Request: r, PathCut: r.PathLen - len(r.Path)})
	}
	return v
}

// formatBytes writes n in B, KiB or MiB.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

type detailView struct {
	page
	Req         Request
	MaxRequests int
	SizeKnown   bool
	Ops         []opRow
	// PathCut is how many bytes of the path were not kept; Memory is what
	// the request's recording keeps.
	PathCut int
	Memory  string
	// Timeline is the operations' waterfall.
	Timeline *timeline
}

type opRow struct {
	Operation
	// Class is the overall result: a result's name, or "mixed".
	Class string
	// ResultText is what the result column shows.
	ResultText string
	// KeyResults pairs each kept key with its result.
	KeyResults []keyResult
	// Multi reports several keys: each gets its own result badge.
	Multi bool
	// More is the number of keys not kept.
	More int
	// Filter is the text the key filter matches: the keys, one a line.
	Filter string
	// Sub marks operations inside others: creations, lock waits and
	// backend calls.
	Sub bool
	// Retired names what a delete, an invalidation or a write of tag
	// versions retired.
	Retired []retiredName
}

type keyResult struct {
	Key    string
	Result string
	// Len is the key's full length in bytes when it was cut, else 0.
	Len int
}

func newDetailView(req Request, maxRequests int) *detailView {
	v := &detailView{Req: req, MaxRequests: maxRequests, SizeKnown: req.Stats.SizeKnown,
		PathCut: req.PathLen - len(req.Path), Memory: formatBytes(req.Memory)}
	v.Title = "Dogpile · " + count(req.Stats.Ops, "op", "ops") + " · " + req.Method + " " + req.Path
	for _, s := range req.Stats.ByOp {
		v.SizeKnown = v.SizeKnown || s.SizeKnown
	}
	for _, o := range req.Operations {
		row := opRow{Operation: o, Multi: len(o.Keys) > 1, More: o.KeyCount - len(o.Keys)}
		if r, ok := o.Result(); ok {
			row.Class = r.String()
		} else if len(o.Results) > 0 {
			row.Class = "mixed"
		} else {
			row.Class = observe.None.String()
		}
		row.ResultText = row.Class
		if row.Class == observe.None.String() {
			row.ResultText = "–"
		}
		row.KeyResults = make([]keyResult, len(o.Keys))
		for i, k := range o.Keys {
			kr := keyResult{Key: k, Result: observe.None.String()}
			if i < len(o.Results) {
				kr.Result = o.Results[i].String()
			}
			if i < len(o.KeyLens) && o.KeyLens[i] > len(k) {
				kr.Len = o.KeyLens[i]
			}
			row.KeyResults[i] = kr
		}
		row.Filter = strings.Join(o.Keys, "\n")
		row.Sub = o.Layer == LayerBackend || nested(o.Op)
		if o.Op != observe.OpInvalidate.String() {
			row.Retired = retiredBy(&o)
		}
		v.Ops = append(v.Ops, row)
	}
	v.Timeline = buildTimeline(req)
	return v
}
