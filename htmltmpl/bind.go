package htmltmpl

import (
	"errors"
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/dogpilego/dogpile/tmplcache"
)

// Names of the template funcs FuncMap installs.
const (
	// FuncName renders a fragment: {{ cached "name" data vary... }}.
	FuncName = "cached"
	// IfFuncName renders a fragment cached when a condition holds, and
	// uncached otherwise: {{ cachedIf cond "name" data vary... }}.
	IfFuncName = "cachedIf"
	// UnlessFuncName renders a fragment cached unless a condition holds:
	// {{ cachedUnless cond "name" data vary... }}.
	UnlessFuncName = "cachedUnless"
	// EachFuncName renders a fragment per item of a collection, read and
	// written in one round trip: {{ cachedEach "name" data items vary... }}.
	EachFuncName = "cachedEach"
	// TagsFuncName makes dependency tags, given to the fragment funcs
	// among the vary values: {{ cached "name" . (tags "post:7") }}.
	TagsFuncName = "tags"
	// AddTagsFuncName adds dependency tags to the fragment being
	// rendered, from inside it: {{ addtags . "post:7" }}.
	AddTagsFuncName = "addtags"
	// WithCtxFuncName wraps a value with the context of other data:
	//
	//	{{ range $c := .Value.Comments }}{{ cached "comment" (withctx $ $c) $c.ID }}{{ end }}
	//
	// hands each comment to a nested fragment as Data carrying the context
	// of the enclosing template's data ($), see Data.
	WithCtxFuncName = "withctx"
)

// Errors, for errors.Is.
var (
	// ErrNotBound is returned by the fragment funcs in a template set that
	// was parsed with FuncMap but never given to Bind.
	ErrNotBound = errors.New("htmltmpl: template set not bound to a fragment cache (call htmltmpl.Bind after parsing)")
	// ErrExecuted is returned by Bind and Clone for a template set that has
	// been executed: html/template's escaper has rewritten its parse trees,
	// so their digests would no longer be those of the source.
	ErrExecuted = errors.New("htmltmpl: template set already executed")
	// ErrNeedsContext is returned by the fragment funcs when the fragment
	// contains fragment funcs and its data cannot carry the rendering's
	// context (see ContextReplacer): without it, a fragment leading back
	// to itself would wait for itself.
	ErrNeedsContext = errors.New("htmltmpl: fragment contains cached calls but its data cannot carry the context")
	// ErrTooDeep is returned when fragments are rendered inside each other
	// more than MaxDepth deep, as a fragment rendered uncached that leads
	// back to itself (cachedIf with a false condition) would be forever.
	ErrTooDeep = errors.New("htmltmpl: fragments nested too deep")
)

// MaxDepth is how deep fragments may be rendered inside each other (see
// ErrTooDeep).
const MaxDepth = 1000

// FuncMap returns the func map to install with Funcs before parsing, so
// that the parser accepts the fragment funcs (cached, cachedIf,
// cachedUnless, cachedEach), tags, addtags and withctx:
//
//	t, err := template.New("page").Funcs(htmltmpl.FuncMap()).Parse(text)
//	...
//	err = htmltmpl.Bind(t, cache)
//
// Its fragment funcs fail with ErrNotBound until Bind replaces them.
func FuncMap() template.FuncMap {
	return template.FuncMap{
		FuncName:        notBound,
		IfFuncName:      notBoundIf,
		UnlessFuncName:  notBoundIf,
		EachFuncName:    notBoundEach,
		TagsFuncName:    tagsFunc,
		AddTagsFuncName: addTagsFunc,
		WithCtxFuncName: withCtxFunc,
	}
}

// withCtxFunc is `withctx`: value wrapped with the context data carries.
func withCtxFunc(data, value any) Data {
	ctx, _ := contextOf(data)
	return Data{Ctx: ctx, Value: value}
}

func notBound(name string, data any, args ...any) (template.HTML, error) {
	return "", fmt.Errorf("%w: fragment %q", ErrNotBound, name)
}

func notBoundIf(cond any, name string, data any, args ...any) (template.HTML, error) {
	return notBound(name, data)
}

func notBoundEach(name string, data, items any, args ...any) (template.HTML, error) {
	return notBound(name, data)
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

// binding is what Bind installs: the fragment funcs of one template set.
type binding struct {
	set       *template.Template
	cache     *tmplcache.Cache
	name      string
	fragments map[string]*fragment // read-only once built
}

type fragment struct {
	name   string
	digest string
	opts   tmplcache.RenderOptions
	nests  bool   // executing it may call a fragment func
	key    string // its key without vary values, in the default escaping state
	// keyFunc gives its keys for vary values (see tmplcache.Cache.KeyFunc).
	keyFunc func(escape string, vary ...any) (string, error)
	memo    keyMemo
}

// Bind makes the fragment funcs of t's template set render fragments
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
// fragment funcs with t.Funcs. It also binds each {{ cached "name" ... }}
// whose name is a string constant to its fragment, so that a hit looks
// nothing up by name: the parse trees then call funcs of their own
// (named _htmltmpl_cached_...), which digests do not see.
//
// html/template's escaper rewrites parse trees in place at the first
// Execute, so Bind refuses a set that has executed (ErrExecuted): digests
// are always those of the source, the same in every process. Bind may be
// called again after further Parse calls, until the first Execute; a
// template redefined or added after Bind keeps its old digest, or is
// unknown to the fragment funcs, until then.
func Bind(t *template.Template, c *tmplcache.Cache, opts ...Option) error {
	if t == nil || c == nil {
		return errors.New("htmltmpl: Bind needs a template and a Cache")
	}
	// Clone fails exactly when a template of the set has been escaped.
	if _, err := t.Clone(); err != nil {
		return fmt.Errorf("%w: %q: %w", ErrExecuted, t.Name(), err)
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
		f := &fragment{name: name, digest: digest(srcs, name), nests: nests(srcs, name)}
		for _, o := range cfg.defaults {
			if o != nil {
				o(&f.opts)
			}
		}
		for _, o := range cfg.fragments[name] {
			if o != nil {
				o(&f.opts)
			}
		}
		if f.opts.Region != "" {
			if _, err := c.Region(f.opts.Region); err != nil {
				return fmt.Errorf("htmltmpl: fragment %q: %w", name, err)
			}
		}
		b.fragments[name] = f
	}
	for _, name := range slices.Sorted(maps.Keys(b.fragments)) {
		f := b.fragments[name]
		d := tmplcache.Declaration{Template: b.name, Name: name, Digest: f.digest, Region: f.opts.Region}
		c.Declare(d)
		f.keyFunc = c.KeyFunc(d)
		// The key of a call without vary values is the same on every hit.
		if k, err := f.keyFunc(""); err == nil {
			f.key = k
		}
	}
	funcs := template.FuncMap{
		FuncName:       b.cached,
		IfFuncName:     b.cachedIf,
		UnlessFuncName: b.cachedUnless,
		EachFuncName:   b.cachedEach,
	}
	known := func(name string) bool { return b.fragments[name] != nil }
	for _, x := range t.Templates() {
		if x.Tree == nil || x.Tree.Root == nil {
			continue
		}
		for ident, quoted := range rewrite(x.Tree, known) {
			funcs[ident] = b.boundFunc(ident, quoted)
		}
	}
	t.Funcs(funcs)
	return nil
}

// boundFunc returns the func a rewritten call ident of fragment quoted
// calls (see rewrite).
func (b *binding) boundFunc(ident, quoted string) any {
	_, vary, _ := unbound(ident)
	name, _ := strconv.Unquote(quoted)
	f := b.fragments[name]
	if f == nil { // bound by an earlier Bind, since redefined away
		if vary {
			return func(data any, args ...any) (template.HTML, error) { return b.cached(name, data, args...) }
		}
		return func(data any) (template.HTML, error) { return b.cached(name, data) }
	}
	if vary {
		return func(data any, args ...any) (template.HTML, error) { return b.render(f, data, args) }
	}
	return func(data any) (template.HTML, error) { return b.render(f, data, nil) }
}

// Clone clones t (template.Template.Clone) and binds the clone to c with
// opts. A clone made with t.Clone alone keeps t's fragment funcs, which
// render t's fragments, not the clone's. Clone before t executes; after
// parsing more templates into the clone, call Bind on it again.
func Clone(t *template.Template, c *tmplcache.Cache, opts ...Option) (*template.Template, error) {
	if t == nil {
		return nil, errors.New("htmltmpl: Clone needs a template")
	}
	clone, err := t.Clone()
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrExecuted, t.Name(), err)
	}
	if err := Bind(clone, c, opts...); err != nil {
		return nil, err
	}
	return clone, nil
}
