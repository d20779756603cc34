package pongo2ext

import (
	"bytes"
	"errors"
	"io"
	"path"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/tmplcache"
)

// Set is a pongo2 template set whose templates cache their blocks in a
// tmplcache.Cache and may use the Mako spelling of the tags however they
// are loaded. NewSet makes one.
//
// Templates loaded through the set's loaders, by FromFile, FromCache,
// RenderTemplateFile, {% include %}, {% extends %}, {% import %} and
// {% ssi ... parsed %}, are rewritten by the loaders; templates given as
// text, to FromString, FromBytes, RenderTemplateString and
// RenderTemplateBytes, are rewritten by those methods of Set, which shadow
// the embedded set's. Rewriting turns "<% cached ... %>" and
// "<% endcached %>" into the tags (as RewriteMako does), and any other
// Mako-style tag into a parse error (see NewSet).
//
// What Set cannot rewrite is text given to the embedded set's own methods:
// s.TemplateSet.FromString(src), or FromString called on the
// *pongo2.TemplateSet by code that only has that. pongo2 parses such text
// without asking a loader, and has no hook to change it, so a Mako-style
// tag in it is printed as text: call the methods on the Set, or find such
// tags with Check or CheckFS.
type Set struct {
	*pongo2.TemplateSet
}

// NewSet returns a template set called name that loads templates through
// loaders, each wrapped so that it rewrites the Mako spelling, and caches
// their blocks in c (Install). Give c the loaders' base directories, so
// that a template's blocks have the same keys however it is loaded:
//
//	loader := pongo2.MustNewLocalFileSystemLoader("templates")
//	cache := tmplcache.New(region, pongo2ext.LoaderRoots(loader))
//	set := pongo2ext.NewSet("web", cache, loader)
//	tpl, err := set.FromFile("page.html")
//
// Unlike MakoLoader, the set's rewriting is strict: a Mako-style tag left
// after the cached tags are rewritten, "<%" then a name outside
// {% verbatim %} and {# comments #} ("<% foo %>", "<%block>", or a cached
// tag spanning lines), is a parse error at its line and column, never
// text in the page. Put text that must keep such a tag (an Underscore.js
// template in a script element, say) in {% verbatim %}.
//
// With no loaders the set loads no files: FromString and FromBytes work,
// FromFile fails. Nil loaders are skipped.
func NewSet(name string, c *tmplcache.Cache, loaders ...pongo2.TemplateLoader) *Set {
	var wrapped []pongo2.TemplateLoader
	for _, l := range loaders {
		if l != nil {
			wrapped = append(wrapped, strictLoader{l})
		}
	}
	if len(wrapped) == 0 {
		wrapped = append(wrapped, noLoader{})
	}
	s := &Set{pongo2.NewSet(name, wrapped...)}
	Install(s.TemplateSet, c)
	return s
}

// FromString parses src, rewritten, as a template of the set.
func (s *Set) FromString(src string) (*pongo2.Template, error) {
	return s.TemplateSet.FromString(rewriteStrict(src))
}

// FromBytes parses src, rewritten, as a template of the set.
func (s *Set) FromBytes(src []byte) (*pongo2.Template, error) {
	return s.TemplateSet.FromString(rewriteStrict(string(src)))
}

// RenderTemplateString parses src, rewritten, and executes it with data.
// Unlike pongo2's, it returns a parse error rather than panic.
func (s *Set) RenderTemplateString(src string, data pongo2.Context) (string, error) {
	tpl, err := s.FromString(src)
	if err != nil {
		return "", err
	}
	return tpl.Execute(data)
}

// RenderTemplateBytes parses src, rewritten, and executes it with data.
// Unlike pongo2's, it returns a parse error rather than panic.
func (s *Set) RenderTemplateBytes(src []byte, data pongo2.Context) (string, error) {
	return s.RenderTemplateString(string(src), data)
}

// RenderTemplateFile loads the template called name and executes it with
// data. Unlike pongo2's, it returns a parse error rather than panic.
func (s *Set) RenderTemplateFile(name string, data pongo2.Context) (string, error) {
	tpl, err := s.FromFile(name)
	if err != nil {
		return "", err
	}
	return tpl.Execute(data)
}

// strictLoader reads templates through a loader and rewrites them
// strictly (see NewSet).
type strictLoader struct{ inner pongo2.TemplateLoader }

func (l strictLoader) Abs(base, name string) string { return l.inner.Abs(base, name) }

func (l strictLoader) Get(path string) (io.Reader, error) {
	src, err := readTemplate(l.inner, path)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader([]byte(rewriteStrict(string(src)))), nil
}

// readTemplate reads the template at path through l, closing what l
// returns when it can be closed.
func readTemplate(l pongo2.TemplateLoader, path string) ([]byte, error) {
	r, err := l.Get(path)
	if err != nil {
		return nil, err
	}
	if c, ok := r.(io.Closer); ok {
		defer c.Close()
	}
	return io.ReadAll(r)
}

// errNoLoader is the error of a set made without loaders.
var errNoLoader = errors.New("pongo2ext: the template set has no loaders")

// noLoader is the loader of a set made without loaders: it finds nothing.
type noLoader struct{}

func (noLoader) Abs(base, name string) string {
	if path.IsAbs(name) || base == "" {
		return name
	}
	return path.Join(path.Dir(base), name)
}

func (noLoader) Get(string) (io.Reader, error) { return nil, errNoLoader }
