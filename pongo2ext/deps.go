package pongo2ext

import (
	"hash"
	"reflect"
	"slices"
	"strings"

	"github.com/flosch/pongo2/v6"
)

// dependencies writes to h what a block's body renders from other
// templates, so that editing them changes the block's digest: the source
// of every template the body includes by a literal name
// ({% include "card.html" %}, {% ssi "x.html" parsed %}), with the
// templates those include, import or extend, recursively, the macros the
// body imports ({% import "macros.html" card %}), and the files it
// copies ({% ssi "x.txt" %}).
//
// pongo2 parses such templates while it parses the body, but keeps them in
// unexported fields of its nodes, so they are found by walking the parsed
// body with reflection, reading only. A template included by a name
// computed at render time ({% include name %}) is parsed when the block
// renders: it is not part of the digest.
func dependencies(h hash.Hash, body *pongo2.NodeWrapper) {
	w := depWalker{h: h, seen: map[visit]bool{}}
	w.walk(reflect.ValueOf(body))
}

var (
	templatePtr = reflect.TypeFor[*pongo2.Template]()
	setPtr      = reflect.TypeFor[*pongo2.TemplateSet]()
	ecPtr       = reflect.TypeFor[*pongo2.ExecutionContext]()
	tokenPtr    = reflect.TypeFor[*pongo2.Token]()
	valueType   = reflect.TypeFor[reflect.Value]()
	pongo2Path  = templatePtr.Elem().PkgPath()
)

// maxDepSteps bounds the walk of one body.
const maxDepSteps = 1 << 20

type visit struct {
	t     reflect.Type
	p     uintptr
	macro bool
}

type depWalker struct {
	h     hash.Hash
	seen  map[visit]bool
	macro int // > 0 inside imported macros, whose tokens are hashed
	steps int
}

func (w *depWalker) walk(v reflect.Value) {
	if w.steps++; w.steps > maxDepSteps {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		switch v.Type() {
		case setPtr, ecPtr:
			return
		case tokenPtr:
			if w.macro > 0 {
				t := v.Elem()
				hashTokenParts(w.h, int(t.FieldByName("Typ").Int()), t.FieldByName("TrimWhitespaces").Bool(), t.FieldByName("Val").String())
			}
			return
		}
		k := visit{v.Type(), v.Pointer(), w.macro > 0}
		if w.seen[k] {
			return
		}
		w.seen[k] = true
		if v.Type() == templatePtr {
			w.template(v.Elem())
			return
		}
		w.walk(v.Elem())
	case reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem())
		}
	case reflect.Struct:
		t := v.Type()
		if t == valueType {
			return
		}
		if t.PkgPath() == pongo2Path {
			switch t.Name() {
			case "tagImportNode":
				w.imports(v)
				return
			case "tagSSINode":
				if content := v.FieldByName("content"); content.Kind() == reflect.String {
					hashTokenParts(w.h, -4, false, content.String())
				}
			}
		}
		for i := range v.NumField() {
			w.walk(v.Field(i))
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			w.walk(v.Index(i))
		}
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			if w.macro > 0 {
				hashTokenParts(w.h, -1, false, k.String())
			}
			w.walk(v.MapIndex(k))
		}
	}
}

// template hashes the source of an included template and walks what it
// includes and extends.
func (w *depWalker) template(t reflect.Value) {
	if src := t.FieldByName("tpl"); src.Kind() == reflect.String {
		hashTokenParts(w.h, -2, false, src.String())
	}
	w.walk(t.FieldByName("root"))
	w.walk(t.FieldByName("parent"))
}

// imports hashes the macros an {% import %} brings in: their names and
// every token their nodes hold.
func (w *depWalker) imports(node reflect.Value) {
	hashTokenParts(w.h, -3, false, "import")
	w.macro++
	w.walk(node.FieldByName("macros"))
	w.macro--
}
