package pongo2ext

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"github.com/flosch/pongo2/v6"
)

// MakoLoader returns a loader that reads templates through inner and
// rewrites the Mako-style spelling of the cached tag into pongo2's before
// pongo2 parses them (pongo2's delimiters are fixed, so it would print
// "<% cached %>" as text):
//
//	<% cached name="sidebar" region="memcached" expires="60" user.id %>
//	...
//	<% endcached %>
//
// becomes
//
//	{% cached "sidebar" region="memcached" expires=60 user.id %}
//	...
//	{% endcached %}
//
// The mapping: name="x" (Mako's attribute form; anywhere in the tag) or a
// leading string literal is the fragment's name; a quoted expires="60" is
// the integer 60; every other item, region="r", key=expr, if=expr,
// unless=expr, digest=false and vary-on expressions, is passed on as
// written, so it means what it means in {% cached %}. Attributes are
// recognised in Mako's form, without spaces around "=". Without a name
// the block is nameless: <% cached region="memcached" %> becomes
// {% cached region="memcached" %}.
//
// Exactly two tags are rewritten: "<%" cached ... "%>" and
// "<%" endcached "%>", each on one line (spaces inside the delimiters are
// free). Nothing inside {% verbatim %} is touched. Lines keep their
// numbers; columns after a rewritten start tag may shift by the length of
// "name=". Other text is left as it is, Mako-style tags too, which pongo2
// prints: use Check to find the cached tags in templates loaded without
// this loader, or that it cannot rewrite. A Set made by NewSet rewrites
// the same way everywhere a template is loaded, and refuses the tags it
// cannot rewrite.
func MakoLoader(inner pongo2.TemplateLoader) pongo2.TemplateLoader { return makoLoader{inner} }

type makoLoader struct{ inner pongo2.TemplateLoader }

// Abs resolves through the inner loader.
func (l makoLoader) Abs(base, name string) string { return l.inner.Abs(base, name) }

// Get reads the template through the inner loader and rewrites it.
func (l makoLoader) Get(path string) (io.Reader, error) {
	src, err := readTemplate(l.inner, path)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader([]byte(RewriteMako(string(src)))), nil
}

var (
	makoStart = regexp.MustCompile(`<%[ \t]*cached(?:[ \t]+([^\n]*?))?[ \t]*%>`)
	makoEnd   = regexp.MustCompile(`<%[ \t]*endcached[ \t]*%>`)
	// makoAny finds what Check reports: the opening of either tag.
	makoAny = regexp.MustCompile(`<%[ \t]*(?:end)?cached\b`)

	verbatimStart = "{% verbatim %}"
	verbatimEnd   = regexp.MustCompile(`\{% endverbatim (?:[^%\n]* )?%\}`)
)

// RewriteMako returns src with its Mako-style cached tags rewritten as
// MakoLoader does.
func RewriteMako(src string) string {
	if !strings.Contains(src, "<%") {
		return src
	}
	var out strings.Builder
	out.Grow(len(src))
	at := 0
	for _, v := range verbatimRanges(src) {
		out.WriteString(rewriteSection(src[at:v[0]]))
		out.WriteString(src[v[0]:v[1]]) // copied as it is
		at = v[1]
	}
	out.WriteString(rewriteSection(src[at:]))
	return out.String()
}

// verbatimRanges returns the byte ranges of src's {% verbatim %} sections,
// end tags included, found as pongo2's lexer finds them. An unclosed
// section runs to the end.
func verbatimRanges(src string) [][2]int {
	var ranges [][2]int
	for at := 0; ; {
		i := strings.Index(src[at:], verbatimStart)
		if i < 0 {
			return ranges
		}
		start := at + i
		end := verbatimEnd.FindStringIndex(src[start:])
		if end == nil {
			return append(ranges, [2]int{start, len(src)})
		}
		at = start + end[1]
		ranges = append(ranges, [2]int{start, at})
	}
}

func rewriteSection(s string) string {
	s = makoEnd.ReplaceAllString(s, "{% endcached %}")
	return makoStart.ReplaceAllStringFunc(s, func(tag string) string {
		m := makoStart.FindStringSubmatch(tag)
		items := splitItems(m[1])
		var name string
		var rest []string
		for _, it := range items {
			switch {
			case name == "" && strings.HasPrefix(it, "name=") && isQuoted(it[len("name="):]):
				name = it[len("name="):]
			case strings.HasPrefix(it, "expires=") && isQuoted(it[len("expires="):]):
				quoted := it[len("expires="):]
				if v := quoted[1 : len(quoted)-1]; isInteger(v) {
					it = "expires=" + v
				}
				rest = append(rest, it)
			default:
				rest = append(rest, it)
			}
		}
		if name != "" {
			rest = append([]string{name}, rest...)
		}
		if len(rest) == 0 {
			return "{% cached %}"
		}
		return "{% cached " + strings.Join(rest, " ") + " %}"
	})
}

// splitItems splits a tag's arguments at spaces outside quotes.
func splitItems(s string) []string {
	var items []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			cur.WriteByte(ch)
			if ch == '\\' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else if ch == quote {
				quote = 0
			}
		case ch == '"' || ch == '\'':
			quote = ch
			cur.WriteByte(ch)
		case ch == ' ' || ch == '\t':
			if cur.Len() > 0 {
				items = append(items, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(ch)
		}
	}
	if cur.Len() > 0 {
		items = append(items, cur.String())
	}
	return items
}

func isQuoted(s string) bool {
	return len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0]
}

func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Problem is a Mako-style cached tag that pongo2 would print as text.
type Problem struct {
	File string // the template's name
	Line int    // 1-based
	Col  int    // 1-based, in bytes
	Text string // the line, trimmed
}

// String formats p as "file:line:col: message".
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: Mako-style cached tag is printed as text by pongo2 (load the template through a pongo2ext.NewSet or pongo2ext.MakoLoader, or write {%% cached %%}): %s",
		p.File, p.Line, p.Col, p.Text)
}

// Check reads the named templates through loader and reports every
// "<%" cached or "<%" endcached left in them: the text pongo2 would print
// literally. Through a MakoLoader it reports only the tags that loader
// cannot rewrite (one that spans lines, say). Names are resolved with
// loader.Abs, as pongo2's FromFile does.
func Check(loader pongo2.TemplateLoader, names ...string) ([]Problem, error) {
	var problems []Problem
	for _, name := range names {
		r, err := loader.Get(loader.Abs("", name))
		if err != nil {
			return problems, fmt.Errorf("pongo2ext: checking %s: %w", name, err)
		}
		src, err := io.ReadAll(r)
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
		if err != nil {
			return problems, fmt.Errorf("pongo2ext: checking %s: %w", name, err)
		}
		problems = append(problems, checkSource(name, string(src))...)
	}
	return problems, nil
}

// CheckFS reports, as Check does, the Mako-style cached tags in the files
// of fsys that match any of the fs.Glob patterns, or in every file under
// fsys's root when none is given.
func CheckFS(fsys fs.FS, patterns ...string) ([]Problem, error) {
	var names []string
	if len(patterns) == 0 {
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				names = append(names, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("pongo2ext: checking: %w", err)
		}
	}
	for _, pat := range patterns {
		m, err := fs.Glob(fsys, pat)
		if err != nil {
			return nil, fmt.Errorf("pongo2ext: checking %s: %w", pat, err)
		}
		names = append(names, m...)
	}
	var problems []Problem
	for _, name := range names {
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return problems, fmt.Errorf("pongo2ext: checking %s: %w", name, err)
		}
		problems = append(problems, checkSource(name, string(src))...)
	}
	return problems, nil
}

func checkSource(name, src string) []Problem {
	var problems []Problem
	verbatim := verbatimRanges(src)
	for _, m := range makoAny.FindAllStringIndex(src, -1) {
		if slices.ContainsFunc(verbatim, func(v [2]int) bool { return m[0] >= v[0] && m[0] < v[1] }) {
			continue
		}
		lineStart := strings.LastIndexByte(src[:m[0]], '\n') + 1
		lineEnd := strings.IndexByte(src[m[0]:], '\n')
		if lineEnd < 0 {
			lineEnd = len(src)
		} else {
			lineEnd += m[0]
		}
		problems = append(problems, Problem{
			File: name,
			Line: strings.Count(src[:m[0]], "\n") + 1,
			Col:  m[0] - lineStart + 1,
			Text: strings.TrimSpace(src[lineStart:lineEnd]),
		})
	}
	return problems
}

// makoTagName is the tag strict rewriting puts in place of a Mako-style
// tag it cannot rewrite, so that pongo2 fails to parse the template there
// rather than print the tag as text.
const makoTagName = "pongo2ext_mako_tag"

var (
	// makoLeft finds a Mako-style tag left after rewriting: "<%", a name
	// and "%>" on one line; the start of a cached tag, wherever it ends;
	// or one of Mako's own tags ("<%block name="x">"). The text found runs
	// to "%>" or the end of its line.
	makoLeft = regexp.MustCompile(`<%[ \t]*[A-Za-z_](?:[^%\n]|%[^>\n])*%>` +
		`|<%[ \t\r\n]*(?:end)?cached\b[^\n]*` +
		`|<%(?:page|include|inherit|namespace|def|block|call|doc|text)\b[^\n]*`)
	comment = regexp.MustCompile(`(?s)\{#.*?#\}`)
)

// rewriteStrict rewrites src as RewriteMako does and turns every other
// Mako-style tag, outside {% verbatim %} and comments, into a parse error:
// "<% foo %>", "<%block name="x">", or a cached tag that spans lines.
func rewriteStrict(src string) string {
	src = RewriteMako(src)
	if !strings.Contains(src, "<%") {
		return src
	}
	skip := verbatimRanges(src)
	for _, m := range comment.FindAllStringIndex(src, -1) {
		skip = append(skip, [2]int{m[0], m[1]})
	}
	var out strings.Builder
	at := 0
	for _, m := range makoLeft.FindAllStringIndex(src, -1) {
		if slices.ContainsFunc(skip, func(v [2]int) bool { return m[0] >= v[0] && m[0] < v[1] }) {
			continue
		}
		out.WriteString(src[at:m[0]])
		text := src[m[0]:m[1]]
		if len(text) > 80 {
			text = strings.ToValidUTF8(text[:77], "") + "..."
		}
		text = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", " ", "\r", " ", "\t", " ").Replace(text)
		fmt.Fprintf(&out, "{%% %s \"%s\" %%}", makoTagName, text)
		at = m[1]
	}
	if at == 0 {
		return src
	}
	out.WriteString(src[at:])
	return out.String()
}

// parseMakoError fails the parse of a template at a Mako-style tag that
// strict rewriting could not rewrite.
func parseMakoError(_ *pongo2.Parser, start *pongo2.Token, args *pongo2.Parser) (pongo2.INodeTag, *pongo2.Error) {
	text := "<% ... %>"
	if t := args.MatchType(pongo2.TokenString); t != nil {
		text = t.Val
	}
	err := args.Error(fmt.Sprintf("Mako-style tag %s is not a pongo2 tag and would be printed as text: "+
		"only <%% cached ... %%> and <%% endcached %%>, each on one line, are rewritten; "+
		"write the tag as {%% ... %%}, or put the text in {%% verbatim %%}", text), start)
	if err.Column > 3 {
		err.Column -= 3 // where "<%" was
	}
	return nil, err
}
