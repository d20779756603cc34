// Package htmltmpl caches html/template fragments in dogpile regions,
// through package tmplcache.
//
// # Syntax
//
// A func cannot capture a block of html/template, so a fragment is a named
// template of the same set, and the `cached` func renders it:
//
//	{{define "sidebar"}}<aside>{{range .Value.Posts}}…{{end}}</aside>{{end}}
//
//	<body>{{ cached "sidebar" . }} … {{ cached "comments" . .Value.Post.ID }}</body>
//
// {{ cached "name" data vary... }} returns the HTML of template "name"
// executed with data, as template.HTML, from the fragment's region; on a
// miss it executes the template under the region's dogpile lock, so a
// fragment that expires under load is rendered once while the other
// requests get the previous HTML. The key is made of the set's name, the
// fragment's name, the digest of its source and the vary values (with their
// Go types: KeyFor needs the same types the template passes, int 42 is not
// int64 42 nor "42"). A vary value whose text would not tell it from
// others, such as one that refers to itself, is an execution error
// wrapping tmplcache.ErrVaryValue (see tmplcache.Cache.Key). The data is
// not part of the key: what the fragment shows must be determined by its
// name and the vary values.
//
// # Order of calls
//
// The parser must know `cached`, so install the placeholder FuncMap before
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
// Bind digests every template's parse tree: html/template's escaper
// rewrites the trees in place at the first Execute, so a set that has
// executed is refused with ErrExecuted rather than given digests that
// depend on what ran first. Per-fragment region and expiry are Bind
// options (Fragment, Defaults, Region, Expires), not template syntax. Bind
// declares every template of the set in the Cache under the set's name
// (the bound template's name, or SetName), so
//
//	key, err := cache.KeyFor("page", "comments", post.ID)
//	err = cache.Invalidate(ctx, "page", "comments", post.ID)
//
// address exactly the fragment a page renders. The digest covers the
// fragment's tree and those of the templates it includes with {{template}}
// and renders with `cached`, so editing any of them retires the fragment.
//
// template.Template.Clone copies the func map, whose `cached` still renders
// the original set's fragments: use Clone, which clones and binds again,
// and call Bind once more after parsing further templates into the clone.
//
// # Contexts
//
// Funcs get no context.Context, so the request's context reaches the region
// (its lock, its backend, its observers) through the data given to
// `cached`: data that implements ContextCarrier (Context() context.Context),
// such as Data made by WithContext or *http.Request, or a map[string]any
// holding the context under ContextKey. Other data is rendered with
// context.Background().
//
// Data's fields are reached as {{ .Value.Title }}; a struct of the
// application that embeds Data keeps its own fields at the top
// ({{ .Title }}), see Data.
//
// A fragment is executed with its data carrying the context tmplcache gives
// the rendering, which records the fragments being rendered: a fragment
// that leads back to itself then fails with tmplcache.ErrRecursion (an
// execution error) instead of waiting for itself. That takes data that can
// carry another context: Data (or a struct embedding it), such a map, or a
// ContextReplacer. `cached` refuses to render a fragment that contains
// `cached` calls (itself or through included templates) with any other data
// (ErrNeedsContext), before anything can wait. In a fragment, pass the
// fragment's own data to nested `cached` calls, or wrap a part of it with
// `withctx`, which FuncMap also installs:
//
//	{{ range .Value.Comments }}{{ cached "comment" (withctx $ .) .ID }}{{ end }}
//
// # Escaping
//
// The fragment is executed on its own, starting in HTML text context, and
// its HTML is returned as template.HTML. Printed in HTML text context,
// {{ cached "f" . }} gives the same bytes as {{ template "f" . }}. In any
// other context html/template escapes the HTML again: in an attribute tags
// are stripped and quotes escaped, a URL is filtered (javascript: becomes
// #ZgotmplZ) and percent-encoded, in a script it becomes a JavaScript
// string, in a style it becomes ZgotmplZ. That output is safe but is not the
// fragment; fragments belong in HTML text context. Check finds the calls
// that are not.
package htmltmpl
