package pongo2ext

import (
	"cmp"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"weak"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/tmplcache"
)

// Reserved variable names. pongo2 requires identifiers, so they are
// spelled as unlikely ones; templates should not use them, except to hand
// them on through {% include ... only %} (see WithContext).
const (
	// CacheKey is the TemplateSet.Globals entry Install puts the Cache in.
	CacheKey = "__pongo2ext_cache"
	// ContextKey is the pongo2.Context entry WithContext puts the request's
	// context.Context in.
	ContextKey = "__pongo2ext_context"
)

// ErrNoCache is the cause of the execution error of a {% cached %} block
// in a template whose set has no Cache: call Install.
var ErrNoCache = errors.New("pongo2ext: no tmplcache.Cache in the template set's Globals (call pongo2ext.Install)")

// Install makes set's templates cache their {% cached %} blocks in c: it
// puts c into set.Globals under CacheKey, which pongo2 merges into every
// execution of the set's templates, included and extended ones too.
//
// It also hands c every fragment declared so far by templates parsed in
// this process, and the ones parsed later (see the package documentation:
// a tag cannot know its template set, so declarations are process-wide),
// so c.KeyFor and c.Invalidate know them; and it declares the EscapeOff
// state, so Invalidate deletes the variants rendered without autoescaping
// too.
//
// Call Install before executing templates of set concurrently: pongo2's
// Globals is a plain map.
//
// A nil set is left alone; a nil c removes the set's Cache, so that its
// blocks fail with ErrNoCache.
func Install(set *pongo2.TemplateSet, c *tmplcache.Cache) {
	if set == nil {
		return
	}
	if c == nil {
		delete(set.Globals, CacheKey)
		return
	}
	c.DeclareEscape(EscapeOff)
	declarations.subscribe(c)
	if set.Globals == nil {
		set.Globals = pongo2.Context{}
	}
	set.Globals[CacheKey] = c
}

// WithContext returns a copy of data that carries ctx, for pongo2's
// Execute: the regions of the template's {% cached %} blocks get ctx (its
// values, deadline and cancellation; observers see it). Without it they
// get context.Background().
//
// pongo2's {% include "x.html" ... only %} passes no variables on, so the
// included template's blocks get context.Background() and lose the chain
// that detects a block rendering itself; pass the context on explicitly:
//
//	{% include "x.html" with __pongo2ext_context=__pongo2ext_context only %}
func WithContext(ctx context.Context, data pongo2.Context) pongo2.Context {
	out := make(pongo2.Context, len(data)+1)
	for k, v := range data {
		out[k] = v
	}
	out[ContextKey] = ctx
	return out
}

// Context returns the context.Context of the rendering ec belongs to:
// the one tmplcache gives the innermost cached block being rendered, else
// the one given to WithContext, else context.Background(). Template
// functions get it through pongo2, which passes the
// *pongo2.ExecutionContext to a function whose first parameter is one:
//
//	set.Globals["post"] = func(ec *pongo2.ExecutionContext, id int) (*Post, error) {
//		ctx := pongo2ext.Context(ec)
//		tmplcache.AddTags(ctx, "post:"+strconv.Itoa(id)) // the block depends on the post
//		return store.Post(ctx, id)                      // and stops when the request ends
//	}
//
// so that the fragment being rendered depends on the tags the function
// adds (tmplcache.AddTags), a cancelled request stops its queries, and a
// block's nested fragments see their chain. Custom tags use it too.
func Context(ec *pongo2.ExecutionContext) context.Context {
	if ctx := asContext(ec.Private[ContextKey]); ctx != nil {
		return ctx
	}
	if ctx := asContext(ec.Public[ContextKey]); ctx != nil {
		return ctx
	}
	return context.Background()
}

// RequestContext is Context, under the name it had first.
func RequestContext(ec *pongo2.ExecutionContext) context.Context { return Context(ec) }

// asContext returns v as a context, also when {% include ... with %}
// wrapped it in a *pongo2.Value.
func asContext(v any) context.Context {
	if pv, ok := v.(*pongo2.Value); ok && pv != nil {
		v = pv.Interface()
	}
	ctx, _ := v.(context.Context)
	return ctx
}

// LoaderRoots returns a tmplcache option that normalises template names
// relative to the base directories of loaders, so that a template gets the
// same name whether it is loaded with FromFile("page.html") (a relative
// name), FromCache (an absolute one), {% include %} or {% extends %}
// (absolute too):
//
//	loader := pongo2.MustNewLocalFileSystemLoader("templates")
//	set := pongo2.NewSet("web", loader)
//	c := tmplcache.New(region, pongo2ext.LoaderRoots(loader))
//
// pongo2 does not expose a set's loaders or a LocalFilesystemLoader's base
// directory; a loader's Abs("", ".") gives it (the working directory when
// it has none). Loaders whose names are not absolute paths, such as
// pongo2.NewFSLoader, need no root and are skipped. Give the directories
// to tmplcache.WithRoots instead when that is simpler.
func LoaderRoots(loaders ...pongo2.TemplateLoader) tmplcache.Option {
	var dirs []string
	for _, l := range loaders {
		if d := l.Abs("", "."); filepath.IsAbs(d) {
			dirs = append(dirs, d)
		}
	}
	return tmplcache.WithRoots(dirs...)
}

// declarations is the process-wide record of the fragments that parsed
// templates declared, and the caches that want to hear about them.
var declarations = &registry{decls: map[declID]declared{}}

type declID struct{ template, name string }

type declared struct {
	d   tmplcache.Declaration
	seq uint64
}

type registry struct {
	mu     sync.Mutex
	seq    uint64
	decls  map[declID]declared // by the template's name as pongo2 gave it
	caches []weak.Pointer[tmplcache.Cache]
}

// declare records d and hands it to every live subscribed cache.
func (r *registry) declare(d tmplcache.Declaration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.decls[declID{d.Template, d.Name}] = declared{d, r.seq}
	live := r.caches[:0]
	for _, wp := range r.caches {
		if c := wp.Value(); c != nil {
			c.Declare(d)
			live = append(live, wp)
		}
	}
	clear(r.caches[len(live):])
	r.caches = live
}

// subscribe hands c the declarations made so far, in the order they were
// made, and the later ones as they come. c is held weakly.
func (r *registry) subscribe(c *tmplcache.Cache) {
	wp := weak.Make(c)
	r.mu.Lock()
	defer r.mu.Unlock()
	if slices.Contains(r.caches, wp) {
		return
	}
	r.caches = append(r.caches, wp)
	all := make([]declared, 0, len(r.decls))
	for _, d := range r.decls {
		all = append(all, d)
	}
	slices.SortFunc(all, func(a, b declared) int { return cmp.Compare(a.seq, b.seq) })
	for _, d := range all {
		c.Declare(d.d)
	}
}

// Cause returns the error a pongo2 error carries (its OrigError), or err
// itself, so that the errors of {% cached %} blocks can be tested with
// errors.Is: pongo2.Error has no Unwrap method.
//
//	_, err := tpl.Execute(data)
//	if errors.Is(pongo2ext.Cause(err), tmplcache.ErrRecursion) { ... }
func Cause(err error) error {
	var pe *pongo2.Error
	if errors.As(err, &pe) && pe.OrigError != nil {
		return pe.OrigError
	}
	return err
}
