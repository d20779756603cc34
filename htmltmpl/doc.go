// Package htmltmpl caches html/template fragments in dogpile regions,
// through package tmplcache.
//
// # Syntax
//
// A func cannot capture a block of html/template, so a fragment is a named
// template of the same set, and the fragment funcs render it:
//
//	{{define "sidebar"}}<aside>{{range .Value.Posts}}…{{end}}</aside>{{end}}
//
//	<body>{{ cached "sidebar" . }} … {{ cached "comments" . .Value.Post.ID }}</body>
//
// {{ cached "name" data vary... }} returns the HTML of template "name"
// executed with data, as template.HTML, from the fragment's region; on a
// miss it executes the template under the region's dogpile lock, so a
// fragment that expires under load is rendered once while the other
// requests get the previous HTML. The data is not part of the key: what
// the fragment shows must be determined by its name and the vary values.
//
// {{ cachedIf cond "name" data vary... }} is `cached` when cond is true
// (as {{ if }} judges it: false, 0, nil, "" and empty collections are
// false) and otherwise executes the fragment uncached, as {{ template }}
// would, without touching the region (Rails' cache_if);
// {{ cachedUnless cond "name" data vary... }} is the reverse. Both give the
// same bytes either way:
//
//	{{ cachedUnless .Value.User.IsAdmin "sidebar" . }}
//
// {{ cachedEach "name" data items vary... }} renders fragment "name" once
// per item of items (a slice or an array), in order, as one fragment per
// item varying on the item and the vary values (Rails' render collection:
// cached: true): every item is read with one multi-get from the region,
// only the missing, expired or tag-retired ones are rendered, each once
// under the dogpile lock, and they are written with one multi-set. data
// gives the context (see Contexts), and each item is rendered with the
// item as its data, wrapped with that context: Data{Ctx: ctx, Value: item},
// so a card reads {{ .Value.Title }}; an item that carries a context itself
// (Data, a struct embedding Data, a map with ContextKey, a
// ContextReplacer) keeps its type and gets the rendering's context in
// place of its own.
//
//	<ul>{{ cachedEach "card" . .Value.Posts }}</ul>
//	{{ define "card" }}<li><a href="/p/{{ .Value.ID }}">{{ .Value.Title }}</a></li>{{ end }}
//
// # Keys
//
// The key is made of the set's name, the fragment's name, the digest of its
// source and the vary values, encoded as tmplcache.Cache.Key says: scalars
// by their canonical text, whatever their Go type, so KeyFor("page",
// "comments", "42") addresses what {{ cached "comments" . 42 }} stored; lists,
// maps and structs by their structure. A vary value that cannot be
// encoded, such as one that refers to itself, is an execution error
// wrapping tmplcache.ErrVaryValue.
//
// An item of cachedEach is keyed by the item itself, structurally, without
// the context it carries (a Data item by its Value): an edited item is a
// new entry, as with Rails' cache versioning, and
// cache.Invalidate(ctx, "page", "card", post) addresses the card of post.
// An item whose encoding would be large or impossible (a func field, a
// cycle) should be given as a smaller view, or its fragment keyed by a
// `cached` call in a {{ range }}. Because keys follow the text of values,
// not their Go types, a template.HTML item and a string item of the same
// text share an entry although html/template prints the first as it is
// and escapes the second, and two struct types with the same fields and
// values share one too: keep one kind of item per collection fragment,
// or vary on the kind ({{ cachedEach "card" . .Value.Pages "page" }}).
//
// # Tags
//
// A fragment can depend on tags, retired with
// tmplcache.Cache.InvalidateTags in every process sharing the tag region,
// without knowing the keys of what depends on them. {{ tags "a" "b" }}
// makes Tags, which the fragment funcs take among their vary values as the
// fragment's declared tags, not as vary values; tags takes strings and
// lists of strings:
//
//	{{ cached "post" . .Value.ID (tags (printf "post:%d" .Value.ID) "posts") }}
//	{{ cachedEach "card" . .Value.Posts (tags "posts") }}
//
// Go code the template calls while a fragment renders adds tags with
// tmplcache.AddTags, given the context the fragment's data carries
// (.Context of Data), and {{ addtags . "tag"... }} does the same from the
// template, for tags that depend on the item of a collection:
//
//	{{ define "card" }}{{ addtags . (printf "post:%d" .Value.ID) }}…{{ end }}
//	{{ define "comments" }}{{ range loadComments .Context .Value.ID }}…{{ end }}{{ end }}
//
// Tags propagate up: a fragment depends on the tags of every fragment
// rendered inside it, hit or miss, and on those of fragments cachedIf or
// cachedUnless render uncached inside it. How soon another process sees an
// invalidation is tmplcache's refresh period (see tmplcache.WithTagRefresh).
//
// # Order of calls
//
// The parser must know the funcs, so install the placeholder FuncMap before
// parsing, then Bind the parsed set before its first Execute:
//
//	t := template.New("page").Funcs(htmltmpl.FuncMap())
//	if _, err := t.ParseFS(files, "templates/*.html"); err != nil { … }
//	if err := htmltmpl.Bind(t, cache,
//		htmltmpl.Fragment("sidebar", htmltmpl.Region("local"), htmltmpl.Expires(5*time.Minute)),
//	); err != nil { … }
//	…
//	err := t.ExecuteTemplate(w, "index.html", htmltmpl.WithContext(r.Context(), page))
//
// Per-fragment region and expiry are Bind options (Fragment, Defaults,
// Region, Expires), not template syntax. Bind declares every template of
// the set in the Cache under the set's name (the bound template's name, or
// SetName), so
//
//	key, err := cache.KeyFor("page", "comments", post.ID)
//	err = cache.Invalidate(ctx, "page", "comments", post.ID)
//
// address exactly the fragment a page renders.
//
// # Digests
//
// A fragment's digest covers its parse tree and those of every template it
// references, recursively: the templates it includes with {{ template }}
// or {{ block }} and the fragments it renders with the fragment funcs
// (html/template names them with constants, so every reference is
// known). Editing any of them retires the fragment: a process parsing the
// edited source uses new keys, while one with the old source keeps its
// own. Only a fragment name given by an expression ({{ cached .Name . }})
// is not followed: that template's digest covers only its own tree.
//
// Bind takes the digests from the parse trees before the first Execute:
// html/template's escaper rewrites the trees in place then, so a set that
// has executed is refused with ErrExecuted rather than given digests that
// depend on what ran first, and every process gets the digests of the
// source. Bind may be called again after further Parse calls, until the
// first Execute; a template redefined or added after Bind keeps its old
// digest, or is unknown to the fragment funcs, until then.
//
// template.Template.Clone copies the func map, whose fragment funcs still
// render the original set's fragments: use Clone, which clones and binds
// again, and call Bind once more after parsing further templates into the
// clone.
//
// Bind also binds each {{ cached "name" data vary... }} whose name is a
// constant to its fragment, by rewriting the call into one of a func of its
// own (named _htmltmpl_cached_...), so that a hit does not evaluate the
// name, look the fragment up or compute a key without vary values.
// Digests, Check and further Binds read such calls as they were written;
// an execution error names that func.
//
// # Contexts
//
// Funcs get no context.Context, so the request's context reaches the region
// (its lock, its backend, its observers) through the data given to the
// fragment funcs: data that implements ContextCarrier (Context()
// context.Context), such as Data made by WithContext or *http.Request, or a
// map[string]any holding the context under ContextKey. Other data is
// rendered with context.Background().
//
// Data's fields are reached as {{ .Value.Title }}; a struct of the
// application that embeds Data keeps its own fields at the top
// ({{ .Title }}), see Data.
//
// A fragment is executed with its data carrying the context tmplcache gives
// the rendering, which records the fragments being rendered and collects
// their tags: a fragment that leads back to itself then fails with
// tmplcache.ErrRecursion (an execution error) instead of waiting for
// itself, and one rendered uncached that leads back to itself fails with
// ErrTooDeep. That takes data that can carry another context: Data (or a
// struct embedding it), such a map, or a ContextReplacer. The fragment
// funcs refuse to render a fragment that contains fragment funcs (itself
// or through included templates) with any other data (ErrNeedsContext),
// before anything can wait. In a fragment, pass the fragment's own data to
// nested calls, or wrap a part of it with `withctx`, which FuncMap also
// installs:
//
//	{{ range .Value.Comments }}{{ cached "comment" (withctx $ .) .ID }}{{ end }}
//
// # Escaping
//
// The fragment is executed on its own, starting in HTML text context, and
// its HTML is returned as template.HTML. Printed in HTML text context,
// {{ cached "f" . }} gives the same bytes as {{ template "f" . }}, and
// {{ cachedEach "f" . .Value }} the same as
// {{ range .Value }}{{ template "f" (withctx $ .) }}{{ end }}. In any other
// context html/template escapes the HTML again: in an attribute tags are
// stripped and quotes escaped, a URL is filtered (javascript: becomes
// #ZgotmplZ) and percent-encoded, in a script it becomes a JavaScript
// string, in a style it becomes ZgotmplZ. That output is safe but is not the
// fragment; fragments belong in HTML text context. Check finds the calls
// that are not.
package htmltmpl
