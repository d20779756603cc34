package htmltmpl

import (
	"errors"
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strings"
	"text/template/parse"
)

// Problem is a questionable use of a fragment func (cached, cachedIf,
// cachedUnless, cachedEach) that Check found.
type Problem struct {
	// Template is the template the call is in.
	Template string
	// Location is the call's position, "name:line:col" as text/template
	// reports it.
	Location string
	// Fragment is the fragment's name when it is a string constant.
	Fragment string
	// Context is where the output lands when that is not HTML text:
	// "attribute", "unquoted attribute", "URL", "JavaScript", "CSS",
	// "RCDATA" (<title>, <textarea>) or "comment"; "" for other problems.
	Context string
	// Message says what is wrong.
	Message string
}

// String returns "location: message".
func (p Problem) String() string { return p.Location + ": " + p.Message }

// escapers maps html/template's escaper funcs to the context they escape
// for.
var escapers = map[string]string{
	"_html_template_attrescaper":      "attribute",
	"_html_template_nospaceescaper":   "unquoted attribute",
	"_html_template_urlfilter":        "URL",
	"_html_template_urlescaper":       "URL",
	"_html_template_urlnormalizer":    "URL",
	"_html_template_srcsetescaper":    "URL",
	"_html_template_jsvalescaper":     "JavaScript",
	"_html_template_jsstrescaper":     "JavaScript",
	"_html_template_jsregexpescaper":  "JavaScript",
	"_html_template_jstmpllitescaper": "JavaScript",
	"_html_template_cssescaper":       "CSS",
	"_html_template_cssvaluefilter":   "CSS",
	"_html_template_rcdataescaper":    "RCDATA",
	"_html_template_commentescaper":   "comment",
	"_html_template_htmlnamefilter":   "attribute",
	"_html_template_htmlescaper":      "",
}

const escaperPrefix = "_html_template_"

// builtins are text/template's predefined funcs, which have no side
// effects and need no stub in the dry run.
var builtins = map[string]bool{
	"and": true, "or": true, "not": true, "len": true, "index": true, "slice": true,
	"print": true, "printf": true, "println": true, "html": true, "js": true,
	"urlquery": true, "call": true, "eq": true, "ne": true, "lt": true, "le": true,
	"gt": true, "ge": true,
}

var errDryRun = errors.New("htmltmpl: dry run")

// usage says how each fragment func is called.
var usage = map[string]string{
	FuncName:       "cached takes a fragment name and the fragment's data: {{ cached \"name\" . vary... }}",
	IfFuncName:     "cachedIf takes a condition, a fragment name and the fragment's data: {{ cachedIf .Cond \"name\" . vary... }}",
	UnlessFuncName: "cachedUnless takes a condition, a fragment name and the fragment's data: {{ cachedUnless .Cond \"name\" . vary... }}",
	EachFuncName:   "cachedEach takes a fragment name, the data giving the context and the items: {{ cachedEach \"name\" . .Value.Items vary... }}",
}

type refuse struct{}

func (refuse) Write([]byte) (int, error) { return 0, errDryRun }

// Check reports the fragment func calls (cached, cachedIf, cachedUnless,
// cachedEach) of t's set whose output does not land in
// HTML text context, where the cached HTML is printed as it is. Elsewhere
// html/template escapes the fragment's HTML again for the context
// (attribute, URL, JavaScript, CSS, RCDATA, comment): the output is safe
// but not the fragment's HTML. Check also reports calls naming an undefined
// template, calls without data, results piped through other funcs, and
// templates that contain such calls but are included (with {{template}})
// in a non-text context.
//
// To learn the contexts, Check runs html/template's escaper on a clone of
// the set, executing each page and fragment with nil data into a writer
// that refuses output and with every func replaced by one that fails: no
// func of the application runs and no region is touched. A set that has
// already executed cannot be cloned; Check then inspects the trees as the
// executions escaped them, which covers only the templates executed so far.
// Call Check at start-up or in a test, not while the set is executing.
func Check(t *template.Template) []Problem {
	if t == nil {
		return nil
	}
	srcs := sources(t)
	var problems []Problem
	set := t
	if clone, err := t.Clone(); err == nil {
		set = clone
		problems = append(problems, dryRun(clone, srcs)...)
	}
	contains := map[string]bool{}
	for name := range srcs {
		contains[name] = nests(srcs, name)
	}
	templates := set.Templates()
	slices.SortFunc(templates, func(a, b *template.Template) int { return strings.Compare(a.Name(), b.Name()) })
	for _, x := range templates {
		if x.Tree == nil || x.Tree.Root == nil {
			continue
		}
		problems = append(problems, inspect(x.Tree, srcs, contains)...)
	}
	return problems
}

// dryRun escapes the pages (templates no other template includes) and the
// fragments of the clone, and reports escaping errors.
func dryRun(clone *template.Template, srcs map[string]*source) []Problem {
	included, fragments := map[string]bool{}, map[string]bool{}
	stubs := template.FuncMap{}
	stub := func(...any) (any, error) { return nil, errDryRun }
	for name, s := range srcs {
		for _, n := range s.includes {
			if n != name {
				included[n] = true
			}
		}
		for _, n := range s.fragments {
			fragments[n] = true
		}
	}
	for _, x := range clone.Templates() {
		if x.Tree == nil || x.Tree.Root == nil {
			continue
		}
		walk(x.Tree.Root, func(n parse.Node) {
			if id, ok := n.(*parse.IdentifierNode); ok && !builtins[id.Ident] {
				stubs[id.Ident] = stub
			}
		})
	}
	clone.Funcs(stubs)
	var problems []Problem
	for _, name := range slices.Sorted(maps.Keys(srcs)) {
		if included[name] && !fragments[name] {
			continue
		}
		err := clone.ExecuteTemplate(refuse{}, name, nil)
		var e *template.Error
		if errors.As(err, &e) {
			what := "page"
			if fragments[name] {
				what = "fragment"
			}
			problems = append(problems, Problem{
				Template: name,
				Location: name,
				Message:  fmt.Sprintf("escaping %s %q failed, its fragment calls were not checked: %v", what, name, err),
			})
		}
	}
	return problems
}

// inspect reports the fragment func calls of one (escaped) tree.
func inspect(tree *parse.Tree, srcs map[string]*source, contains map[string]bool) []Problem {
	var problems []Problem
	report := func(n parse.Node, fragment, context, msg string) {
		loc, _ := tree.ErrorContext(n)
		problems = append(problems, Problem{Template: tree.Name, Location: loc, Fragment: fragment, Context: context, Message: msg})
	}
	walk(tree.Root, func(n parse.Node) {
		switch x := n.(type) {
		case *parse.TemplateNode:
			base, state, derived := strings.Cut(x.Name, "$htmltemplate_")
			if !derived || !contains[base] {
				return
			}
			if ctx := stateContext(state); ctx != "" {
				report(x, "", ctx, fmt.Sprintf("template %q, which renders fragments, is included in %s context (%s): their HTML is escaped again there", base, ctx, state))
			}
		case *parse.CommandNode:
			c, ok := callOf(x)
			if !ok {
				return
			}
			switch {
			case c.args < minArgs[c.fn]:
				report(x, c.name, "", usage[c.fn])
			case c.constant && srcs[c.name] == nil:
				report(x, c.name, "", fmt.Sprintf("fragment %q is not a template of the set", c.name))
			}
		case *parse.ActionNode:
			if len(x.Pipe.Decl) > 0 {
				return
			}
			for i, cmd := range x.Pipe.Cmds {
				c, ok := callOf(cmd)
				if !ok {
					continue
				}
				if p, ok := outputProblem(c.fn, x.Pipe.Cmds[i+1:]); ok {
					report(x, c.name, p.Context, p.Message)
				}
			}
		}
	})
	return problems
}

// outputProblem judges the commands after a call of fragment func fn in a printing
// action: exactly html/template's HTML text escaper is right; another
// escaper means another context; a func of the template in between turns
// the HTML into text, escaped again. Without escapers the template was not
// escaped (it is included only in derived contexts, reported there).
func outputProblem(fn string, after []*parse.CommandNode) (Problem, bool) {
	var funcs, escs []string
	for _, cmd := range after {
		id, ok := cmd.Args[0].(*parse.IdentifierNode)
		switch {
		case ok && strings.HasPrefix(id.Ident, escaperPrefix):
			escs = append(escs, id.Ident)
		case ok:
			funcs = append(funcs, id.Ident)
		default:
			funcs = append(funcs, cmd.String())
		}
	}
	if len(escs) == 0 {
		return Problem{}, false
	}
	context := ""
	for _, e := range escs {
		if c, ok := escapers[e]; ok && c != "" {
			context = c
			break
		}
		if _, ok := escapers[e]; !ok {
			context = strings.TrimPrefix(e, escaperPrefix)
			break
		}
	}
	if context == "comment" {
		return Problem{Context: context, Message: fn + " output lands in an HTML comment, where html/template drops it"}, true
	}
	if context != "" {
		return Problem{Context: context, Message: fmt.Sprintf(
			"%s output lands in %s context, where html/template escapes the fragment's HTML again (%s): render fragments in HTML text only",
			fn, context, strings.Join(escs, " | "))}, true
	}
	if len(funcs) > 0 {
		return Problem{Message: fmt.Sprintf(
			"%s output is piped through %s: the fragment's HTML is then escaped as text", fn, strings.Join(funcs, " | "))}, true
	}
	return Problem{}, false
}

// stateContext names the context of a derived template's state
// ("stateAttr_delimDoubleQuote"); "" for HTML text.
func stateContext(state string) string {
	s, _, _ := strings.Cut(state, "_")
	switch {
	case s == "stateText":
		return ""
	case s == "stateURL", s == "stateSrcset":
		return "URL"
	case strings.HasPrefix(s, "stateJS"):
		return "JavaScript"
	case strings.HasPrefix(s, "stateCSS"):
		return "CSS"
	case s == "stateRCDATA":
		return "RCDATA"
	case s == "stateHTMLCmt":
		return "comment"
	case strings.HasPrefix(s, "stateAttr"), s == "stateTag", s == "stateAfterName", s == "stateBeforeValue":
		return "attribute"
	}
	return strings.TrimPrefix(s, "state")
}
