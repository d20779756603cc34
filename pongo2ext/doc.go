// Package pongo2ext adds the {% cached %} tag to pongo2 v6: template
// fragments cached in dogpile regions through a tmplcache.Cache, rendered
// once per expiry however many requests ask for them.
//
//	{% cached "sidebar" region="memcached" expires=300 user.id lang %}
//	  ... expensive HTML ...
//	{% endcached %}
//
// Importing the package registers the tag (pongo2's tag registry is
// global; registration happens in init).
//
// # Options
//
// The first argument, a string literal, names the fragment; it is
// required. The rest, in any order:
//
//   - region="name": the Cache's region called name (a string literal);
//     the Cache's default region when absent. A name the Cache does not
//     hold is an execution error naming it.
//   - expires=N: N whole seconds (an integer literal), overriding the
//     region's expiration time; -1 means never; absent means the region's
//     own. expires=0 is a parse error: it would expire the fragment at once.
//   - key=expr: an explicit key, evaluated at render time, that replaces
//     the derived one (template, name, digest and vary-on values). Blocks
//     with the same key share the fragment; Go code deletes it with
//     Cache.InvalidateKey. Vary-on values beside key= are a parse error.
//   - if=expr, unless=expr: when if= is false or unless= is true, the body
//     is rendered as if the tag were absent (no region is asked).
//   - digest=false: leave the source digest out of the key (see Keys).
//   - any other argument is a vary-on expression, evaluated at render time.
//
// A missing or non-literal name, an unknown or repeated option, and an
// expires= that is not a whole number are parse errors, with the line and
// column of the offending token (pongo2.Error).
//
// # Setting up
//
// A tag cannot reach its TemplateSet, so the Cache travels in the set's
// Globals, which pongo2 merges into every execution, included and extended
// templates too. Install puts it there:
//
//	region := dogpile.NewRegion(dogpile.WithName("fragments"))
//	// ... region.Configure(...)
//	loader := pongo2.MustNewLocalFileSystemLoader("templates")
//	set := pongo2.NewSet("web", loader)
//	cache := tmplcache.New(region, pongo2ext.LoaderRoots(loader))
//	pongo2ext.Install(set, cache)
//
// A template whose set has no Cache fails to execute with ErrNoCache.
//
// The request's context reaches the regions through the data given to
// Execute; without it they get context.Background():
//
//	tpl.ExecuteWriter(pongo2ext.WithContext(r.Context(), pongo2.Context{...}), w)
//
// # Keys
//
// A fragment's key (tmplcache.Cache.Key) is made of:
//
//   - the template's name: pongo2's own, normalised by the Cache. pongo2
//     names a template as it was asked for: "page.html" from FromFile, an
//     absolute path from FromCache, {% include %} and {% extends %}. Give
//     the Cache the loaders' base directories (LoaderRoots, or
//     tmplcache.WithRoots) so all of these name it "page.html".
//     FromString templates are all called "<string>".
//   - the fragment's name.
//   - a digest of the block's source: the tag's arguments and every token
//     of the body, without positions. Editing the block, after the
//     template is parsed again, changes its key, so the stale rendering is
//     no longer used (Rails' template digests); edits elsewhere in the
//     template keep it. The digest covers the block's own text, not
//     templates it includes: invalidate those by hand, or vary on a
//     version.
//   - the autoescape state: "" when autoescaping is on (pongo2's default)
//     and EscapeOff when it is off. A rendering escaped in one state is
//     never served in the other, which would be an XSS.
//   - the vary-on values, as Go values (pongo2.Value.Interface): pass the
//     same Go types to Cache.KeyFor and Cache.Invalidate (an int for an
//     integer, a string for a string). A value whose text would not tell
//     it from others (one that refers to itself, say) makes the block fail
//     to execute with tmplcache.ErrVaryValue (see tmplcache.Cache.Key); a
//     nil pointer is a value like any other.
//
// # Declarations
//
// Cache.KeyFor and Cache.Invalidate need to know a fragment's digest and
// region, which only the parsed template has, while the Cache is reachable
// only when a template executes. So the tag declares each fragment it
// parses (except key= ones) into a process-wide record, and Install
// subscribes the Cache to it: the Cache receives every declaration made
// before and after, by templates of any set. A template parsed again
// replaces its declarations, so after an edit KeyFor gives the new key.
// Caches are held weakly: a dropped Cache is not kept alive by the record.
//
// # Rendering
//
// The body is rendered in a child execution context
// (pongo2.NewChildExecutionContext) into a buffer, and the result is
// written raw, on a miss as on a hit: the output is the same byte for byte
// (escaping happened inside the body), and a {% set %} inside the body is
// not seen after it, in both cases (as with {% with %}). A cached block
// renders as the same block inside {% with %} would.
//
// An error in the body is returned as it would be without caching (the
// same pongo2.Error) and nothing is cached. pongo2.Error has no Unwrap
// method: test errors with errors.Is(pongo2ext.Cause(err), target).
//
// # Nesting
//
// Cached blocks nest (Russian-doll caching): an outer hit serves the
// inner fragments with it; an outer miss renders the body, whose inner
// blocks are served from their own keys. The context tmplcache gives the
// outer rendering travels to the inner blocks (also into included
// templates), so a block that leads back to its own key, by key= or by a
// template including itself, fails with tmplcache.ErrRecursion instead of
// waiting for itself. {% include ... only %} passes no variables and so
// no context: pass ContextKey on with "with" (see WithContext).
//
// # Blocks in base templates
//
// A {% cached %} whose body contains a {% block %} is a parse error unless
// it has key= or vary-on values: every template that extends this one may
// fill the block differently, while the key names this template only, so
// the first child's rendering would be served to all (Django's documented
// trap). Vary on something that tells the pages apart, or put the cached
// block inside the {% block %}.
//
// # Mako spelling
//
// pongo2's delimiters are fixed, so "<% cached ... %>" would be printed as
// text. MakoLoader wraps a loader and rewrites "<% cached ... %>" and
// "<% endcached %>" into the tag before pongo2 parses the template; Check
// and CheckFS report the Mako-style tags a template still contains.
//
// # Concurrency
//
// Rendering goes through the region's dogpile lock: when a fragment
// expires under load it is rendered once, while the other requests get
// the previous HTML (or wait for the first rendering). The body's child
// context is made before the region is asked, so that a rendering that
// goes on after the page has moved on (with dogpile.WithAsyncCreation,
// or when the page's context ended while it waited) reads a copy of the
// variables (and of {% for %}'s forloop, which pongo2 updates in place);
// objects that the page's data holds and that change while a page renders
// are the caller's affair. pongo2 v6's own cycle and ifchanged tags and its
// TrimBlocks option are not safe for concurrent executions of one
// template, cached or not.
package pongo2ext
