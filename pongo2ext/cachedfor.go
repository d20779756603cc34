package pongo2ext

import (
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
	"strings"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/tmplcache"
)

// cachedForNode is one parsed {% cachedfor %} block.
type cachedForNode struct {
	block
	item     string // the loop variable
	items    pongo2.IEvaluator
	reversed bool
	sorted   bool
	body     *pongo2.NodeWrapper
	empty    *pongo2.NodeWrapper // {% empty %}'s body, or nil
}

// parseCachedFor parses
//
//	{% cachedfor ["name"] item in items [reversed] [sorted] by=expr region="r" expires=300 if=expr unless=expr digest=false tags=expr tag=expr vary... %}
//	...
//	[{% empty %} ...]
//	{% endcachedfor %}
func parseCachedFor(doc *pongo2.Parser, start *pongo2.Token, args *pongo2.Parser) (pongo2.INodeTag, *pongo2.Error) {
	n := &cachedForNode{block: block{tag: ForTagName, start: start, template: start.Filename, digestOn: true}}
	if loopType == nil {
		return nil, args.Error("{% cachedfor %}: this version of pongo2 hides its loop information; use {% for %} with {% cached %} inside", start)
	}
	if err := n.parseName(doc, args); err != nil {
		return nil, err
	}
	item := args.MatchType(pongo2.TokenIdentifier)
	if item == nil || args.Match(pongo2.TokenKeyword, "in") == nil {
		return nil, args.Error("{% cachedfor %} needs the loop as {% for %} has it, with one variable: {% cachedfor post in posts ... %}", nil)
	}
	if item.Val == "forloop" {
		return nil, args.Error("{% cachedfor %}: the loop variable cannot be called forloop", item)
	}
	n.item = item.Val
	var err *pongo2.Error
	if n.items, err = args.ParseExpression(); err != nil {
		return nil, err
	}
	n.reversed = args.Match(pongo2.TokenIdentifier, "reversed") != nil
	n.sorted = args.Match(pongo2.TokenIdentifier, "sorted") != nil
	if err := n.parseOptions(args, cachedForOptions); err != nil {
		return nil, err
	}
	h := sha256.New()
	for i := 0; i < args.Count(); i++ {
		hashToken(h, args.Get(i))
	}
	bodies, err := n.parseBody(doc, args, h, "empty", "end"+ForTagName)
	if err != nil {
		return nil, err
	}
	n.body = bodies[0]
	if len(bodies) > 1 {
		n.empty = bodies[1]
	}
	n.declare()
	return n, nil
}

// Execute writes the rendering of every item, from the region or rendered.
func (n *cachedForNode) Execute(ec *pongo2.ExecutionContext, w pongo2.TemplateWriter) *pongo2.Error {
	c, perr := n.cacheOf(ec)
	if perr != nil {
		return perr
	}
	items, perr := n.list(ec)
	if perr != nil {
		return perr
	}
	if len(items) == 0 {
		if n.empty == nil {
			return nil
		}
		return n.empty.Execute(pongo2.NewChildExecutionContext(ec), w)
	}
	if cache, perr := n.shouldCache(ec); perr != nil || !cache {
		if perr != nil {
			return perr
		}
		return n.uncached(ec, items, w)
	}
	f, perr := n.fragment(ec)
	if perr != nil {
		return perr
	}
	o, perr := n.options(ec)
	if perr != nil {
		return perr
	}

	// by= and tags= are evaluated per item, in a context with the item and
	// forloop, reused from one item to the next as {% for %} does.
	var at *pongo2.ExecutionContext
	var loop reflect.Value
	if n.by != nil || len(n.tags) > 0 {
		at = pongo2.NewChildExecutionContext(ec)
		loop = newLoop(ec.Private["forloop"])
		at.Private["forloop"] = loop.Interface()
	}
	per := 1 + len(f.Vary)
	vary := make([]any, len(items)*per)
	fs := make([]tmplcache.Fragment, len(items))
	for i, item := range items {
		v := vary[i*per : (i+1)*per : (i+1)*per]
		copy(v[1:], f.Vary)
		fs[i] = f
		fs[i].Vary = v
		if at != nil {
			at.Private[n.item] = item
			setLoop(loop, i, len(items))
		}
		if n.by == nil {
			v[0] = item.Interface()
		} else {
			by, perr := n.by.Evaluate(at)
			if perr != nil {
				return perr
			}
			v[0] = by.Interface()
		}
		if len(n.tags) > 0 {
			if fs[i].Tags, perr = n.evalTags(at, nil); perr != nil {
				return perr
			}
		}
		if err := n.fullKey(c, &fs[i]); err != nil {
			return ec.OrigError(fmt.Errorf("pongo2ext: fragment %q, item %d: %w", n.name, i+1, err), n.start)
		}
	}

	r := &eachRender{n: n, items: items, pageCopy: pageCopy{parent: ec}}
	htmls, err := c.RenderEach(Context(ec), fs, o, r.render)
	if err != nil {
		r.leave()
		return n.renderError(ec, err)
	}
	for _, html := range htmls {
		if _, err := w.WriteString(html); err != nil {
			return ec.OrigError(err, n.start)
		}
	}
	return nil
}

// list evaluates the items, in the order {% for %} would give them.
func (n *cachedForNode) list(ec *pongo2.ExecutionContext) ([]*pongo2.Value, *pongo2.Error) {
	v, perr := n.items.Evaluate(ec)
	if perr != nil {
		return nil, perr
	}
	if n.sorted && v.IsString() {
		return nil, ec.OrigError(fmt.Errorf("pongo2ext: fragment %q: sorted cannot order the characters of a string", n.name), n.items.GetPositionToken())
	}
	var items []*pongo2.Value
	v.IterateOrder(func(_, count int, key, _ *pongo2.Value) bool {
		if items == nil {
			items = make([]*pongo2.Value, 0, count)
		}
		items = append(items, key)
		return true
	}, func() {}, n.reversed, n.sorted)
	return items, nil
}

// uncached renders the items as {% for %} would, for if= and unless=.
func (n *cachedForNode) uncached(ec *pongo2.ExecutionContext, items []*pongo2.Value, w pongo2.TemplateWriter) *pongo2.Error {
	at := pongo2.NewChildExecutionContext(ec)
	loop := newLoop(ec.Private["forloop"])
	at.Private["forloop"] = loop.Interface()
	for i, item := range items {
		at.Private[n.item] = item
		setLoop(loop, i, len(items))
		if perr := n.body.Execute(at, w); perr != nil {
			return perr
		}
	}
	return nil
}

// eachRender renders the items of a collection for the region, each in a
// child context of its own, made from the page's copy (see pageCopy) with
// the item and a forloop of its own. The page calls leave only when
// RenderEach failed, and so may go on rendering: RenderEach returns its
// results only once every rendering is done.
type eachRender struct {
	n     *cachedForNode
	items []*pongo2.Value
	pageCopy
}

func (r *eachRender) render(ctx context.Context, i int) (string, error) {
	base := r.get() // read, never written, by every render
	child := pongo2.NewChildExecutionContext(base)
	loop := newLoop(base.Private["forloop"])
	setLoop(loop, i, len(r.items))
	child.Private["forloop"] = loop.Interface()
	child.Private[r.n.item] = r.items[i]
	child.Private[ContextKey] = ctx
	var b strings.Builder
	if perr := r.n.body.Execute(child, &b); perr != nil {
		return "", perr
	}
	return b.String(), nil
}

// loopType is pongo2's *tagForLoopInformation: {% for %} requires the
// forloop it finds in its context to be one, so the collection tag makes
// its forloop of that type. It is found once by running a loop.
var loopType = func() reflect.Type {
	var loop any
	set := pongo2.NewSet("pongo2ext-loop", noLoader{})
	tpl, err := set.FromString(`{% for x in "a" %}{{ keep(forloop) }}{% endfor %}`)
	if err != nil {
		return nil
	}
	if _, err := tpl.Execute(pongo2.Context{"keep": func(v any) string { loop = v; return "" }}); err != nil {
		return nil
	}
	t := reflect.TypeOf(loop)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	for _, f := range loopFields {
		if sf, ok := t.Elem().FieldByName(f.name); !ok || sf.Type.Kind() != f.kind {
			return nil
		}
	}
	return t
}()

var loopFields = []struct {
	name string
	kind reflect.Kind
}{
	{"Counter", reflect.Int}, {"Counter0", reflect.Int}, {"Revcounter", reflect.Int}, {"Revcounter0", reflect.Int},
	{"First", reflect.Bool}, {"Last", reflect.Bool}, {"Parentloop", reflect.Pointer},
}

// newLoop returns a new forloop whose Parentloop is parent, when parent
// is one of pongo2's.
func newLoop(parent any) reflect.Value {
	p := reflect.New(loopType.Elem())
	if pv := reflect.ValueOf(parent); pv.IsValid() && pv.Type() == loopType {
		p.Elem().FieldByName("Parentloop").Set(pv)
	}
	return p
}

// setLoop sets a forloop for the item at index i of count, as {% for %}
// does.
func setLoop(loop reflect.Value, i, count int) {
	e := loop.Elem()
	e.Field(loopIndex[0]).SetInt(int64(i + 1))
	e.Field(loopIndex[1]).SetInt(int64(i))
	e.Field(loopIndex[2]).SetInt(int64(count - i))
	e.Field(loopIndex[3]).SetInt(int64(count - i - 1))
	e.Field(loopIndex[4]).SetBool(i == 0)
	e.Field(loopIndex[5]).SetBool(i == count-1)
}

// loopIndex are the indices of loopFields in loopType.
var loopIndex = func() []int {
	if loopType == nil {
		return nil
	}
	idx := make([]int, len(loopFields))
	for i, f := range loopFields {
		sf, _ := loopType.Elem().FieldByName(f.name)
		idx[i] = sf.Index[0]
	}
	return idx
}()
