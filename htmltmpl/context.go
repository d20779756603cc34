package htmltmpl

import (
	"context"
	"fmt"
	"maps"
	"reflect"
)

// ContextCarrier is template data that carries the request's context. The
// `cached` func reads the context from its data argument, because
// html/template gives funcs no context of their own; the region's lock,
// backend calls and observers then see it. *http.Request is a
// ContextCarrier, and so is Data.
type ContextCarrier interface {
	Context() context.Context
}

// ContextReplacer is a ContextCarrier that can carry another context. A
// fragment's template is executed with its data carrying the context the
// fragment cache hands to the rendering, which holds the chain of fragments
// being rendered: a fragment that contains `cached` calls needs data that
// can carry it, so that a fragment leading back to itself fails with
// tmplcache.ErrRecursion instead of waiting for itself. WithContext returns
// a copy of the data, of the same type, with ctx in place of its context;
// it must not modify the receiver. A struct that embeds Data is a
// ContextReplacer through Data's methods and needs no method of its own.
type ContextReplacer interface {
	ContextCarrier
	WithContext(ctx context.Context) any
}

// Data wraps template data with a context: execute a page with
// WithContext(r.Context(), page) and reach the page's fields as
// {{ .Value.Title }}. Data is a ContextReplacer.
//
// To keep a page's fields at the top, embed Data in the page's struct:
//
//	type Page struct {
//		htmltmpl.Data // or *htmltmpl.Data
//		Title string
//	}
//
//	t.Execute(w, Page{Data: htmltmpl.Data{Ctx: r.Context()}, Title: "Home"})
//
// {{ .Title }} then works in pages and fragments alike: a fragment gets a
// copy of the Page whose embedded Data carries the rendering's context.
type Data struct {
	// Ctx is the request's context; nil stands for context.Background().
	Ctx context.Context
	// Value is the data the templates work with.
	Value any
}

// WithContext returns value wrapped with ctx.
func WithContext(ctx context.Context, value any) Data { return Data{Ctx: ctx, Value: value} }

// Context returns d.Ctx, or context.Background() when it is nil.
func (d Data) Context() context.Context { return orBackground(d.Ctx) }

// WithContext returns a copy of d that carries ctx.
func (d Data) WithContext(ctx context.Context) any { return Data{Ctx: ctx, Value: d.Value} }

// ContextKey is the key under which a map[string]any given as template data
// carries the request's context: map[string]any{htmltmpl.ContextKey:
// r.Context(), "User": u}. Such a map is treated as a ContextReplacer: a
// fragment receives a shallow copy with the rendering's context under the
// key.
const ContextKey = "Ctx"

var background = context.Background()

func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return background
	}
	return ctx
}

// contextOf returns the context data carries (context.Background() when it
// carries none) and whether data can carry another one (withContext).
func contextOf(data any) (context.Context, bool) {
	switch d := data.(type) {
	case nil:
		return background, false
	case Data:
		return orBackground(d.Ctx), true
	case *Data:
		if d == nil {
			return background, false
		}
		return orBackground(d.Ctx), true
	case map[string]any:
		if ctx, ok := d[ContextKey].(context.Context); ok && ctx != nil {
			return ctx, true
		}
		return background, false
	case ContextReplacer:
		return orBackground(d.Context()), true
	case ContextCarrier:
		return orBackground(d.Context()), false
	}
	return background, false
}

// withContext returns data carrying ctx in place of its own context, when
// contextOf says it can; otherwise data itself. A ContextReplacer must
// return data of its own type; a struct that embeds Data (or *Data) gets a
// copy with the embedded Data replaced.
func withContext(data any, ctx context.Context) (any, error) {
	switch d := data.(type) {
	case Data:
		return Data{Ctx: ctx, Value: d.Value}, nil
	case *Data:
		if d != nil {
			return &Data{Ctx: ctx, Value: d.Value}, nil
		}
		return data, nil
	case map[string]any:
		if _, ok := d[ContextKey].(context.Context); ok {
			m := maps.Clone(d)
			m[ContextKey] = ctx
			return m, nil
		}
		return data, nil
	case ContextReplacer:
		out := d.WithContext(ctx)
		if reflect.TypeOf(out) == reflect.TypeOf(data) {
			return out, nil
		}
		if out, ok := replaceEmbedded(data, ctx); ok {
			return out, nil
		}
		return nil, fmt.Errorf("htmltmpl: %T.WithContext returned a %T: a fragment must get data of the type it was given", data, out)
	}
	return data, nil
}

var (
	dataType    = reflect.TypeFor[Data]()
	ptrDataType = reflect.TypeFor[*Data]()
)

// replaceEmbedded returns a copy of data, a struct or a pointer to one that
// embeds Data or *Data, with ctx in the embedded Data.
func replaceEmbedded(data any, ctx context.Context) (any, bool) {
	v := reflect.ValueOf(data)
	ptr := v.Kind() == reflect.Pointer
	if ptr {
		if v.IsNil() {
			return nil, false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil, false
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.Anonymous || !f.IsExported() || (f.Type != dataType && f.Type != ptrDataType) {
			continue
		}
		c := reflect.New(t).Elem()
		c.Set(v)
		field := c.Field(i)
		if f.Type == dataType {
			field.Set(reflect.ValueOf(Data{Ctx: ctx, Value: field.Interface().(Data).Value}))
		} else {
			var value any
			if old := field.Interface().(*Data); old != nil {
				value = old.Value
			}
			field.Set(reflect.ValueOf(&Data{Ctx: ctx, Value: value}))
		}
		if ptr {
			return c.Addr().Interface(), true
		}
		return c.Interface(), true
	}
	return nil, false
}
