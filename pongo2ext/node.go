package pongo2ext

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/tmplcache"
)

// EscapeOff is the escaping state (tmplcache.Fragment.Escape) of fragments
// rendered with autoescaping off, by pongo2.SetAutoescape(false) or
// {% autoescape off %}. Fragments rendered with autoescaping on, pongo2's
// default, use the state "".
const EscapeOff = "off"

// cachedNode is one parsed {% cached %} block.
type cachedNode struct {
	block
	body *pongo2.NodeWrapper
}

// cacheOf returns the Cache of ec's template set.
func (b *block) cacheOf(ec *pongo2.ExecutionContext) (*tmplcache.Cache, *pongo2.Error) {
	c, _ := ec.Public[CacheKey].(*tmplcache.Cache)
	if c == nil {
		return nil, ec.OrigError(fmt.Errorf("%w (fragment %q)", ErrNoCache, b.name), b.start)
	}
	return c, nil
}

// fragment evaluates the parts of the block's fragment that every tag
// has: escaping state, vary-on values and tags.
func (b *block) fragment(ec *pongo2.ExecutionContext) (tmplcache.Fragment, *pongo2.Error) {
	f := tmplcache.Fragment{Template: b.template, Name: b.name, Digest: b.digest}
	if !ec.Autoescape {
		f.Escape = EscapeOff
	}
	if len(b.vary) > 0 {
		f.Vary = make([]any, len(b.vary))
		for i, e := range b.vary {
			v, perr := e.Evaluate(ec)
			if perr != nil {
				return f, perr
			}
			f.Vary[i] = v.Interface()
		}
	}
	return f, nil
}

// Execute writes the fragment, from its region or rendered.
func (n *cachedNode) Execute(ec *pongo2.ExecutionContext, w pongo2.TemplateWriter) *pongo2.Error {
	c, perr := n.cacheOf(ec)
	if perr != nil {
		return perr
	}
	if cache, perr := n.shouldCache(ec); perr != nil || !cache {
		if perr != nil {
			return perr
		}
		// As a rendering would: its {% set %} stays inside.
		return n.body.Execute(pongo2.NewChildExecutionContext(ec), w)
	}
	f, perr := n.fragment(ec)
	if perr != nil {
		return perr
	}
	if n.key != nil {
		v, perr := n.key.Evaluate(ec)
		if perr != nil {
			return perr
		}
		if f.Key = v.String(); f.Key == "" {
			return ec.OrigError(fmt.Errorf("pongo2ext: key= of fragment %q is empty", n.name), n.start)
		}
	} else if err := n.fullKey(c, &f); err != nil {
		return ec.OrigError(fmt.Errorf("pongo2ext: fragment %q: %w", n.name, err), n.start)
	}
	if f.Tags, perr = n.evalTags(ec, nil); perr != nil {
		return perr
	}
	o, perr := n.options(ec)
	if perr != nil {
		return perr
	}

	r := &bodyRender{body: n.body, pageCopy: pageCopy{parent: ec}}
	html, err := c.Render(Context(ec), f, o, r.render)
	r.leave()
	if err != nil {
		return n.renderError(ec, err)
	}
	if _, err := w.WriteString(html); err != nil {
		return ec.OrigError(err, n.start)
	}
	return nil
}

// renderError reports an error of Render or RenderEach.
func (b *block) renderError(ec *pongo2.ExecutionContext, err error) *pongo2.Error {
	var body *pongo2.Error
	if errors.As(err, &body) {
		// Reported where it happened, as without caching.
		return body
	}
	return ec.OrigError(fmt.Errorf("pongo2ext: fragment %q: %w", b.name, err), b.start)
}

// pageCopy is a child execution context of the page's, made once, for
// renderings the region may run on a goroutine of its own, also after
// the region call has returned (dogpile.WithAsyncCreation, or a page whose
// context ended while it waited), when the page has moved on and changes
// its context: a {% set %}, the next iteration of an enclosing {% for %},
// which updates its forloop in place. So the copy is made while the page
// waits: by the first rendering, if it runs first, or by leave, which the
// page calls before it goes on.
type pageCopy struct {
	mu     sync.Mutex
	parent *pongo2.ExecutionContext // nil once the copy is made
	copy   *pongo2.ExecutionContext
}

// get returns the copy, making it on first use.
func (p *pageCopy) get() *pongo2.ExecutionContext {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.copy == nil {
		p.copy = pongo2.NewChildExecutionContext(p.parent)
		snapshotLoop(p.copy)
		p.parent = nil
	}
	return p.copy
}

// leave makes the copy, if no rendering did, before the page goes on.
func (p *pageCopy) leave() { p.get() }

// bodyRender renders a block's body for the region, in the page's copy.
type bodyRender struct {
	body *pongo2.NodeWrapper
	pageCopy
}

func (r *bodyRender) render(ctx context.Context) (string, error) {
	child := r.get()
	child.Private[ContextKey] = ctx // nested fragments keep the chain
	var b strings.Builder
	if perr := r.body.Execute(child, &b); perr != nil {
		return "", perr
	}
	return b.String(), nil
}

// snapshotLoop replaces pongo2's loop information in a child context by a
// copy: the enclosing {% for %} updates it in place on every iteration.
func snapshotLoop(child *pongo2.ExecutionContext) {
	loop, ok := child.Private["forloop"]
	if !ok || loop == nil {
		return
	}
	child.Private["forloop"] = copyLoop(reflect.ValueOf(loop)).Interface()
}

// copyLoop copies a chain of pongo2's *tagForLoopInformation, linked by
// their Parentloop field.
func copyLoop(p reflect.Value) reflect.Value {
	if p.Kind() != reflect.Pointer || p.IsNil() || p.Elem().Kind() != reflect.Struct {
		return p
	}
	c := reflect.New(p.Elem().Type())
	c.Elem().Set(p.Elem())
	if parent := c.Elem().FieldByName("Parentloop"); parent.IsValid() && parent.CanSet() && parent.Type() == p.Type() {
		parent.Set(copyLoop(parent))
	}
	return c
}
