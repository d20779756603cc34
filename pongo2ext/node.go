package pongo2ext

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

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
	start    *pongo2.Token // the tag's name, for error positions
	template string        // the template's name as pongo2 gave it
	name     string
	digest   string // "" with digest=false
	digestOn bool
	opts     tmplcache.RenderOptions

	key        pongo2.IEvaluator
	ifExpr     pongo2.IEvaluator
	unlessExpr pongo2.IEvaluator
	vary       []pongo2.IEvaluator

	body *pongo2.NodeWrapper
}

// Execute writes the fragment, from its region or rendered.
func (n *cachedNode) Execute(ec *pongo2.ExecutionContext, w pongo2.TemplateWriter) *pongo2.Error {
	c, _ := ec.Public[CacheKey].(*tmplcache.Cache)
	if c == nil {
		return ec.OrigError(fmt.Errorf("%w (fragment %q)", ErrNoCache, n.name), n.start)
	}

	cache, perr := n.shouldCache(ec)
	if perr != nil {
		return perr
	}
	if !cache {
		// As a rendering would: its {% set %} stays inside.
		return n.body.Execute(pongo2.NewChildExecutionContext(ec), w)
	}

	f := tmplcache.Fragment{Template: n.template, Name: n.name, Digest: n.digest}
	if !ec.Autoescape {
		f.Escape = EscapeOff
	}
	if n.key != nil {
		v, perr := n.key.Evaluate(ec)
		if perr != nil {
			return perr
		}
		if f.Key = v.String(); f.Key == "" {
			return ec.OrigError(fmt.Errorf("pongo2ext: key= of fragment %q is empty", n.name), n.start)
		}
	} else if len(n.vary) > 0 {
		f.Vary = make([]any, len(n.vary))
		for i, e := range n.vary {
			v, perr := e.Evaluate(ec)
			if perr != nil {
				return perr
			}
			f.Vary[i] = v.Interface()
		}
	}

	// The body renders in a child context made here, on the caller's
	// goroutine: the region renders it on a goroutine of its own, which
	// goes on after this page has moved on when the page's context ends
	// or the region creates in the background (dogpile.WithAsyncCreation),
	// and must not read the page's changing state.
	child := pongo2.NewChildExecutionContext(ec)
	snapshotLoop(child)
	html, err := c.Render(requestContext(ec), f, n.opts, func(ctx context.Context) (string, error) {
		child.Private[ContextKey] = ctx // nested fragments keep the chain
		var b strings.Builder
		if perr := n.body.Execute(child, &b); perr != nil {
			return "", perr
		}
		return b.String(), nil
	})
	if err != nil {
		var body *pongo2.Error
		if errors.As(err, &body) {
			// Reported where it happened, as without caching.
			return body
		}
		return ec.OrigError(fmt.Errorf("pongo2ext: fragment %q: %w", n.name, err), n.start)
	}
	if _, err := w.WriteString(html); err != nil {
		return ec.OrigError(err, n.start)
	}
	return nil
}

// shouldCache evaluates if= and unless=.
func (n *cachedNode) shouldCache(ec *pongo2.ExecutionContext) (bool, *pongo2.Error) {
	if n.ifExpr != nil {
		v, err := n.ifExpr.Evaluate(ec)
		if err != nil {
			return false, err
		}
		if !v.IsTrue() {
			return false, nil
		}
	}
	if n.unlessExpr != nil {
		v, err := n.unlessExpr.Evaluate(ec)
		if err != nil {
			return false, err
		}
		if v.IsTrue() {
			return false, nil
		}
	}
	return true, nil
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
