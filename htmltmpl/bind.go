package htmltmpl

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dogpilego/dogpile/tmplcache"
)

// FuncName is the name of the template func: {{ cached "fragment" . vary... }}.
const FuncName = "cached"

// Errors, for errors.Is.
var (
	// ErrNotBound is returned by `cached` in a template set that was parsed
	// with FuncMap but never given to Bind.
	ErrNotBound = errors.New("htmltmpl: template set not bound to a fragment cache (call htmltmpl.Bind after parsing)")
	// ErrExecuted is returned by Bind and Clone for a template set that has
	// been executed: html/template's escaper has rewritten its parse trees,
	// so their digests would no longer be those of the source.
	ErrExecuted = errors.New("htmltmpl: template set already executed")
	// ErrNeedsContext is returned by `cached` when the fragment contains
	// `cached` calls and its data cannot carry the rendering's context (see
	// ContextReplacer): without it, a fragment leading back to itself would
	// wait for itself.
	ErrNeedsContext = errors.New("htmltmpl: fragment contains cached calls but its data cannot carry the context")
)

// WithCtxFuncName is the name of the template func that wraps a value with
// the context of other data:
//
//	{{ range $c := .Value.Comments }}{{ cached "comment" (withctx $ $c) $c.ID }}{{ end }}
//
// hands each comment to a nested fragment as Data carrying the context of
// the enclosing template's data ($), see Data.
const WithCtxFuncName = "withctx"

// FuncMap returns the func map to install with Funcs before parsing, so
// that the parser accepts `cached` and `withctx`:
//
//	t, err := template.New("page").Funcs(htmltmpl.FuncMap()).Parse(text)
//	...
//	err = htmltmpl.Bind(t, cache)
//
// Its `cached` fails with ErrNotBound until Bind replaces it.
func FuncMap() template.FuncMap {
	return template.FuncMap{FuncName: notBound, WithCtxFuncName: withCtxFunc}
}

// withCtxFunc is `withctx`: value wrapped with the context data carries.
func withCtxFunc(data, value any) Data {
	ctx, _ := contextOf(data)
	return Data{Ctx: ctx, Value: value}
}

func notBound(name string, data any, vary ...any) (template.HTML, error) {
	return "", fmt.Errorf("%w: fragment %q", ErrNotBound, name)
}

// Option configures Bind and Clone.
type Option func(*config)

// FragmentOption chooses where and how long fragments are cached.
type FragmentOption func(*tmplcache.RenderOptions)

type config struct {
	name      string
	named     bool
	defaults  []FragmentOption
	fragments map[string][]FragmentOption
}

// SetName names the template set in fragment keys, in Declarations and so
// in KeyFor and Invalidate. The default is the name of the template given
// to Bind. Give distinct names to sets that define fragments of the same
// name differently but should be invalidated separately.
func SetName(name string) Option {
	return func(c *config) { c.name, c.named = name, true }
}

// Defaults applies opts to every fragment of the set; Fragment overrides
// them per fragment.
func Defaults(opts ...FragmentOption) Option {
	return func(c *config) { c.defaults = append(c.defaults, opts...) }
}

// Fragment applies opts to the fragment of that name, which must be a
// template of the set:
//
//	htmltmpl.Bind(t, cache,
//		htmltmpl.Fragment("sidebar", htmltmpl.Region("local"), htmltmpl.Expires(5*time.Minute)))
func Fragment(name string, opts ...FragmentOption) Option {
	return func(c *config) { c.fragments[name] = append(c.fragments[name], opts...) }
}

// Region caches the fragment in the Cache's region of that name; "" is the
// default region.
func Region(name string) FragmentOption {
	return func(o *tmplcache.RenderOptions) { o.Region = name }
}

// Expires overrides the region's expiration time: 0 keeps it, a negative
// duration means never.
func Expires(d time.Duration) FragmentOption {
	return func(o *tmplcache.RenderOptions) { o.Expires = d }
}

// binding is what Bind installs: the `cached` func of one template set.
type binding struct {
	set       *template.Template
	cache     *tmplcache.Cache
	name      string
	fragments map[string]*fragment // read-only once built
}

type fragment struct {
	digest string
	opts   tmplcache.RenderOptions
	nests  bool // executing it may call `cached`
}

// Bind makes the `cached` func of t's template set render fragments
// through c. Call it after the last Parse and before the first Execute of
// the set:
//
//	t := template.New("page").Funcs(htmltmpl.FuncMap())
//	_, err := t.Parse(text) // or ParseFS, ParseFiles, ...
//	...
//	err = htmltmpl.Bind(t, cache, opts...)
//	...
//	err = t.Execute(w, htmltmpl.WithContext(r.Context(), page))
//
// Bind computes each template's digest from its parse tree (and those of
// the templates it includes or renders as fragments), declares every
// template of the set as a fragment in c under the set's name (see
// SetName), so that c.KeyFor and c.Invalidate find it, and installs the
// `cached` func with t.Funcs.
//
// html/template's escaper rewrites parse trees in place at the first
// Execute, so Bind refuses a set that has executed (ErrExecuted): digests
// are always those of the source, the same in every process. Bind may be
// called again after further Parse calls, until the first Execute; a
// template redefined or added after Bind keeps its old digest, or is
// unknown to `cached`, until then.
func Bind(t *template.Template, c *tmplcache.Cache, opts ...Option) error {
	if t == nil || c == nil {
		return errors.New("htmltmpl: Bind needs a template and a Cache")
	}
	// Clone fails exactly when a template of the set has been escaped.
	if _, err := t.Clone(); err != nil {
		return fmt.Errorf("%w: %q: %v", ErrExecuted, t.Name(), err)
	}
	cfg := config{name: t.Name(), fragments: map[string][]FragmentOption{}}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	srcs := sources(t)
	b := &binding{set: t, cache: c, name: cfg.name, fragments: make(map[string]*fragment, len(srcs))}
	for _, name := range slices.Sorted(maps.Keys(cfg.fragments)) {
		if srcs[name] == nil {
			return fmt.Errorf("htmltmpl: Fragment(%q): no such template in set %q%s", name, t.Name(), t.DefinedTemplates())
		}
	}
	for name := range srcs {
		f := &fragment{digest: digest(srcs, name), nests: nests(srcs, name)}
		for _, o := range cfg.defaults {
			o(&f.opts)
		}
		for _, o := range cfg.fragments[name] {
			o(&f.opts)
		}
		if f.opts.Region != "" {
			if _, err := c.Region(f.opts.Region); err != nil {
				return fmt.Errorf("htmltmpl: fragment %q: %w", name, err)
			}
		}
		b.fragments[name] = f
	}
	for name, f := range b.fragments {
		c.Declare(tmplcache.Declaration{Template: b.name, Name: name, Digest: f.digest, Region: f.opts.Region})
	}
	t.Funcs(template.FuncMap{FuncName: b.cached})
	return nil
}

// Clone clones t (template.Template.Clone) and binds the clone to c with
// opts. A clone made with t.Clone alone keeps t's `cached` func, which
// renders t's fragments, not the clone's. Clone before t executes; after
// parsing more templates into the clone, call Bind on it again.
func Clone(t *template.Template, c *tmplcache.Cache, opts ...Option) (*template.Template, error) {
	if t == nil {
		return nil, errors.New("htmltmpl: Clone needs a template")
	}
	clone, err := t.Clone()
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrExecuted, t.Name(), err)
	}
	if err := Bind(clone, c, opts...); err != nil {
		return nil, err
	}
	return clone, nil
}

// cached is the bound `cached` func: it returns fragment name of the set
// rendered with data, from its region, executing the fragment's template on
// a miss.
func (b *binding) cached(name string, data any, vary ...any) (template.HTML, error) {
	f := b.fragments[name]
	if f == nil {
		return "", fmt.Errorf("%w: %q in template set %q (defined after Bind?)", tmplcache.ErrUnknownFragment, name, b.name)
	}
	ctx, carries := contextOf(data)
	if f.nests && !carries {
		return "", fmt.Errorf("%w: fragment %q, data of type %T (use htmltmpl.Data, a map with htmltmpl.ContextKey, or a ContextReplacer)", ErrNeedsContext, name, data)
	}
	html, err := b.cache.Render(ctx, tmplcache.Fragment{Template: b.name, Name: name, Digest: f.digest, Vary: vary}, f.opts,
		func(ctx context.Context) (string, error) {
			data, err := withContext(data, ctx)
			if err != nil {
				return "", err
			}
			var out strings.Builder
			if err := b.set.ExecuteTemplate(&out, name, data); err != nil {
				return "", err
			}
			return out.String(), nil
		})
	return template.HTML(html), err
}
