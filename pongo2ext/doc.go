// Package pongo2ext adds cached blocks to pongo2 v6: template fragments
// cached in dogpile regions through a tmplcache.Cache, rendered once per
// expiry however many requests ask for them, and collections of them read
// in one round trip.
//
//	{% cached region="memcached" expires=300 user.id lang %}
//	  ... expensive HTML ...
//	{% endcached %}
//
//	<% cached region="memcached" %> ... <% endcached %>     (the Mako spelling)
//
//	{% cachedfor post in posts by=post.ID tags="post:"|add:post.ID %}
//	  <article>{{ post.Title }}</article>
//	{% endcachedfor %}
//
// Importing the package registers the tags cached and cachedfor (pongo2's
// tag registry is global; registration happens in init).
//
// # Setting up
//
// NewSet makes a template set whose templates cache their blocks in a
// Cache and may use the Mako spelling however they are loaded:
//
//	region := dogpile.NewRegion(dogpile.WithName("fragments"))
//	// ... region.Configure(...)
//	loader := pongo2.MustNewLocalFileSystemLoader("templates")
//	cache := tmplcache.New(region, pongo2ext.LoaderRoots(loader))
//	set := pongo2ext.NewSet("web", cache, loader)
//	tpl, err := set.FromFile("page.html")
//
// For a set built by hand, Install puts the Cache in it (a tag cannot reach
// its TemplateSet, so the Cache travels in the set's Globals, which pongo2
// merges into every execution, included and extended templates too); such
// a set reads the Mako spelling only through MakoLoader. A template whose
// set has no Cache fails to execute with ErrNoCache.
//
// The request's context reaches the regions through the data given to
// Execute; without it they get context.Background():
//
//	tpl.ExecuteWriter(pongo2ext.WithContext(r.Context(), pongo2.Context{...}), w)
//
// # The cached tag
//
// {% cached %} takes, in any order after an optional name:
//
//   - "name", a string literal first: the fragment's name. Without one the
//     block is nameless and named by its place in the template (see
//     Nameless blocks). Names starting with '#' are those places.
//   - region="name": the Cache's region called name (a string literal);
//     the Cache's default region when absent. A name the Cache does not
//     hold is an execution error naming it.
//   - expires=...: how long the fragment stays fresh, overriding the
//     region's expiration time, in whole seconds; -1 means never; absent
//     means the region's own. A number literal (expires=300, expires=-1) is
//     checked when the template is parsed: 0, other negative numbers,
//     fractions, strings and units (60s) are parse errors. Any other
//     expression (expires=ttl, expires=minutes*60, expires=(60*5)) is
//     evaluated each time the block executes and must give a positive
//     whole number of seconds, of any integer type or a float holding a
//     whole number (as JSON decodes numbers), or -1; a time.Duration is
//     taken as it is (positive, or dogpile.NoExpiration). Anything else,
//     0, a negative number, 1.5, the string "60", nil, is an execution
//     error wrapping ErrExpires that names the value. A literal ends at the
//     number: in expires=60 -x, -x is a vary-on value.
//   - key=expr: an explicit key, evaluated at render time, that replaces
//     the derived one (template, name, digest and vary-on values). Blocks
//     with the same key share the fragment; Go code deletes it with
//     Cache.InvalidateKey. Vary-on values beside key= are a parse error.
//   - if=expr, unless=expr: when if= is false or unless= is true, the body
//     is rendered as if the tag were absent (no region is asked).
//   - digest=false: leave the source digest out of the key (see Keys).
//   - tags=expr, tag=expr: dependency tags (see Tags). tags= gives a string
//     or a list of strings, once; tag= gives a string and may be repeated.
//   - any other argument is a vary-on expression, evaluated at render time.
//
// An unknown or repeated option and a malformed value are parse errors,
// with the line and column of the offending token (pongo2.Error).
//
// # Nameless blocks
//
// A block without a name is named by its place: "#1" for the template's
// first cached block (of either tag), "#2" for the second, counted in the
// order their start tags appear in the source, nested ones too; Go code
// finds it by that name (Cache.KeyFor(template, "#2", vary...),
// Cache.Invalidate). The place comes from the template's text alone, so
// it is the same on every host and however the template is loaded
// (FromFile, FromCache, include, extends). Adding, removing or moving a
// cached block renames the blocks after it, which are then rendered again
// under their new keys; the blocks before it, and edits outside blocks,
// keep their keys. A block inside {% comment %} keeps its place.
//
// Every template given as text (FromString, FromBytes) is called
// "<string>", so two such templates' first blocks are both "#1" and are
// told apart by their digests: a nameless block with digest=false in one
// is a parse error.
//
// # The collection tag
//
// {% cachedfor %} renders one fragment per item, like {% for %} around a
// {% cached %}, but reads every item's fragment with one region call (one
// round trip to Redis or Memcached), renders only those that are missing,
// expired or retired by a tag, each once under the dogpile lock's rules,
// and writes them back with one call (Cache.RenderEach; Rails' render
// collection: cached: true):
//
//	{% cachedfor ["name"] item in items [reversed] [sorted] options... vary... %}
//	  ... item ...
//	[{% empty %} ... no items ...]
//	{% endcachedfor %}
//
// items is iterated as {% for %} iterates it, with one variable: a slice's
// or array's elements, a map's keys, a string's bytes; reversed and
// sorted order them as they do for {% for %}. Its options are those of
// {% cached %} without key=, and:
//
//   - by=expr: what tells the items apart, evaluated for each item with
//     the item and forloop set (by=item.ID). Without it an item is its own
//     identity, encoded structurally (a struct by all its fields): by= is
//     cheaper and keeps an item's fragment when fields that do not show in
//     it change.
//
// Each item's key is that of the block (its template, name or place,
// digest and escaping state) with the by= value (or the item) as the first
// vary-on value and the tag's vary-on values, evaluated once for all items,
// after it: KeyFor(template, "#1", post.ID, lang) is one item's key.
// tags= and tag= are evaluated per item (tags="post:"|add:post.ID), as is
// by=; if= and unless= once, and when they say so the items render as a
// plain {% for %}. Items with the same key are rendered once, at their
// first place, and share their HTML. The {% empty %} body, when there are
// no items, is not cached.
//
// The body sees forloop as {% for %} provides it: Counter, Counter0,
// Revcounter, Revcounter0, First, Last and Parentloop (the enclosing
// loop's). They are the values of the rendering that cached the item: an
// item served from the cache at another place shows the counters of the
// place it was rendered at, so use them only where the order is stable,
// or put them in by=.
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
//   - the fragment's name, or the block's place for a nameless block.
//   - a digest of what the block renders (see Digests).
//   - the autoescape state: "" when autoescaping is on (pongo2's default)
//     and EscapeOff when it is off. A rendering escaped in one state is
//     never served in the other, which would be an XSS.
//   - the vary-on values, as Go values (pongo2.Value.Interface), encoded
//     structurally: lists and maps by their elements, never by a text
//     that two values could share. Scalars are compared by their canonical
//     text, as Django does: a block varying on post.ID (the int 7) is
//     invalidated by Cache.Invalidate with the "7" a handler took from the
//     URL (see tmplcache.Cache.Key for the rule). A value that cannot be
//     encoded (one that refers to itself, say) makes the block fail to
//     execute with tmplcache.ErrVaryValue; a nil pointer is a value like
//     any other.
//
// Blocks without vary-on values compute their key once per Cache and
// escaping state; the others reuse the parts that do not change
// (tmplcache.Cache.KeyFunc).
//
// # Digests
//
// The digest covers the block's own source (the tag's arguments and every
// token of the body, without positions) and the templates the body uses
// by a literal name: the source of every template it includes
// ({% include "card.html" %}, {% ssi "x.html" parsed %}), with what those
// include, import and extend, recursively, the macros it imports
// ({% import "macros.html" card %} inside the block: the imported macros'
// tokens, not the rest of that file), and the files it copies
// ({% ssi "x.txt" %}). Editing any of them, once the
// template is parsed again, changes the key, so the stale rendering is no
// longer used (Rails' template digests); edits elsewhere keep it.
//
// A digest cannot know what is decided when the block renders: a template
// included by a computed name ({% include name %}), macros defined or
// imported outside the block, and the data. For those, give key= a version, vary on one (an
// updated-at time, a revision of the templates), or give the block tags.
//
// # Tags
//
// A fragment depends on tags: those tags= and tag= declare, those the Go
// code it calls adds, and those of every fragment rendered inside it, hit
// or miss, so that an outer fragment holding a card depends on the card's
// tags (Russian dolls without hand-kept lists). Cache.InvalidateTags
// retires every fragment depending on a tag, in every process sharing the
// tag region's backend, without scanning keys: each is rendered again on
// its next read, once, while the others are served the old HTML.
//
// Template functions add tags through the context of the rendering, which
// pongo2 makes reachable: it passes the *pongo2.ExecutionContext to a
// function whose first parameter is one, and Context returns the context
// to give tmplcache.AddTags:
//
//	set.Globals["post"] = func(ec *pongo2.ExecutionContext, id int) (*Post, error) {
//		ctx := pongo2ext.Context(ec)
//		tmplcache.AddTags(ctx, "post:"+strconv.Itoa(id))
//		return store.Post(ctx, id)
//	}
//
// pongo2 runs a macro in the context it was defined in, so a macro
// defined outside a block does not see the block being rendered: the tags
// its functions add, and the blocks inside it, are not the block's.
// Define or import the macro inside the block, or declare the tag.
//
// # Declarations
//
// Cache.KeyFor and Cache.Invalidate need to know a fragment's digest and
// region, which only the parsed template has, while the Cache is reachable
// only when a template executes. So the tags declare each fragment they
// parse (except key= ones) into a process-wide record, and Install (and
// NewSet) subscribes the Cache to it: the Cache receives every declaration
// made before and after, by templates of any set. A template parsed again
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
// waiting for itself, and inner tags reach the outer fragment.
// {% include ... only %} passes no variables and so no context: pass
// ContextKey on with "with" (see WithContext).
//
// # Blocks in base templates
//
// A cached block whose body contains a {% block %} is a parse error unless
// it has key= or vary-on values: every template that extends this one may
// fill the block differently, while the key names this template only, so
// the first child's rendering would be served to all (Django's documented
// trap). Vary on something that tells the pages apart, or put the cached
// block inside the {% block %}.
//
// # Mako spelling
//
// pongo2's delimiters are fixed, so "<% cached ... %>" would be printed as
// text. A Set made by NewSet rewrites "<% cached ... %>" and
// "<% endcached %>" into the tags before pongo2 parses a template, however
// the template reaches it: its loaders rewrite what FromFile, FromCache,
// {% include %}, {% extends %} and {% import %} load, and its FromString,
// FromBytes, RenderTemplateString and RenderTemplateBytes rewrite the text
// they are given. Any other Mako-style tag ("<% foo %>", or a cached tag
// spread over lines) is a parse error at its line and column, never text
// in the page. The one way around the rewriting is the embedded
// *pongo2.TemplateSet's own FromString and FromBytes, which pongo2 parses
// without a hook: call the Set's (see Set).
//
// MakoLoader wraps a loader of a set built by hand and rewrites the cached
// tags only, leaving other text as it is; Check and CheckFS report the
// Mako-style cached tags a template still contains.
//
// # Concurrency
//
// Rendering goes through the region's dogpile lock: when a fragment
// expires under load it is rendered once, while the other requests get
// the previous HTML (or wait for the first rendering). A rendering may go
// on after the page has moved on (with dogpile.WithAsyncCreation, or when
// the page's context ended while it waited), so it reads a copy of the
// page's variables made before the page goes on (and of {% for %}'s
// forloop, which pongo2 updates in place); objects that the page's data
// holds and that change while a page renders are the caller's affair.
// pongo2 v6's own cycle and ifchanged tags and its TrimBlocks option are
// not safe for concurrent executions of one template, cached or not.
package pongo2ext
