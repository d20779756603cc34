package tmplcache_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/tmplcache"
)

// TestInvalidationRule: a fragment rendered with one vary value is deleted
// by Invalidate with another exactly when their scalars have the same
// canonical text and their structure is the same: an int in the template
// and its string in the handler, and the other way round; floats, bools,
// nested lists and maps (whose keys are sorted); never two lists that
// split one text differently.
func TestInvalidationRule(t *testing.T) {
	ctx := context.Background()
	type post struct {
		ID    int
		Title string
	}
	for _, tc := range []struct {
		name               string
		rendered, deleting any
		same               bool
	}{
		{"int rendered, string deleting", 7, "7", true},
		{"string rendered, int deleting", "7", 7, true},
		{"int64 rendered, uint8 deleting", int64(7), uint8(7), true},
		{"negative", -7, "-7", true},
		{"other int", 7, "8", false},
		{"float", 2.5, "2.5", true},
		{"string rendered, float deleting", "2.5", 2.5, true},
		{"integral float", 2.0, "2.0", true},
		{"integral float is not an int", 2.0, 2, false},
		{"float32", float32(0.1), "0.1", true},
		{"large float", 1e16, "1e+16", true},
		{"true", true, "True", true},
		{"false", "False", false, true},
		{"bool is not its Go text", true, "true", false},
		{"int list, string list", []int{1, 2}, []string{"1", "2"}, true},
		{"string list, any list", []string{"1", "2"}, []any{1, "2"}, true},
		{"array, slice", [2]int{1, 2}, []int{1, 2}, true},
		{"list order", []int{1, 2}, []int{2, 1}, false},
		{"a b", []string{"a b"}, []string{"a", "b"}, false},
		{"a, b", []string{"a", "b"}, []string{"a b"}, false},
		{"list is not its text", []string{"a", "b"}, "[a b]", false},
		{"nested", []any{[]int{1}, 2}, []any{1, []int{2}}, false},
		{"map keys sorted", map[string]int{"b": 2, "a": 1}, map[string]string{"a": "1", "b": "2"}, true},
		{"map of int keys, string keys", map[int]string{10: "x", 9: "y"}, map[string]string{"9": "y", "10": "x"}, true},
		{"map is not a list", map[string]int{"a": 1}, []any{"a", 1}, false},
		{
			"nested maps and lists",
			map[string]any{"b": []int{1, 2}, "a": map[string]bool{"x": true}},
			map[string]any{"a": map[string]string{"x": "True"}, "b": []string{"1", "2"}},
			true,
		},
		{
			"nested maps, one value differs",
			map[string]any{"b": []int{1, 2}, "a": map[string]bool{"x": true}},
			map[string]any{"a": map[string]string{"x": "True"}, "b": []string{"1", "3"}},
			false,
		},
		{"struct, pointer to it", post{7, "Hi"}, &post{7, "Hi"}, true},
		{"struct field", post{7, "Hi"}, post{8, "Hi"}, false},
		{"struct is not a map", post{7, "Hi"}, map[string]any{"ID": 7, "Title": "Hi"}, false},
		{"time in UTC", time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600)), "2026-01-02T02:04:05.000000006Z", true},
		{"bytes", []byte("a b"), "a b", true},
		{"nil, nil pointer", nil, (*post)(nil), true},
		{"nil is not None", nil, "None", false},
		{"nil is not empty", nil, "", false},
		{"nil slice, empty slice", []int(nil), []string{}, true},
		{"error, its text", errors.New("boom"), "boom", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tmplcache.New(memRegion(t, time.Hour))
			c.Declare(tmplcache.Declaration{Template: "post.html", Name: "body"})
			renders := 0
			render := func(context.Context) (string, error) { renders++; return "<p>" + strconv.Itoa(renders) + "</p>", nil }
			f := tmplcache.Fragment{Template: "post.html", Name: "body", Vary: []any{tc.rendered}}
			if _, err := c.Render(ctx, f, tmplcache.RenderOptions{}, render); err != nil {
				t.Fatal(err)
			}
			k1, err1 := c.KeyFor("post.html", "body", tc.rendered)
			k2, err2 := c.KeyFor("post.html", "body", tc.deleting)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if (k1 == k2) != tc.same {
				t.Errorf("KeyFor %#v = %s, KeyFor %#v = %s; want same %v", tc.rendered, k1, tc.deleting, k2, tc.same)
			}
			if err := c.Invalidate(ctx, "post.html", "body", tc.deleting); err != nil {
				t.Fatal(err)
			}
			html, err := c.Render(ctx, f, tmplcache.RenderOptions{}, render)
			if err != nil {
				t.Fatal(err)
			}
			want := "<p>1</p>" // kept
			if tc.same {
				want = "<p>2</p>" // deleted, so rendered again
			}
			if html != want {
				t.Errorf("after Invalidate with %#v, a fragment rendered with %#v is %q, want %q", tc.deleting, tc.rendered, html, want)
			}
		})
	}
}

// TestNamelessBlocks: a block without a name is named by its place, "#n";
// KeyFor and Invalidate find it by that name, the readable part of its
// key shows it, and names that start with '#' but are not places are
// refused.
func TestNamelessBlocks(t *testing.T) {
	ctx := context.Background()
	region := memRegion(t, time.Hour)
	c := tmplcache.New(region)
	if n := tmplcache.PositionalName(2); n != "#2" {
		t.Fatalf("PositionalName(2) = %q", n)
	}
	for i := 1; i <= 2; i++ {
		c.Declare(tmplcache.Declaration{Template: "blog/post.html", Name: tmplcache.PositionalName(i)})
	}
	second := tmplcache.Fragment{Template: "blog/post.html", Name: "#2", Vary: []any{7}}
	first := tmplcache.Fragment{Template: "blog/post.html", Name: "#1", Vary: []any{7}}
	for _, f := range []tmplcache.Fragment{first, second} {
		if _, err := c.Render(ctx, f, tmplcache.RenderOptions{}, func(context.Context) (string, error) { return f.Name, nil }); err != nil {
			t.Fatal(err)
		}
	}
	key, err := c.KeyFor("blog/post.html", "#2", "7")
	if err != nil || key != c.Key(second) || !strings.HasPrefix(key, "tmpl:blog/post.html:#2:") {
		t.Errorf("KeyFor #2 = %q, %v; want %q, readable", key, err, c.Key(second))
	}
	if err := c.Invalidate(ctx, "blog/post.html", "#2", 7); err != nil {
		t.Fatal(err)
	}
	if stored(t, region, c.Key(second)) || !stored(t, region, c.Key(first)) {
		t.Error("Invalidate of #2 did not delete exactly the second block")
	}
	if c.Key(first) == c.Key(second) || c.Key(first) == c.Key(tmplcache.Fragment{Template: "blog/other.html", Name: "#1", Vary: []any{7}}) {
		t.Error("nameless blocks of different places share a key")
	}
	for _, name := range []string{"#", "#0", "#01", "#-1", "#x", "# 1", "#1a", "#99999999999999999999"} {
		f := tmplcache.Fragment{Template: "t.html", Name: name}
		if k := c.Key(f); k != "" {
			t.Errorf("Key of name %q = %q, want none", name, k)
		}
		_, err := c.Render(ctx, f, tmplcache.RenderOptions{}, func(context.Context) (string, error) { return "x", nil })
		if !errors.Is(err, tmplcache.ErrFragmentName) {
			t.Errorf("Render of name %q: %v, want ErrFragmentName", name, err)
		}
		kf := c.KeyFunc(tmplcache.Declaration{Template: "t.html", Name: name})
		if _, err := kf(""); !errors.Is(err, tmplcache.ErrFragmentName) {
			t.Errorf("KeyFunc of name %q: %v, want ErrFragmentName", name, err)
		}
	}
}

// TestKeyFunc: a KeyFunc gives Key's keys, for every escaping state, with
// and without vary values, and fails as Key does.
func TestKeyFunc(t *testing.T) {
	c := tmplcache.New(nil, tmplcache.WithPrefix("site"))
	d := tmplcache.Declaration{Template: "./blog//post.html", Name: "side", Digest: tmplcache.Digest("x")}
	kf := c.KeyFunc(d)
	for range 2 { // the second time from the memo
		for _, esc := range []string{"", "raw", "js", "css", "a", "b", "c", "d", "e", "f"} {
			for _, vary := range [][]any{nil, {7}, {"a b", []int{1}}} {
				got, err := kf(esc, vary...)
				want := c.Key(tmplcache.Fragment{Template: d.Template, Name: d.Name, Digest: d.Digest, Escape: esc, Vary: vary})
				if err != nil || got != want || want == "" {
					t.Errorf("KeyFunc(%q, %v) = %q, %v; want %q", esc, vary, got, err, want)
				}
			}
		}
	}
	if _, err := kf("", make(chan int)); !errors.Is(err, tmplcache.ErrVaryValue) {
		t.Errorf("KeyFunc of a channel: %v", err)
	}
}

// TestFullKey: Render uses a fragment's FullKey as it is.
func TestFullKey(t *testing.T) {
	ctx := context.Background()
	region := memRegion(t, time.Hour)
	c := tmplcache.New(region)
	f := tmplcache.Fragment{Template: "t.html", Name: "f"}
	f.FullKey = c.Key(f)
	if _, err := c.Render(ctx, f, tmplcache.RenderOptions{}, func(context.Context) (string, error) { return "x", nil }); err != nil {
		t.Fatal(err)
	}
	if !stored(t, region, c.Key(tmplcache.Fragment{Template: "t.html", Name: "f"})) {
		t.Error("the fragment is not under its key")
	}
	g := tmplcache.Fragment{Template: "t.html", Name: "g", FullKey: "tmpl:elsewhere"}
	if _, err := c.Render(ctx, g, tmplcache.RenderOptions{}, func(context.Context) (string, error) { return "y", nil }); err != nil {
		t.Fatal(err)
	}
	if !stored(t, region, "tmpl:elsewhere") {
		t.Error("Render did not use FullKey")
	}
}

// TestEscapeStaysInTheKey: with the structural encoding, the escaping
// state still tells fragments apart, for Render, RenderEach and
// Invalidate, with and without vary values.
func TestEscapeStaysInTheKey(t *testing.T) {
	ctx := context.Background()
	region := memRegion(t, time.Hour)
	c := tmplcache.New(region)
	c.DeclareEscape("off")
	c.Declare(tmplcache.Declaration{Template: "t.html", Name: "f"})
	for _, vary := range [][]any{nil, {"<b>"}} {
		on := tmplcache.Fragment{Template: "t.html", Name: "f", Vary: vary}
		off := on
		off.Escape = "off"
		if c.Key(on) == c.Key(off) {
			t.Fatalf("vary %v: escaped and unescaped fragments share a key", vary)
		}
		esc, err := c.Render(ctx, on, tmplcache.RenderOptions{}, func(context.Context) (string, error) { return "&lt;b&gt;", nil })
		if err != nil {
			t.Fatal(err)
		}
		raw, err := c.RenderEach(ctx, []tmplcache.Fragment{off}, tmplcache.RenderOptions{}, func(context.Context, int) (string, error) { return "<b>", nil })
		if err != nil {
			t.Fatal(err)
		}
		again, _ := c.Render(ctx, on, tmplcache.RenderOptions{}, func(context.Context) (string, error) { return "wrong", nil })
		if esc != "&lt;b&gt;" || raw[0] != "<b>" || again != esc {
			t.Errorf("vary %v: escaped %q, unescaped %q, escaped again %q", vary, esc, raw[0], again)
		}
		if err := c.Invalidate(ctx, "t.html", "f", vary...); err != nil {
			t.Fatal(err)
		}
		if stored(t, region, c.Key(on)) || stored(t, region, c.Key(off)) {
			t.Errorf("vary %v: Invalidate left an escaping state", vary)
		}
	}
}

// Stringers of the fuzz values.
type fuzzStringer string

func (s fuzzStringer) String() string { return "S(" + string(s) + ")" }

// Two struct types of one shape: structs are encoded by their fields, not
// their type's name.
type (
	fuzzP struct {
		A any
		B string
	}
	fuzzQ struct {
		A any
		B string
	}
)

// fuzzValue builds a value from data, as a small program: each byte picks
// what comes next. It returns the value and what is left of data.
func fuzzValue(data []byte, depth int) (any, []byte) {
	if len(data) == 0 {
		return "", data
	}
	op, data := data[0], data[1:]
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	text := func() string {
		const alphabet = "ab :,7True'[]"
		n := int(next() % 5)
		var b strings.Builder
		for range n {
			b.WriteByte(alphabet[int(next())%len(alphabet)])
		}
		return b.String()
	}
	if depth > 4 {
		op %= 6 // scalars only
	}
	count := func() int { return int(next() % 4) }
	switch op % 17 {
	case 0:
		return text(), data
	case 1:
		return int(int8(next())) % 10, data
	case 2:
		switch next() % 3 {
		case 0:
			return int64(next() % 10), data
		case 1:
			return uint8(next() % 10), data
		}
		return strconv.Itoa(int(next() % 10)), data
	case 3:
		return []float64{2.0, 2.5, 0.1, math.Copysign(0, -1), 1e16, math.NaN(), math.Inf(1), 7}[next()%8], data
	case 4:
		if next()%2 == 0 {
			return next()%2 == 0, data
		}
		return []string{"True", "False", "true"}[next()%3], data
	case 5:
		return nil, data
	case 6:
		l := []any{}
		for range count() {
			var v any
			v, data = fuzzValue(data, depth+1)
			l = append(l, v)
		}
		return l, data
	case 7:
		l := []string{}
		for range count() {
			l = append(l, text())
		}
		return l, data
	case 8:
		m := map[string]any{}
		for range count() {
			k := text()
			var v any
			v, data = fuzzValue(data, depth+1)
			m[k] = v
		}
		return m, data
	case 9:
		m := map[any]any{}
		for range count() {
			var k, v any
			k, data = fuzzValue(data, 5) // scalar keys
			if f, ok := k.(float64); ok && math.IsNaN(f) && next()%2 == 0 {
				k = "nan"
			}
			v, data = fuzzValue(data, depth+1)
			m[k] = v
		}
		return m, data
	case 10, 11:
		var a any
		a, data = fuzzValue(data, depth+1)
		if op%17 == 10 {
			return fuzzP{a, text()}, data
		}
		return fuzzQ{a, text()}, data
	case 12:
		var v any
		v, data = fuzzValue(data, depth+1)
		return &v, data
	case 13:
		return []byte(text()), data
	case 14:
		return time.Unix(int64(next()%3), int64(next()%2)).In(time.FixedZone("Z", int(next()%2)*3600)), data
	case 15:
		return fuzzStringer(text()), data
	}
	return [2]int{int(next() % 3), int(next() % 3)}, data
}

// refNode is the reference canonical form of a vary value, built
// independently of the encoder: a scalar's text, none, or a container of
// nodes.
type refNode struct {
	Kind  string // "scalar", "none", "list", "map", "struct"
	Text  string
	Names []string  // a struct's field names
	Kids  []refNode // elements; a map's keys and values, alternating, by key
}

// refCanon canonicalises v as Cache.Key documents it, without cycles
// (fuzz values have none).
func refCanon(v any) (refNode, error) {
	return refValue(reflect.ValueOf(v))
}

func refValue(v reflect.Value) (refNode, error) {
	if !v.IsValid() {
		return refNode{Kind: "none"}, nil
	}
	if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
		return refNode{Kind: "none"}, nil
	}
	if v.CanInterface() {
		switch x := v.Interface().(type) {
		case time.Time:
			return refNode{Kind: "scalar", Text: x.UTC().Format(time.RFC3339Nano)}, nil
		case fmt.Stringer:
			return refNode{Kind: "scalar", Text: x.String()}, nil
		case []byte:
			return refNode{Kind: "scalar", Text: string(x)}, nil
		}
	}
	switch v.Kind() {
	case reflect.String:
		return refNode{Kind: "scalar", Text: v.String()}, nil
	case reflect.Bool:
		return refNode{Kind: "scalar", Text: map[bool]string{true: "True", false: "False"}[v.Bool()]}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return refNode{Kind: "scalar", Text: fmt.Sprint(v.Int())}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return refNode{Kind: "scalar", Text: fmt.Sprint(v.Uint())}, nil
	case reflect.Float64:
		s, err := dogpile.ToStr(v.Float())
		return refNode{Kind: "scalar", Text: s}, err
	case reflect.Pointer, reflect.Interface:
		return refValue(v.Elem())
	case reflect.Slice, reflect.Array:
		n := refNode{Kind: "list", Kids: []refNode{}}
		for i := range v.Len() {
			k, err := refValue(v.Index(i))
			if err != nil {
				return n, err
			}
			n.Kids = append(n.Kids, k)
		}
		return n, nil
	case reflect.Map:
		type kv struct{ k, v refNode }
		var entries []kv
		for it := v.MapRange(); it.Next(); {
			k, err := refValue(it.Key())
			if err != nil {
				return refNode{}, err
			}
			val, err := refValue(it.Value())
			if err != nil {
				return refNode{}, err
			}
			entries = append(entries, kv{k, val})
		}
		slices.SortFunc(entries, func(a, b kv) int { return refCompare(a.k, b.k) })
		n := refNode{Kind: "map", Kids: []refNode{}}
		for i, e := range entries {
			if i > 0 && refCompare(entries[i-1].k, e.k) == 0 {
				return n, errors.New("duplicate key")
			}
			n.Kids = append(n.Kids, e.k, e.v)
		}
		return n, nil
	case reflect.Struct:
		n := refNode{Kind: "struct", Names: []string{}, Kids: []refNode{}}
		for i := range v.NumField() {
			k, err := refValue(v.Field(i))
			if err != nil {
				return n, err
			}
			n.Names = append(n.Names, v.Type().Field(i).Name)
			n.Kids = append(n.Kids, k)
		}
		return n, nil
	}
	return refNode{}, fmt.Errorf("kind %s", v.Kind())
}

// refCompare orders nodes, any total order will do.
func refCompare(a, b refNode) int {
	if c := strings.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	if c := strings.Compare(a.Text, b.Text); c != 0 {
		return c
	}
	if c := slices.Compare(a.Names, b.Names); c != 0 {
		return c
	}
	return slices.CompareFunc(a.Kids, b.Kids, refCompare)
}

// FuzzVaryNoCollision: two values built from the fuzzer's input have one
// key exactly when their reference canonical forms are equal, and a key
// exactly when they have a reference form.
func FuzzVaryNoCollision(f *testing.F) {
	for _, seed := range [][2]string{
		{"\x07\x01\x03\x00\x01a", "\x07\x02\x01\x00\x01\x01"}, // ["a b"] against ["a","b"]-like lists
		{"\x01\x07", "\x02\x02\x07"},                          // 7 against "7"
		{"\x09\x02\x01\x07\x05\x02\x02\x07\x05", ""},          // {7: nil, "7": nil}
		{"\x0a\x01\x03\x01\x02", "\x0b\x01\x03\x01\x02"},      // P and Q of one shape
		{"\x03\x05", "\x03\x05"},                              // NaN
		{"\x06\x03\x06\x01\x05\x06\x00", "\x06\x02\x06\x01\x05\x06\x00\x05"},
		{"\x0e\x01\x01\x01", "\x0e\x01\x01\x00"}, // one time in two zones
		{"\x0f\x02\x00\x01", "\x00\x02\x00\x01"}, // a Stringer against a string
	} {
		f.Add([]byte(seed[0]), []byte(seed[1]))
	}
	c := tmplcache.New(nil)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		va, _ := fuzzValue(a, 0)
		vb, _ := fuzzValue(b, 0)
		ra, erra := refCanon(va)
		rb, errb := refCanon(vb)
		ka := c.Key(tmplcache.Fragment{Template: "t", Name: "f", Vary: []any{va}})
		kb := c.Key(tmplcache.Fragment{Template: "t", Name: "f", Vary: []any{vb}})
		if (erra == nil) != (ka != "") || (errb == nil) != (kb != "") {
			t.Fatalf("%#v: key %q, reference %v; %#v: key %q, reference %v", va, ka, erra, vb, kb, errb)
		}
		if erra != nil || errb != nil {
			return
		}
		if same := reflect.DeepEqual(ra, rb); same != (ka == kb) {
			t.Fatalf("%#v and %#v: same canonical form %v, keys %s and %s\nforms %+v\n      %+v", va, vb, same, ka, kb, ra, rb)
		}
	})
}
