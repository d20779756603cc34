package dogpile_test

// Tests of ToStr, the text of an argument in a function's key: Python's
// str() where Python has the type, so that Go and Python processes sharing
// a cache compute the same keys. The expected texts are hard-coded and,
// when a Python 3 interpreter is at hand, checked against it.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/internal/python"
)

// pyTestStr prints str() of each Python expression it reads.
const pyTestStr = `
import json, sys
from dataclasses import make_dataclass
env = {"inf": float("inf"), "nan": float("nan"), "make_dataclass": make_dataclass}
print(json.dumps([str(eval(e, env)) for e in json.load(sys.stdin)]))
`

// tostrTenth and tostrFifth are variables, so that their sum is computed
// in float64 as Python computes it, not folded exactly as a constant.
var tostrTenth, tostrFifth = 0.1, 0.2

type tostrStringer struct{}

func (tostrStringer) String() string { return "stringer!" }

type tostrNamed string

type tostrPoint struct {
	X int
	Y string
}

type tostrError struct{ msg string }

func (e *tostrError) Error() string { return e.msg } // panics on a nil receiver

// tostrPanicker's String method panics on any value.
type tostrPanicker struct{ why string }

func (p tostrPanicker) String() string { panic(p.why) }

// TestToStr ports the old TestToStr to Python's str(): True, None, lists
// with ", ", structs like dataclasses.
func TestToStr(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)
	ch := make(chan int)
	tests := []struct {
		v    any
		want string
	}{
		{"plain", "plain"},
		{"", ""},
		{"m\u00e9il", "méil"},
		{0, "0"},
		{-42, "-42"},
		{int64(1) << 62, "4611686018427387904"},
		{int32(-7), "-7"},
		{int8(-8), "-8"},
		{uint(7), "7"},
		{uint64(18446744073709551615), "18446744073709551615"},
		{uint32(9), "9"},
		{uint8(255), "255"},
		{uintptr(3), "3"},
		{true, "True"},
		{false, "False"},
		{nil, "None"},
		{3.5, "3.5"},
		{float32(0.1), "0.1"},
		{float32(16777216), "16777216.0"},
		{tostrStringer{}, "stringer!"},
		{[]tostrStringer{{}}, "['stringer!']"},
		{tostrNamed("named"), "named"},
		{[]tostrNamed{"a"}, "['a']"},
		{[]int{1, 2}, "[1, 2]"},
		{[]int(nil), "[]"},
		{[2]bool{true, false}, "[True, False]"},
		{map[string]int(nil), "{}"},
		{map[int]bool{2: true, 1: false}, "{1: False, 2: True}"},
		{struct{ A, B int }{1, 2}, "struct(A=1, B=2)"},
		{tostrPoint{1, "a"}, "tostrPoint(X=1, Y='a')"},
		{&tostrPoint{1, "a"}, "tostrPoint(X=1, Y='a')"},
		{[]*tostrPoint{{2, "b"}}, "[tostrPoint(X=2, Y='b')]"},
		{struct{ p *int }{}, "struct(p=<nil>)"},
		{errors.New("boom"), "boom"},
		{[]error{errors.New("it's")}, `["it's"]`},
		{at, "2024-05-06 07:08:09.00000001 +0000 UTC"},
		{[]time.Time{at}, "['2024-05-06 07:08:09.00000001 +0000 UTC']"},
		{time.Second, "1s"},
		{ch, fmt.Sprint(ch)}, // no Python equivalent: as fmt writes it
	}
	for _, tt := range tests {
		if got := mustStr(dogpile.ToStr(tt.v)); got != tt.want {
			t.Errorf("ToStr(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
	// The monotonic clock reading is dropped, so that a time.Now() value
	// and the same instant read back have the same text.
	now := time.Now()
	if got, want := mustStr(dogpile.ToStr(now)), now.Round(0).String(); got != want || strings.Contains(got, "m=") {
		t.Errorf("mustStr(ToStr(time.Now())) = %q, want %q", got, want)
	}
}

// TestToStrPythonParity: the keys of functions given FuncName are those of
// the same Python function cached with cache_on_arguments, whose key
// generator writes each argument with str().
func TestToStrPythonParity(t *testing.T) {
	tests := []struct {
		v    any
		py   string // the Python expression of the same value
		want string
	}{
		{true, "True", "True"},
		{false, "False", "False"},
		{nil, "None", "None"},
		{0, "0", "0"},
		{-12, "-12", "-12"},
		{uint64(18446744073709551615), "18446744073709551615", "18446744073709551615"},
		{2.0, "2.0", "2.0"},
		{123456789.0, "123456789.0", "123456789.0"},
		{1e16, "1e16", "1e+16"},
		{1e15, "1e15", "1000000000000000.0"},
		{9999999999999998.0, "9999999999999998.0", "9999999999999998.0"},
		{1e22, "1e22", "1e+22"},
		{12345678901234567.0, "12345678901234567.0", "1.2345678901234568e+16"},
		{1.5e300, "1.5e300", "1.5e+300"},
		{1e-05, "1e-05", "1e-05"},
		{0.0001, "0.0001", "0.0001"},
		{0.000123, "0.000123", "0.000123"},
		{0.1, "0.1", "0.1"},
		{tostrTenth + tostrFifth, "0.1 + 0.2", "0.30000000000000004"},
		{5e-324, "5e-324", "5e-324"},
		{-2.5, "-2.5", "-2.5"},
		{math.Inf(1), "inf", "inf"},
		{math.Inf(-1), "-inf", "-inf"},
		{math.NaN(), "nan", "nan"},
		{math.Copysign(0, -1), "-0.0", "-0.0"},
		{0.0, "0.0", "0.0"},
		{[]int{1, 2}, "[1, 2]", "[1, 2]"},
		{[]int{}, "[]", "[]"},
		{[]string{"a", "it's"}, `['a', "it's"]`, `['a', "it's"]`},
		{[]string{`it's "q"`}, `['it\'s "q"']`, `['it\'s "q"']`},
		{[]string{`a"b`}, `['a"b']`, `['a"b']`},
		{[]any{[]any{1, []any{2, "x"}}, []any{}}, "[[1, [2, 'x']], []]", "[[1, [2, 'x']], []]"},
		{[]any{nil, true, 1.5, -0.0}, "[None, True, 1.5, 0.0]", "[None, True, 1.5, 0.0]"},
		{[]string{"\n\t\\", "é", "\x7f", "\u200b", "\U0001F600", "\u00a0", "\u00ad", "\u2028", "\u3000", "\u0378", "\x00\x1f"},
			`["\n\t\\", "é", "\x7f", "\u200b", "\U0001F600", "\u00a0", "\u00ad", "\u2028", "\u3000", "\u0378", "\x00\x1f"]`,
			`['\n\t\\', 'é', '\x7f', '\u200b', '😀', '\xa0', '\xad', '\u2028', '\u3000', '\u0378', '\x00\x1f']`},
		{map[string]int{"a": 1}, "{'a': 1}", "{'a': 1}"},
		{map[string]any{"a": 1, "b": []any{1.5, nil}}, "{'a': 1, 'b': [1.5, None]}", "{'a': 1, 'b': [1.5, None]}"},
		{map[int]string{1: "x", 2: "y"}, "{1: 'x', 2: 'y'}", "{1: 'x', 2: 'y'}"},
		{map[string]int{}, "{}", "{}"},
		{[]byte("ab"), "b'ab'", "b'ab'"},
		{[]byte{}, "b''", "b''"},
		{[]byte("it's\n\x00\xff\\"), `b"it's\n\x00\xff\\"`, `b"it's\n\x00\xff\\"`},
		{[]byte(`'"`), `b'\'"'`, `b'\'"'`},
		{"top level", "'top level'", "top level"},
		{"it's \"quoted\"", `'it\'s "quoted"'`, `it's "quoted"`},
		{"é\n", `'é\n'`, "é\n"},
		{tostrPoint{1, "a"}, "make_dataclass('tostrPoint', ['X', 'Y'])(1, 'a')", "tostrPoint(X=1, Y='a')"},
		{[]tostrPoint{{2, "b"}}, "[make_dataclass('tostrPoint', ['X', 'Y'])(2, 'b')]", "[tostrPoint(X=2, Y='b')]"},
	}
	for _, tt := range tests {
		if got := mustStr(dogpile.ToStr(tt.v)); got != tt.want {
			t.Errorf("ToStr(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
	// Through a cached function given FuncName: the key of a Python
	// function of module tests.parity named f.
	r := dogpile.NewRegion()
	f := dogpile.Cache1(r, func(context.Context, any) (int, error) { return 0, nil }, dogpile.FuncName("tests.parity", "f"))
	for _, tt := range tests {
		if got, want := mustKey(f.Key(tt.v)), "tests.parity:f|"+tt.want; got != want {
			t.Errorf("Key(%#v) = %q, want %q", tt.v, got, want)
		}
	}

	py := python.Interpreter(t)
	exprs := make([]string, len(tests))
	for i, tt := range tests {
		exprs[i] = tt.py
	}
	var strs []string
	python.RunJSON(t, py, pyTestStr, exprs, &strs)
	if len(strs) != len(tests) {
		t.Fatalf("%s printed %d values for %d expressions", py, len(strs), len(tests))
	}
	for i, tt := range tests {
		if strs[i] != tt.want {
			t.Errorf("Python str(%s) = %q; the table says %q", tt.py, strs[i], tt.want)
		}
	}
}

// TestToStrNilPointerWithStringMethod: a nil pointer whose type has a
// String method that would dereference it is written "<nil>", as
// fmt.Sprint writes it, at the top and inside slices, structs and maps; a
// String method that panics on a value is an error, not a text that
// values panicking alike would share (TestToStrPanickingStringMethod).
func TestToStrNilPointerWithStringMethod(t *testing.T) {
	var nilURL *url.URL
	var nilErr *tostrError
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"*url.URL", nilURL, "<nil>"},
		{"fmt agrees", nilURL, fmt.Sprint(nilURL)},
		{"error with a pointer receiver", nilErr, "<nil>"},
		{"in a slice", []*url.URL{nil, {Scheme: "https", Host: "x"}}, "[<nil>, 'https://x']"},
		{"in a struct", struct {
			U *url.URL
			E error
		}{E: nilErr}, "struct(U=<nil>, E=<nil>)"},
		{"in a map", map[string]*url.URL{"a": nil}, "{'a': <nil>}"},
		{"in a []any", []any{nilURL, nilErr}, "[<nil>, <nil>]"},
		{"pointer to a nil pointer", &nilURL, "<nil>"},
		{"non-nil", &url.URL{Scheme: "https", Host: "example.com", Path: "/a b"}, "https://example.com/a%20b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("ToStr panicked: %v", p)
					}
				}()
				got = mustStr(dogpile.ToStr(tt.v))
			}()
			if got != tt.want {
				t.Errorf("ToStr = %q, want %q", got, tt.want)
			}
		})
	}
	if got := fmt.Sprint(tostrPanicker{"boom"}); !strings.Contains(got, "PANIC") || !strings.Contains(got, "boom") {
		t.Errorf("fmt writes a panicking String method as %q", got)
	}

	// Through a cached function taking a *url.URL: Key and Call work for
	// nil.
	ctx := context.Background()
	r := dogpile.NewRegion()
	if err := r.Configure(memory.Name, dogpile.Config{}); err != nil {
		t.Fatal(err)
	}
	var calls int
	f := dogpile.Cache1(r, func(_ context.Context, u *url.URL) (string, error) {
		calls++
		if u == nil {
			return "none", nil
		}
		return u.Host, nil
	}, dogpile.FuncName("app", "host"))
	if got, want := mustKey(f.Key(nil)), "app:host|<nil>"; got != want {
		t.Errorf("Key(nil) = %q, want %q", got, want)
	}
	for range 2 {
		if v, err := f.Call(ctx, nil); err != nil || v != "none" {
			t.Fatalf("Call(nil) = %q, %v", v, err)
		}
	}
	if v, err := f.Call(ctx, &url.URL{Host: "h"}); err != nil || v != "h" {
		t.Errorf("Call(&url.URL{Host: h}) = %q, %v", v, err)
	}
	if calls != 2 {
		t.Errorf("function ran %d times, want 2 (nil cached)", calls)
	}
}

// TestToStrCycleLikePython: a list or a dict holding itself is written as
// Python writes it, "[...]" and "{...}" for the repeat, so that its key is
// short and does not grow exponentially with the references to itself.
func TestToStrCycleLikePython(t *testing.T) {
	list := []any{1, 2, nil}
	list[2] = list
	dict := map[string]any{"a": 1}
	dict["b"] = dict
	twice := make([]any, 2)
	twice[0], twice[1] = twice, twice
	type node struct {
		Name   string
		Parent *node
		Kids   []*node
	}
	root := &node{Name: "r"}
	root.Kids = []*node{{Name: "a", Parent: root}, {Name: "b", Parent: root}}
	tests := []struct {
		name string
		v    any
		want string // Python's, where Python has it
		max  int    // else a bound on the length
	}{
		{"list", list, "[1, 2, [...]]", 0},
		{"dict", dict, "{'a': 1, 'b': {...}}", 0},
		{"two references", twice, "[[...], [...]]", 0},
		{"tree with parent pointers", root, "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustStr(dogpile.ToStr(tt.v))
			if tt.want != "" && got != tt.want {
				t.Errorf("ToStr = %.120q… (%d bytes), want %q", got, len(got), tt.want)
			}
			if tt.max > 0 && len(got) > tt.max {
				t.Errorf("ToStr = %.120q… (%d bytes), want at most %d bytes", got, len(got), tt.max)
			}
		})
	}
	py := python.Interpreter(t)
	var strs []string
	python.RunJSON(t, py, `
import json, sys
l = [1, 2]; l.append(l)
d = {"a": 1}; d["b"] = d
t = [None, None]; t[0] = t; t[1] = t
print(json.dumps([str(l), str(d), str(t)]))
`, nil, &strs)
	for i, want := range []string{tests[0].want, tests[1].want, tests[2].want} {
		if strs[i] != want {
			t.Errorf("Python writes %q; the table says %q", strs[i], want)
		}
	}
}

// TestToStrMapSameKeyTextDeterministic: a map whose keys have the same
// text (NaN keys, pointers to equal values) has one text, whatever the
// order Go iterates it in: a key must not change between calls.
func TestToStrMapSameKeyTextDeterministic(t *testing.T) {
	a, b := 1, 1
	for _, v := range []any{
		map[float64]string{math.NaN(): "a", math.NaN(): "b"},
		map[*int]string{&a: "x", &b: "y"},
	} {
		first := mustStr(dogpile.ToStr(v))
		for range 100 {
			if got := mustStr(dogpile.ToStr(v)); got != first {
				t.Errorf("ToStr(%v) = %q, then %q", v, first, got)
				break
			}
		}
	}
}

// tostrFuzzNode is a struct the fuzz builder fills.
type tostrFuzzNode struct {
	Name string
	Next *tostrFuzzNode
	Any  any
	err  error
}

// tostrBuilder builds values from fuzz input.
type tostrBuilder struct {
	data  []byte
	depth int
}

func (b *tostrBuilder) byte() byte {
	if len(b.data) == 0 {
		return 0
	}
	c := b.data[0]
	b.data = b.data[1:]
	return c
}

func (b *tostrBuilder) bytes(n int) []byte {
	n = min(n, len(b.data))
	out := b.data[:n]
	b.data = b.data[n:]
	return out
}

func (b *tostrBuilder) str() string { return string(b.bytes(int(b.byte() % 24))) }

func (b *tostrBuilder) u64() uint64 {
	var buf [8]byte
	copy(buf[:], b.bytes(8))
	return binary.LittleEndian.Uint64(buf[:])
}

// key returns a comparable value for a map key.
func (b *tostrBuilder) key() any {
	switch b.byte() % 6 {
	case 0:
		return int(b.u64())
	case 1:
		return math.Float64frombits(b.u64())
	case 2:
		return b.byte()&1 == 1
	case 3:
		return nil
	case 4:
		return (*url.URL)(nil)
	}
	return b.str()
}

func (b *tostrBuilder) value() any {
	if b.depth > 6 || len(b.data) == 0 {
		return b.str()
	}
	b.depth++
	defer func() { b.depth-- }()
	switch b.byte() % 18 {
	case 0:
		return b.str()
	case 1:
		return int64(b.u64())
	case 2:
		return math.Float64frombits(b.u64())
	case 3:
		return math.Float32frombits(uint32(b.u64()))
	case 4:
		return b.byte()&1 == 1
	case 5:
		return nil
	case 6:
		s := make([]any, b.byte()%4)
		for i := range s {
			s[i] = b.value()
		}
		return s
	case 7:
		m := map[string]any{}
		for range b.byte() % 4 {
			m[b.str()] = b.value()
		}
		return m
	case 8:
		m := map[any]any{}
		for range b.byte() % 4 {
			m[b.key()] = b.value()
		}
		return m
	case 9:
		v := b.value()
		return &v
	case 10:
		return (*url.URL)(nil)
	case 11:
		u, err := url.Parse(b.str())
		if err != nil {
			return err
		}
		return u
	case 12:
		return []byte(b.str())
	case 13:
		return tostrPanicker{b.str()}
	case 14:
		n := &tostrFuzzNode{Name: b.str(), Any: b.value()}
		if b.byte()&1 == 1 {
			n.Next = n // a cycle of one reference
		}
		if b.byte()&1 == 1 {
			n.err = (*tostrError)(nil)
		}
		return n
	case 15:
		return []string{b.str(), b.str()}
	case 16:
		s := []any{b.value(), nil}
		s[1] = s // a cycle of one reference
		return s
	}
	return []*tostrError{nil, {b.str()}}
}

// FuzzToStrNoPanic: ToStr never panics, whatever it is given, and a
// cached function's key is its prefix and ToStr's text.
// TestToStrPanickingStringMethod: a String method that panics is an error
// wrapping ErrInvalidArgument, never a panic out of ToStr and never a
// text two different values could share; a panic whose value panics when
// printed too.
func TestToStrPanickingStringMethod(t *testing.T) {
	for name, v := range map[string]any{
		"at the top":         tostrPanicker{"boom"},
		"in a slice":         []tostrPanicker{{"boom"}},
		"in a struct":        struct{ P tostrPanicker }{tostrPanicker{"boom"}},
		"panics with a bomb": tostrBombStringer{},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := dogpile.ToStr(v)
			if !errors.Is(err, dogpile.ErrInvalidArgument) {
				t.Errorf("ToStr = %q, %v; want an error wrapping ErrInvalidArgument", s, err)
			}
		})
	}
	r := dogpile.NewRegion()
	f := dogpile.Cache1(r, func(context.Context, tostrPanicker) (int, error) { return 0, nil })
	if _, err := f.Call(context.Background(), tostrPanicker{"boom"}); !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Errorf("Call = %v; want an error wrapping ErrInvalidArgument", err)
	}
}

// tostrBomb is a panic value whose Error method panics too.
type tostrBomb struct{}

func (tostrBomb) Error() string { panic("again") }

// tostrBombStringer's String method panics with a tostrBomb.
type tostrBombStringer struct{}

func (tostrBombStringer) String() string { panic(tostrBomb{}) }

// TestToStrBounded: a value that shares its parts, exponentially larger
// written out than in memory, is an error within the bounds, not a hang.
func TestToStrBounded(t *testing.T) {
	v := any(1)
	for range 30 {
		v = []any{v, v, v, v}
	}
	s, err := dogpile.ToStr(v)
	if !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Errorf("ToStr of 4^30 values = %d bytes, %v; want an error wrapping ErrInvalidArgument", len(s), err)
	}
}

func FuzzToStrNoPanic(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		[]byte("\x00\x05hello"),
		[]byte("\x06\x03\x04\x01\x05\x0a"),
		[]byte("\x07\x02\x01ka\x05\x01kb\x0a"),
		[]byte("\x0b\x10http://[::1]:namedport"),
		[]byte("\x0e\x03abc\x10\x00\x01\x01"),
		[]byte("\x02\x00\x00\x00\x00\x00\x00\xf8\x7f"),
		[]byte("\x09\x09\x09\x0a"),
		[]byte("\x0d\x04boom"),
		[]byte("\x11\x03err"),
		[]byte("\x08\x03\x01\x00\x00\x00\x00\x00\x00\xf8\x7f\x04\x03\x04\x05"),
		[]byte("\x10\x06\x02\x04\x01\x04\x00"),
	} {
		f.Add(seed)
	}
	r := dogpile.NewRegion()
	fn := dogpile.Cache1(r, func(context.Context, any) (int, error) { return 0, nil }, dogpile.FuncName("p", "f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := &tostrBuilder{data: data}
		v := b.value()
		got, err := dogpile.ToStr(v)
		if s, ok := v.(string); ok && got != s {
			t.Fatalf("ToStr(%q) = %q, want the string itself", s, got)
		}
		key, kerr := fn.Key(v)
		if (err == nil) != (kerr == nil) {
			t.Fatalf("ToStr error %v, Key error %v: want both or neither", err, kerr)
		}
		if err == nil && key != "p:f|"+got {
			t.Fatalf("Key = %q, want %q", key, "p:f|"+got)
		}
	})
}
