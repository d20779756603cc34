package htmltmpl

import (
	"context"
	"fmt"
	"html/template"
	"reflect"
	"strings"

	"github.com/dogpilego/dogpile/tmplcache"
)

// Tags are dependency tags, made by the `tags` func: given to a fragment
// func among its vary values, they are the fragment's declared tags
// (tmplcache.Fragment.Tags), not part of its key:
//
//	{{ cached "post" . .Value.ID (tags (printf "post:%d" .Value.ID) "posts") }}
//
// tmplcache.Cache.InvalidateTags of any of them retires the fragment.
type Tags []string

// tagsFunc is `tags`: its arguments, strings or lists of strings, as Tags.
func tagsFunc(values ...any) (Tags, error) { return appendTags(nil, values) }

// addTagsFunc is `addtags`: it adds tags to the fragment being rendered
// with data (see tmplcache.AddTags), and prints nothing.
func addTagsFunc(data any, values ...any) (string, error) {
	tags, err := appendTags(nil, values)
	if err != nil {
		return "", err
	}
	ctx, _ := contextOf(data)
	tmplcache.AddTags(ctx, tags...)
	return "", nil
}

func appendTags(tags Tags, values []any) (Tags, error) {
	for i, v := range values {
		switch x := v.(type) {
		case string:
			tags = append(tags, x)
		case []string:
			tags = append(tags, x...)
		case Tags:
			tags = append(tags, x...)
		default:
			return nil, fmt.Errorf("htmltmpl: tag %d is a %T, not a string or a list of strings", i+1, v)
		}
	}
	return tags, nil
}

// split separates the Tags among a fragment func's arguments from its vary
// values.
func split(args []any) (vary []any, tags []string) {
	n := 0
	for _, a := range args {
		if _, ok := a.(Tags); ok {
			n++
		}
	}
	if n == 0 {
		return args, nil
	}
	vary = make([]any, 0, len(args)-n)
	for _, a := range args {
		if t, ok := a.(Tags); ok {
			tags = append(tags, t...)
		} else {
			vary = append(vary, a)
		}
	}
	return vary, tags
}

// lookup returns fragment name of the set.
func (b *binding) lookup(name string) (*fragment, error) {
	if f := b.fragments[name]; f != nil {
		return f, nil
	}
	return nil, fmt.Errorf("%w: %q in template set %q (defined after Bind?)", tmplcache.ErrUnknownFragment, name, b.name)
}

// cached is the bound `cached` func: it returns fragment name of the set
// rendered with data, from its region, executing the fragment's template on
// a miss.
func (b *binding) cached(name string, data any, args ...any) (template.HTML, error) {
	f, err := b.lookup(name)
	if err != nil {
		return "", err
	}
	return b.render(f, data, args)
}

// cachedIf is the bound `cachedIf` func: `cached` when cond is true (as
// {{ if }} judges it), the fragment executed uncached otherwise.
func (b *binding) cachedIf(cond any, name string, data any, args ...any) (template.HTML, error) {
	truth, _ := template.IsTrue(cond)
	return b.either(truth, name, data, args)
}

// cachedUnless is the bound `cachedUnless` func: `cached` unless cond is
// true.
func (b *binding) cachedUnless(cond any, name string, data any, args ...any) (template.HTML, error) {
	truth, _ := template.IsTrue(cond)
	return b.either(!truth, name, data, args)
}

func (b *binding) either(cache bool, name string, data any, args []any) (template.HTML, error) {
	f, err := b.lookup(name)
	if err != nil {
		return "", err
	}
	if cache {
		return b.render(f, data, args)
	}
	ctx, carries := contextOf(data)
	if f.nests && !carries {
		return "", needsContext(name, data)
	}
	// What the fragment shows is part of the enclosing fragment, which
	// then depends on its tags.
	_, tags := split(args)
	tmplcache.AddTags(ctx, tags...)
	html, err := b.execute(f, data, ctx)
	return template.HTML(html), err
}

func needsContext(name string, data any) error {
	return fmt.Errorf("%w: fragment %q, data of type %T (use htmltmpl.Data, a map with htmltmpl.ContextKey, or a ContextReplacer)", ErrNeedsContext, name, data)
}

// render returns fragment f rendered with data from its region.
func (b *binding) render(f *fragment, data any, args []any) (template.HTML, error) {
	ctx, carries := contextOf(data)
	if f.nests && !carries {
		return "", needsContext(f.name, data)
	}
	fr := tmplcache.Fragment{Template: b.name, Name: f.name, Digest: f.digest, FullKey: f.key}
	if len(args) > 0 {
		fr.Vary, fr.Tags = split(args)
		if len(fr.Vary) > 0 {
			// Render computes the key and reports a vary value that has none.
			fr.FullKey = ""
			if k, err := f.varyKey(fr.Vary); err == nil {
				fr.FullKey = k
			}
		}
	}
	html, err := b.cache.Render(ctx, fr, f.opts, func(ctx context.Context) (string, error) {
		return b.execute(f, data, ctx)
	})
	return template.HTML(html), err
}

type depthKey struct{}

// execute executes fragment f with data carrying ctx, when it can.
func (b *binding) execute(f *fragment, data any, ctx context.Context) (string, error) {
	if f.nests {
		depth, _ := ctx.Value(depthKey{}).(int)
		if depth >= MaxDepth {
			return "", fmt.Errorf("%w: fragment %q is rendered inside %d others", ErrTooDeep, f.name, depth)
		}
		ctx = context.WithValue(ctx, depthKey{}, depth+1)
	}
	data, err := withContext(data, ctx)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	if err := b.set.ExecuteTemplate(&out, f.name, data); err != nil {
		return "", err
	}
	return out.String(), nil
}

// cachedEach is the bound `cachedEach` func: fragment name rendered once
// per item of items, all read with one multi-get from the fragment's
// region and the missing ones written with one multi-set
// (tmplcache.Cache.RenderEach), in order.
func (b *binding) cachedEach(name string, data, items any, args ...any) (template.HTML, error) {
	f, err := b.lookup(name)
	if err != nil {
		return "", err
	}
	list, err := itemsOf(items)
	if err != nil || len(list) == 0 {
		return "", err
	}
	ctx, _ := contextOf(data)
	vary, tags := split(args)
	fs := make([]tmplcache.Fragment, len(list))
	per := 1 + len(vary)
	all := make([]any, 0, len(list)*per)
	for i, item := range list {
		all = append(append(all, keyOf(item)), vary...)
		fr := tmplcache.Fragment{Template: b.name, Name: name, Digest: f.digest, Vary: all[i*per : (i+1)*per : (i+1)*per], Tags: tags}
		// RenderEach computes the key of an item whose key fails, and
		// reports why.
		if k, err := f.varyKey(fr.Vary); err == nil {
			fr.FullKey = k
		}
		fs[i] = fr
	}
	htmls, err := b.cache.RenderEach(ctx, fs, f.opts, func(ctx context.Context, i int) (string, error) {
		return b.execute(f, itemData(list[i], ctx), ctx)
	})
	if err != nil {
		return "", err
	}
	n := 0
	for _, h := range htmls {
		n += len(h)
	}
	var out strings.Builder
	out.Grow(n)
	for _, h := range htmls {
		out.WriteString(h)
	}
	return template.HTML(out.String()), nil
}

// itemsOf returns the elements of a slice or an array.
func itemsOf(items any) ([]any, error) {
	switch x := items.(type) {
	case nil:
		return nil, nil
	case []any:
		return x, nil
	}
	v := reflect.ValueOf(items)
	for v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Kind() == reflect.Array {
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
	default:
		return nil, fmt.Errorf("htmltmpl: %s needs a slice or an array of items, not a %T", EachFuncName, items)
	}
	out := make([]any, v.Len())
	for i := range out {
		out[i] = v.Index(i).Interface()
	}
	return out, nil
}

// keyOf is the vary value an item of cachedEach is keyed by: the item
// itself, without the context it may carry, which is no part of what it
// shows (and would make every request's key another): a Data's Value, or
// a copy of the item carrying no context.
func keyOf(item any) any {
	switch d := item.(type) {
	case Data:
		return d.Value
	case *Data:
		if d != nil {
			return d.Value
		}
		return nil
	}
	if _, carries := contextOf(item); carries {
		if v, err := withContext(item, nil); err == nil {
			return v
		}
	}
	return item
}

// itemData is the data an item of cachedEach is rendered with: the item
// itself with ctx in place of its own context when it can carry one (Data,
// a map with ContextKey, a ContextReplacer), else Data{Ctx: ctx, Value:
// item}.
func itemData(item any, ctx context.Context) any {
	if _, carries := contextOf(item); carries {
		if d, err := withContext(item, ctx); err == nil {
			return d
		}
	}
	return Data{Ctx: ctx, Value: item}
}
