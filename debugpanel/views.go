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
}

type listRow struct {
	Request
	// Misses are the keys not served from the cache: misses, created and
	// waited.
	Misses int
}

func newListView(reqs []Request, maxRequests int) *listView {
	v := &listView{MaxRequests: maxRequests}
	v.Title = "Dogpile · " + count(len(reqs), "request", "requests")
	for _, r := range reqs {
		v.Requests = append(v.Requests, listRow{Request: r, Misses: r.Stats.Misses + r.Stats.Created + r.Stats.Waited})
	}
	return v
}

type detailView struct {
	page
	Req         Request
	MaxRequests int
	SizeKnown   bool
	Ops         []opRow
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
}

type keyResult struct {
	Key    string
	Result string
}

func newDetailView(req Request, maxRequests int) *detailView {
	v := &detailView{Req: req, MaxRequests: maxRequests, SizeKnown: req.Stats.SizeKnown}
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
			row.KeyResults[i] = kr
		}
		row.Filter = strings.Join(o.Keys, "\n")
		row.Sub = o.Layer == LayerBackend || nested(o.Op)
		v.Ops = append(v.Ops, row)
	}
	return v
}
