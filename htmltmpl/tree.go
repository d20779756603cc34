package htmltmpl

import (
	"encoding/binary"
	"html/template"
	"maps"
	"slices"
	"strings"
	"text/template/parse"

	"github.com/dogpilego/dogpile/tmplcache"
)

// walk calls visit for n and every node below it, in source order.
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

// isCachedCall reports whether cmd calls the `cached` func.
func isCachedCall(cmd *parse.CommandNode) bool {
	if len(cmd.Args) == 0 {
		return false
	}
	id, ok := cmd.Args[0].(*parse.IdentifierNode)
	return ok && id.Ident == FuncName
}

// constantName returns the fragment name of a `cached` call when it is a
// string constant.
func constantName(cmd *parse.CommandNode) (string, bool) {
	if len(cmd.Args) < 2 {
		return "", false
	}
	s, ok := cmd.Args[1].(*parse.StringNode)
	if !ok {
		return "", false
	}
	return s.Text, true
}

// source is what Bind learns about one template of a set.
type source struct {
	text      string   // the parse tree, printed
	includes  []string // templates it executes with {{template}} or {{block}}
	fragments []string // constant names of the fragments it renders with `cached`
	hasCached bool     // whether it calls `cached` at all
}

func analyze(tree *parse.Tree) *source {
	s := &source{text: tree.Root.String()}
	walk(tree.Root, func(n parse.Node) {
		switch x := n.(type) {
		case *parse.TemplateNode:
			s.includes = append(s.includes, x.Name)
		case *parse.CommandNode:
			if isCachedCall(x) {
				s.hasCached = true
				if name, ok := constantName(x); ok {
					s.fragments = append(s.fragments, name)
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

// nests reports whether executing template name may call `cached`: it or a
// template it includes does.
func nests(srcs map[string]*source, name string) bool {
	for _, n := range reach(srcs, name, func(s *source) [][]string { return [][]string{s.includes} }) {
		if s := srcs[n]; s != nil && s.hasCached {
			return true
		}
	}
	return false
}
