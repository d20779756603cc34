package htmltmpl

import (
	"encoding/binary"
	"html/template"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/template/parse"

	"github.com/dogpilego/dogpile/tmplcache"
)

// walk calls visit for n and every node below it, in source order. visit
// may replace the arguments of a command it is given: walk descends into
// the new ones.
func walk(n parse.Node, visit func(parse.Node)) {
	if n == nil {
		return
	}
	visit(n)
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return
		}
		for _, c := range x.Nodes {
			walk(c, visit)
		}
	case *parse.ActionNode:
		walkPipe(x.Pipe, visit)
	case *parse.IfNode:
		walkBranch(&x.BranchNode, visit)
	case *parse.RangeNode:
		walkBranch(&x.BranchNode, visit)
	case *parse.WithNode:
		walkBranch(&x.BranchNode, visit)
	case *parse.TemplateNode:
		walkPipe(x.Pipe, visit)
	case *parse.PipeNode:
		walkPipe(x, visit)
	case *parse.CommandNode:
		for _, a := range x.Args {
			walk(a, visit)
		}
	case *parse.ChainNode:
		walk(x.Node, visit)
	}
}

func walkPipe(p *parse.PipeNode, visit func(parse.Node)) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		walk(c, visit)
	}
}

func walkBranch(b *parse.BranchNode, visit func(parse.Node)) {
	walkPipe(b.Pipe, visit)
	if b.List != nil {
		walk(b.List, visit)
	}
	if b.ElseList != nil {
		walk(b.ElseList, visit)
	}
}

// Bind rewrites each {{ cached "name" data vary... }} whose name is a
// string constant into a call of a func bound to that fragment, so that a
// hit neither evaluates the name nor looks the fragment up:
// {{ _htmltmpl_cached__22name_22 data }} without vary values (a func of
// one argument, not variadic, which text/template calls faster) and
// {{ _htmltmpl_cachedv__22name_22 data vary... }} with them. The
// identifier encodes the name as it was quoted in the source, so that
// restore gives back the very tree that was parsed: digests never see the
// rewriting.
const (
	boundPrefix     = "_htmltmpl_cached_"
	boundVaryPrefix = "_htmltmpl_cachedv_"
)

// boundName returns the identifier of the bound func for a name quoted as
// quoted in the source: letters and digits kept, every other byte as '_'
// and two hex digits.
func boundName(quoted string, vary bool) string {
	b := []byte(boundPrefix)
	if vary {
		b = []byte(boundVaryPrefix)
	}
	const hex = "0123456789abcdef"
	for i := range len(quoted) {
		switch c := quoted[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b = append(b, c)
		default:
			b = append(b, '_', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

// unbound decodes an identifier boundName made: the quoted name and
// whether the call has vary values.
func unbound(ident string) (quoted string, vary, ok bool) {
	rest, ok := strings.CutPrefix(ident, boundPrefix)
	if !ok {
		if rest, ok = strings.CutPrefix(ident, boundVaryPrefix); !ok {
			return "", false, false
		}
		vary = true
	}
	b := make([]byte, 0, len(rest))
	for i := 0; i < len(rest); i++ {
		if rest[i] != '_' {
			b = append(b, rest[i])
			continue
		}
		if i+2 >= len(rest) {
			return "", false, false
		}
		n, err := strconv.ParseUint(rest[i+1:i+3], 16, 8)
		if err != nil {
			return "", false, false
		}
		b = append(b, byte(n))
		i += 2
	}
	return string(b), vary, true
}

// call describes a call of one of the fragment funcs in a parse tree, as
// it was written (before Bind rewrote it).
type call struct {
	fn       string // FuncName, IfFuncName, UnlessFuncName or EachFuncName
	name     string // the fragment's name, when constant
	constant bool
	args     int // the arguments after the func's name
}

// nameArg is the position of the fragment's name among a func's
// arguments (1 is the first).
var nameArg = map[string]int{FuncName: 1, IfFuncName: 2, UnlessFuncName: 2, EachFuncName: 1}

// minArgs is the number of arguments a func needs.
var minArgs = map[string]int{FuncName: 2, IfFuncName: 3, UnlessFuncName: 3, EachFuncName: 3}

// callOf reports whether cmd calls a fragment func, and which.
func callOf(cmd *parse.CommandNode) (call, bool) {
	if len(cmd.Args) == 0 {
		return call{}, false
	}
	id, ok := cmd.Args[0].(*parse.IdentifierNode)
	if !ok {
		return call{}, false
	}
	if quoted, _, ok := unbound(id.Ident); ok {
		name, err := strconv.Unquote(quoted)
		return call{fn: FuncName, name: name, constant: err == nil, args: len(cmd.Args)}, true
	}
	pos, ok := nameArg[id.Ident]
	if !ok {
		return call{}, false
	}
	c := call{fn: id.Ident, args: len(cmd.Args) - 1}
	if len(cmd.Args) > pos {
		if s, ok := cmd.Args[pos].(*parse.StringNode); ok {
			c.name, c.constant = s.Text, true
		}
	}
	return c, true
}

// walkCalls calls visit for each command under n that calls a func: its
// first argument is the func's identifier.
func walkCalls(n parse.Node, visit func(cmd *parse.CommandNode, fn *parse.IdentifierNode)) {
	walk(n, func(n parse.Node) {
		if cmd, ok := n.(*parse.CommandNode); ok && len(cmd.Args) > 0 {
			if id, ok := cmd.Args[0].(*parse.IdentifierNode); ok {
				visit(cmd, id)
			}
		}
	})
}

// rewrite replaces the `cached` calls of tree whose name is a constant
// naming one of known by calls of their bound funcs, and returns the
// identifiers of the bound funcs tree calls, with the quoted names.
func rewrite(tree *parse.Tree, known func(name string) bool) map[string]string {
	idents := map[string]string{}
	walkCalls(tree.Root, func(cmd *parse.CommandNode, id *parse.IdentifierNode) {
		if quoted, _, ok := unbound(id.Ident); ok {
			idents[id.Ident] = quoted
			return
		}
		if id.Ident != FuncName || len(cmd.Args) < 3 {
			return
		}
		s, ok := cmd.Args[1].(*parse.StringNode)
		if !ok || !known(s.Text) {
			return
		}
		ident := boundName(s.Quoted, len(cmd.Args) > 3)
		idents[ident] = s.Quoted
		args := make([]parse.Node, 0, len(cmd.Args)-1)
		args = append(args, parse.NewIdentifier(ident).SetTree(tree).SetPos(id.Pos))
		cmd.Args = append(args, cmd.Args[2:]...)
	})
	return idents
}

// restore undoes rewrite on tree, which must be a copy no template uses
// (the string constants it makes belong to no tree).
func restore(tree *parse.Tree) {
	walkCalls(tree.Root, func(cmd *parse.CommandNode, id *parse.IdentifierNode) {
		quoted, _, ok := unbound(id.Ident)
		if !ok {
			return
		}
		text, err := strconv.Unquote(quoted)
		if err != nil {
			return
		}
		args := make([]parse.Node, 0, len(cmd.Args)+1)
		args = append(args,
			parse.NewIdentifier(FuncName).SetTree(tree).SetPos(id.Pos),
			&parse.StringNode{NodeType: parse.NodeString, Pos: id.Pos, Quoted: quoted, Text: text})
		cmd.Args = append(args, cmd.Args[1:]...)
	})
}

// source is what Bind learns about one template of a set.
type source struct {
	text      string   // the parse tree as parsed, printed
	includes  []string // templates it executes with {{template}} or {{block}}
	fragments []string // constant names of the fragments it renders with the fragment funcs
	hasCached bool     // whether it calls a fragment func at all
}

// analyze reads tree as it was parsed, before any rewriting.
func analyze(tree *parse.Tree) *source {
	tree = tree.Copy()
	restore(tree)
	s := &source{text: tree.Root.String()}
	walk(tree.Root, func(n parse.Node) {
		switch x := n.(type) {
		case *parse.TemplateNode:
			s.includes = append(s.includes, x.Name)
		case *parse.CommandNode:
			if c, ok := callOf(x); ok {
				s.hasCached = true
				if c.constant {
					s.fragments = append(s.fragments, c.name)
				}
			}
		}
	})
	return s
}

// sources analyses every template of t's set that has a parse tree.
func sources(t *template.Template) map[string]*source {
	out := map[string]*source{}
	for _, x := range t.Templates() {
		if x.Tree != nil && x.Tree.Root != nil {
			out[x.Name()] = analyze(x.Tree)
		}
	}
	return out
}

// reach returns name and the templates reachable from it through next,
// sorted.
func reach(srcs map[string]*source, name string, next func(*source) [][]string) []string {
	seen := map[string]bool{name: true}
	queue := []string{name}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		s := srcs[n]
		if s == nil {
			continue
		}
		for _, names := range next(s) {
			for _, m := range names {
				if !seen[m] {
					seen[m] = true
					queue = append(queue, m)
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// digest returns the digest of template name: its parse tree and those of
// every template it includes or renders as a constant-named fragment,
// transitively, so that editing an included template or a nested fragment
// retires the enclosing fragment too.
func digest(srcs map[string]*source, name string) string {
	var b strings.Builder
	part := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		b.Write(n[:])
		b.WriteString(s)
	}
	for _, n := range reach(srcs, name, func(s *source) [][]string { return [][]string{s.includes, s.fragments} }) {
		part(n)
		if s := srcs[n]; s != nil {
			part("defined")
			part(s.text)
		} else {
			part("undefined")
		}
	}
	return tmplcache.Digest(b.String())
}

// nests reports whether executing template name may call a fragment func:
// it or a template it includes does.
func nests(srcs map[string]*source, name string) bool {
	for _, n := range reach(srcs, name, func(s *source) [][]string { return [][]string{s.includes} }) {
		if s := srcs[n]; s != nil && s.hasCached {
			return true
		}
	}
	return false
}
