package dogpile_test

// Tests of the key generators, ported from dogpile.cache's
// tests/cache/test_decorator.py (KeyGenerationTest), and checked against
// dogpile.cache itself when it is installed. Go has no keyword arguments;
// pyconfig.KwargKeyGenerator, tested in its package, orders positional
// arguments by the names declared with ArgNames.

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/internal/python"
)

// keysTestOne is the FuncInfo of test_decorator.py's one(a, b).
var keysTestOne = dogpile.FuncInfo{Package: "tests.cache.test_decorator", Name: "one"}

func keysTestInfo(namespace *string, toStr func(any) (string, error)) dogpile.FuncInfo {
	info := keysTestOne
	if namespace != nil {
		info.Namespace, info.HasNamespace = *namespace, true
	}
	info.ToStr = toStr
	return info
}

func keysTestNS(s string) *string { return &s }

func TestFunctionKeyGenerator(t *testing.T) {
	tests := []struct {
		name      string
		namespace *string
		toStr     func(any) (string, error)
		args      []any
		want      string
	}{
		{"test_keygen_fn", nil, nil, []any{1, 2}, "tests.cache.test_decorator:one|1 2"},
		{"test_keygen_fn None", nil, nil, []any{nil, 5}, "tests.cache.test_decorator:one|None 5"},
		{"test_keygen_fn_namespace", keysTestNS("mynamespace"), nil, []any{1, 2}, "tests.cache.test_decorator:one|mynamespace|1 2"},
		{"test_keygen_fn_namespace None", keysTestNS("mynamespace"), nil, []any{nil, 5}, "tests.cache.test_decorator:one|mynamespace|None 5"},
		{"empty namespace", keysTestNS(""), nil, []any{1, 2}, "tests.cache.test_decorator:one||1 2"},
		{"test_unicode_key", keysTestNS("mynamespace"), nil, []any{"méil", "drôle"}, "tests.cache.test_decorator:one|mynamespace|m\u00e9il dr\u00f4le"},
		{"no arguments: trailing pipe", nil, nil, nil, "tests.cache.test_decorator:one|"},
		{"one argument", nil, nil, []any{"x"}, "tests.cache.test_decorator:one|x"},
		{"three arguments", nil, nil, []any{"a", true, int64(-3)}, "tests.cache.test_decorator:one|a True -3"},
		{"floats as Python", nil, nil, []any{2.0, 1e16}, "tests.cache.test_decorator:one|2.0 1e+16"},
		{"not escaped", nil, nil, []any{"a|b c"}, "tests.cache.test_decorator:one|a|b c"},
		{"custom toStr", nil, func(v any) (string, error) { s, err := dogpile.ToStr(v); return "<" + s + ">", err }, []any{1, "x"}, "tests.cache.test_decorator:one|<1> <x>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gen := dogpile.FunctionKeyGenerator(keysTestInfo(tt.namespace, tt.toStr))
			if got := mustKey(gen(tt.args...)); got != tt.want {
				t.Errorf("key = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFunctionMultiKeyGenerator(t *testing.T) {
	tests := []struct {
		name      string
		namespace *string
		args      []any
		want      []string
	}{
		{"test_multi_keygen_fn", nil, []any{1, 2}, []string{"tests.cache.test_decorator:one|1", "tests.cache.test_decorator:one|2"}},
		{"test_unicode_key_multi", keysTestNS("mynamespace"), []any{"méil", "drôle"},
			[]string{"tests.cache.test_decorator:one|mynamespace|m\u00e9il", "tests.cache.test_decorator:one|mynamespace|dr\u00f4le"}},
		{"empty namespace", keysTestNS(""), []any{nil, false}, []string{"tests.cache.test_decorator:one||None", "tests.cache.test_decorator:one||False"}},
		{"none", nil, nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gen := dogpile.FunctionMultiKeyGenerator(keysTestInfo(tt.namespace, nil))
			if got := mustKey(gen(tt.args...)); !slices.Equal(got, tt.want) {
				t.Errorf("keys = %q, want %q", got, tt.want)
			}
		})
	}
}

// pyTestKeys builds keys with dogpile.cache's function_key_generator and
// function_multi_key_generator for functions of the given module and name.
const pyTestKeys = `
import json, sys
from dataclasses import make_dataclass
from dogpile.cache.util import function_key_generator, function_multi_key_generator
env = {"inf": float("inf"), "nan": float("nan"), "make_dataclass": make_dataclass}
out = []
for c in json.load(sys.stdin):
    def fn(*args):
        pass
    fn.__module__, fn.__name__ = c["module"], c["name"]
    gen = function_multi_key_generator if c["multi"] else function_key_generator
    out.append(gen(c["namespace"], fn)(*[eval(a, env) for a in c["args"]]))
print(json.dumps(out))
`

// keysTestPyCase is one key built on both sides.
type keysTestPyCase struct {
	Module    string   `json:"module"`
	Name      string   `json:"name"`
	Namespace *string  `json:"namespace"`
	Multi     bool     `json:"multi"`
	Args      []string `json:"args"` // Python expressions
	goKeys    func() []string
}

type keysTestPoint struct {
	X int
	Y string
}

// TestKeysMatchPythonDogpile: the keys of Cache1, Cache2, Cache3 and
// CacheMulti given FuncName are those dogpile.cache's default key
// generators build for a Python function of that module and name.
func TestKeysMatchPythonDogpile(t *testing.T) {
	r := dogpile.NewRegion()
	noop := func(context.Context, any) (int, error) { return 0, nil }
	noop2 := func(context.Context, any, any) (int, error) { return 0, nil }
	opts := func(ns *string) []dogpile.FuncOption {
		o := []dogpile.FuncOption{dogpile.FuncName("myapp.users", "load_user")}
		if ns != nil {
			o = append(o, dogpile.Namespace(*ns))
		}
		return o
	}
	one := func(ns *string, v any) func() []string {
		return func() []string { return []string{mustKey(dogpile.Cache1(r, noop, opts(ns)...).Key(v))} }
	}
	two := func(ns *string, a, b any) func() []string {
		return func() []string { return []string{mustKey(dogpile.Cache2(r, noop2, opts(ns)...).Key(a, b))} }
	}
	cases := []keysTestPyCase{
		{Args: []string{"42"}, goKeys: one(nil, 42)},
		{Args: []string{"'alice'"}, goKeys: one(nil, "alice")},
		{Args: []string{"'a b'"}, goKeys: one(nil, "a b")},
		{Args: []string{"None"}, goKeys: one(nil, nil)},
		{Args: []string{"True"}, goKeys: one(nil, true)},
		{Args: []string{"2.0"}, goKeys: one(nil, 2.0)},
		{Args: []string{"1e16"}, goKeys: one(nil, 1e16)},
		{Args: []string{"1e-05"}, goKeys: one(nil, 1e-05)},
		{Args: []string{"inf"}, goKeys: one(nil, math.Inf(1))},
		{Args: []string{"nan"}, goKeys: one(nil, math.NaN())},
		{Args: []string{"[1, 'a', None]"}, goKeys: one(nil, []any{1, "a", nil})},
		{Args: []string{"{'a': [1.5]}"}, goKeys: one(nil, map[string][]float64{"a": {1.5}})},
		{Args: []string{"b'ab'"}, goKeys: one(nil, []byte("ab"))},
		{Args: []string{"make_dataclass('keysTestPoint', ['X', 'Y'])(1, 'y')"}, goKeys: one(nil, keysTestPoint{1, "y"})},
		{Args: []string{"1", "2"}, goKeys: two(nil, 1, 2)},
		{Args: []string{"'méil'", "'drôle'"}, goKeys: two(nil, "méil", "drôle")},
		{Args: []string{"False", "0.1"}, goKeys: two(nil, false, 0.1)},
		{Namespace: keysTestNS("v2"), Args: []string{"1", "None"}, goKeys: two(keysTestNS("v2"), 1, nil)},
		{Namespace: keysTestNS(""), Args: []string{"1", "2"}, goKeys: two(keysTestNS(""), 1, 2)},
		{Namespace: keysTestNS(""), Args: []string{"7"}, goKeys: one(keysTestNS(""), 7)},
		{Args: []string{"1", "'x'", "-2.5"}, goKeys: func() []string {
			f := dogpile.Cache3(r, func(context.Context, int, string, float64) (int, error) { return 0, nil }, opts(nil)...)
			return []string{mustKey(f.Key(1, "x", -2.5))}
		}},
		{Args: nil, goKeys: func() []string {
			return []string{mustKey(dogpile.Cache0(r, func(context.Context) (int, error) { return 0, nil }, opts(nil)...).Key())}
		}},
		{Args: nil, Namespace: keysTestNS("ns"), goKeys: func() []string {
			return []string{mustKey(dogpile.Cache0(r, func(context.Context) (int, error) { return 0, nil }, opts(keysTestNS("ns"))...).Key())}
		}},
		{Multi: true, Args: []string{"1", "'a'", "None", "2.0"}, goKeys: func() []string {
			f := dogpile.CacheMulti(r, func(context.Context, []any) (map[any]int, error) { return nil, nil }, opts(nil)...)
			return mustKey(f.Keys(1, "a", nil, 2.0))
		}},
		{Multi: true, Namespace: keysTestNS("eur"), Args: []string{"'tea'", "True"}, goKeys: func() []string {
			f := dogpile.CacheMulti(r, func(context.Context, []any) (map[any]int, error) { return nil, nil }, opts(keysTestNS("eur"))...)
			return mustKey(f.Keys("tea", true))
		}},
		{Multi: true, Namespace: keysTestNS(""), Args: []string{"3"}, goKeys: func() []string {
			f := dogpile.CacheMulti(r, func(context.Context, []int) (map[int]int, error) { return nil, nil }, opts(keysTestNS(""))...)
			return mustKey(f.Keys(3))
		}},
	}
	for i := range cases {
		cases[i].Module, cases[i].Name = "myapp.users", "load_user"
		if cases[i].Args == nil {
			cases[i].Args = []string{}
		}
	}
	py := python.Interpreter(t, "dogpile.cache")
	var raw []any
	python.RunJSON(t, py, pyTestKeys, cases, &raw)
	if len(raw) != len(cases) {
		t.Fatalf("%s printed %d keys for %d cases", py, len(raw), len(cases))
	}
	for i, c := range cases {
		var want []string
		switch k := raw[i].(type) {
		case string:
			want = []string{k}
		case []any:
			for _, s := range k {
				want = append(want, s.(string))
			}
		}
		if got := c.goKeys(); !slices.Equal(got, want) {
			t.Errorf("case %d (namespace %v, args %q): Go keys %q, dogpile.cache's %q", i, c.Namespace, c.Args, got, want)
		}
	}
}

// TestNamespaceEmptyMatchesPython: Namespace("") is a namespace, as
// namespace="" is in Python, where only None means none: "mod:f||args".
func TestNamespaceEmptyMatchesPython(t *testing.T) {
	r := dogpile.NewRegion()
	name := dogpile.FuncName("mod", "f")
	empty := dogpile.Namespace("")
	if got, want := mustKey(dogpile.Cache2(r, func(context.Context, int, int) (int, error) { return 0, nil }, name, empty).Key(1, 2)), "mod:f||1 2"; got != want {
		t.Errorf("Cache2 key = %q, want %q", got, want)
	}
	if got, want := mustKey(dogpile.Cache1(r, func(context.Context, string) (int, error) { return 0, nil }, name, empty).Key("x")), "mod:f||x"; got != want {
		t.Errorf("Cache1 key = %q, want %q", got, want)
	}
	if got, want := mustKey(dogpile.Cache0(r, func(context.Context) (int, error) { return 0, nil }, name, empty).Key()), "mod:f||"; got != want {
		t.Errorf("Cache0 key = %q, want %q", got, want)
	}
	m := dogpile.CacheMulti(r, func(context.Context, []int) (map[int]int, error) { return nil, nil }, name, empty)
	if got, want := mustKey(m.Keys(1, 2)), []string{"mod:f||1", "mod:f||2"}; !slices.Equal(got, want) {
		t.Errorf("CacheMulti keys = %q, want %q", got, want)
	}
	// Without Namespace there is no namespace part at all.
	if got, want := mustKey(dogpile.Cache2(r, func(context.Context, int, int) (int, error) { return 0, nil }, name).Key(1, 2)), "mod:f|1 2"; got != want {
		t.Errorf("key without Namespace = %q, want %q", got, want)
	}
	// A later Namespace replaces an earlier one.
	if got, want := mustKey(dogpile.Cache1(r, func(context.Context, int) (int, error) { return 0, nil }, name, dogpile.Namespace("a"), empty).Key(1)), "mod:f||1"; got != want {
		t.Errorf("key with Namespace(a) then Namespace() = %q, want %q", got, want)
	}

	py := python.Interpreter(t, "dogpile.cache")
	var keys []string
	python.RunJSON(t, py, `
import json, sys
from dogpile.cache.util import function_key_generator
def f(a, b):
    pass
f.__module__ = "mod"
print(json.dumps([function_key_generator("", f)(1, 2), function_key_generator(None, f)(1, 2)]))
`, nil, &keys)
	if want := []string{"mod:f||1 2", "mod:f|1 2"}; !slices.Equal(keys, want) {
		t.Errorf("dogpile.cache's keys = %q, want %q", keys, want)
	}
}

// TestKeyGeneratorOption: WithKeyGenerator and WithMultiKeyGenerator
// replace the region's generators; nil is an error of Configure.
func TestKeyGeneratorOption(t *testing.T) {
	for name, opt := range map[string]dogpile.Option{
		"WithKeyGenerator(nil)":      dogpile.WithKeyGenerator(nil),
		"WithMultiKeyGenerator(nil)": dogpile.WithMultiKeyGenerator(nil),
	} {
		r := dogpile.NewRegion(opt)
		if err := r.Configure("dogpile.cache.memory", dogpile.Config{}); err == nil || r.IsConfigured() {
			t.Errorf("%s: Configure = %v, want an error", name, err)
		}
	}
	upper := func(fn dogpile.FuncInfo) func(args ...any) (string, error) {
		return func(args ...any) (string, error) {
			s, err := fn.ToStr(len(args))
			return "K:" + fn.Name + ":" + s, err
		}
	}
	multi := func(fn dogpile.FuncInfo) func(args ...any) ([]string, error) {
		return func(args ...any) ([]string, error) {
			keys := make([]string, len(args))
			for i, a := range args {
				s, err := fn.ToStr(a)
				if err != nil {
					return nil, err
				}
				keys[i] = "M:" + s
			}
			return keys, nil
		}
	}
	r := dogpile.NewRegion(dogpile.WithKeyGenerator(upper), dogpile.WithMultiKeyGenerator(multi))
	f := dogpile.Cache2(r, func(context.Context, int, int) (int, error) { return 0, nil }, dogpile.FuncName("p", "two"))
	if got, want := mustKey(f.Key(5, 6)), "K:two:2"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
	m := dogpile.CacheMulti(r, func(context.Context, []bool) (map[bool]int, error) { return nil, nil })
	if got, want := mustKey(m.Keys(true, false)), []string{"M:True", "M:False"}; !slices.Equal(got, want) {
		t.Errorf("Keys = %q, want %q", got, want)
	}
}
