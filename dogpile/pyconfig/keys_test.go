package pyconfig_test

// Tests of the key generators and manglers, ported from dogpile.cache's
// tests/cache/test_decorator.py (KeyGenerationTest) and checked against
// dogpile.cache itself when it is installed. Go has no keyword arguments:
// KwargKeyGenerator orders positional arguments by the names declared with
// dogpile.ArgNames.

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
	"github.com/dogpilego/dogpile/internal/python"
)

// keysTestOne is the FuncInfo of test_decorator.py's one(a, b).
var keysTestOne = dogpile.FuncInfo{Package: "tests.cache.test_decorator", Name: "one"}

// TestKwargKeyGenerator ports the test_kwarg_kegen_* tests: keys do not
// depend on the order of the parameters, only on their names.
func TestKwargKeyGenerator(t *testing.T) {
	tests := []struct {
		name      string
		namespace *string
		argNames  []string
		args      []any
		want      string
	}{
		{"names in order", nil, []string{"a", "b"}, []any{1, 2}, "tests.cache.test_decorator:one|1 2"},
		{"names reversed", nil, []string{"b", "a"}, []any{2, 1}, "tests.cache.test_decorator:one|1 2"},
		{"None argument", nil, []string{"b", "a"}, []any{nil, 1}, "tests.cache.test_decorator:one|1 None"},
		{"test_kwarg_keygen_fn_namespace", ptr("mynamespace"), []string{"a", "b"}, []any{1, 2}, "tests.cache.test_decorator:one|mynamespace|1 2"},
		{"empty namespace", ptr(""), []string{"b", "a"}, []any{1, 2}, "tests.cache.test_decorator:one||2 1"},
		{"three names", nil, []string{"zeta", "alpha", "mid"}, []any{"z", "a", "m"}, "tests.cache.test_decorator:one|a m z"},
		{"test_unicode_key_kwarg_generator", ptr("mynamespace"), []string{"a", "b"}, []any{"méil", "drôle"},
			"tests.cache.test_decorator:one|mynamespace|m\u00e9il dr\u00f4le"},
		{"Python's text of values", nil, []string{"y", "x"}, []any{true, 2.0}, "tests.cache.test_decorator:one|2.0 True"},
		{"no names: as FunctionKeyGenerator", nil, nil, []any{2, 1}, "tests.cache.test_decorator:one|2 1"},
		{"wrong number of arguments: as FunctionKeyGenerator", nil, []string{"b", "a"}, []any{3}, "tests.cache.test_decorator:one|3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := keysTestOne
			info.ArgNames = tt.argNames
			if tt.namespace != nil {
				info.Namespace, info.HasNamespace = *tt.namespace, true
			}
			gen := pyconfig.KwargKeyGenerator(info)
			if got := mustKey(gen(tt.args...)); got != tt.want {
				t.Errorf("key = %q, want %q", got, tt.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestKwargKeyGeneratorThroughRegion: given to a region, it keys every
// function by its declared argument names.
func TestKwargKeyGeneratorThroughRegion(t *testing.T) {
	r := dogpile.NewRegion(dogpile.WithKeyGenerator(pyconfig.KwargKeyGenerator))
	f := dogpile.Cache2(r, func(_ context.Context, b string, a int) (string, error) { return "", nil },
		dogpile.FuncName("tests.cache.test_decorator", "one"), dogpile.ArgNames("b", "a"))
	if got, want := mustKey(f.Key("x", 1)), "tests.cache.test_decorator:one|1 x"; got != want {
		t.Errorf("Key = %q, want %q (arguments sorted by name)", got, want)
	}
	// Without ArgNames the arguments stay in order.
	g := dogpile.Cache2(r, func(_ context.Context, b string, a int) (string, error) { return "", nil },
		dogpile.FuncName("tests.cache.test_decorator", "two"))
	if got, want := mustKey(g.Key("x", 1)), "tests.cache.test_decorator:two|x 1"; got != want {
		t.Errorf("Key without ArgNames = %q, want %q", got, want)
	}
}

// pyKwargKeys builds keys with dogpile.cache's kwarg_function_key_generator
// for a function of the given parameter names, called positionally.
const pyKwargKeys = `
import json, sys
from dogpile.cache.util import kwarg_function_key_generator
out = []
for c in json.load(sys.stdin):
    env = {}
    exec("def %s(%s):\n    pass" % (c["name"], ", ".join(c["params"])), env)
    fn = env[c["name"]]
    fn.__module__ = c["module"]
    out.append(kwarg_function_key_generator(c["namespace"], fn)(*[eval(a) for a in c["args"]]))
print(json.dumps(out))
`

// TestKwargKeyGeneratorMatchesPython: the keys are those of dogpile.cache's
// kwarg_function_key_generator for a Python function of the same module,
// name and parameter names, called with the same values.
func TestKwargKeyGeneratorMatchesPython(t *testing.T) {
	type pyCase struct {
		Module    string   `json:"module"`
		Name      string   `json:"name"`
		Namespace *string  `json:"namespace"`
		Params    []string `json:"params"`
		Args      []string `json:"args"` // Python expressions
		goArgs    []any
	}
	cases := []pyCase{
		{Params: []string{"a", "b"}, Args: []string{"1", "2"}, goArgs: []any{1, 2}},
		{Params: []string{"b", "a"}, Args: []string{"'x'", "1"}, goArgs: []any{"x", 1}},
		{Params: []string{"zeta", "alpha", "mid"}, Args: []string{"None", "True", "2.0"}, goArgs: []any{nil, true, 2.0}},
		{Namespace: ptr("ns"), Params: []string{"b", "a"}, Args: []string{"[1, 'a']", "1e16"}, goArgs: []any{[]any{1, "a"}, 1e16}},
		{Namespace: ptr(""), Params: []string{"y", "x"}, Args: []string{"'méil'", "'drôle'"}, goArgs: []any{"méil", "drôle"}},
	}
	for i := range cases {
		cases[i].Module, cases[i].Name = "myapp.users", "load"
	}
	py := python.Interpreter(t, "dogpile.cache")
	var keys []string
	python.RunJSON(t, py, pyKwargKeys, cases, &keys)
	if len(keys) != len(cases) {
		t.Fatalf("%s printed %d keys for %d cases", py, len(keys), len(cases))
	}
	for i, c := range cases {
		info := dogpile.FuncInfo{Package: c.Module, Name: c.Name, ArgNames: c.Params}
		if c.Namespace != nil {
			info.Namespace, info.HasNamespace = *c.Namespace, true
		}
		if got := mustKey(pyconfig.KwargKeyGenerator(info)(c.goArgs...)); got != keys[i] {
			t.Errorf("params %q args %q: Go key %q, dogpile.cache's %q", c.Params, c.Args, got, keys[i])
		}
	}
}

// TestSHA1MangleKey ports test_sha1_key_mangler and
// test_sha1_key_mangler_bytes_py3k.
func TestSHA1MangleKey(t *testing.T) {
	tests := []struct{ key, want string }{
		{mustKey(dogpile.FunctionKeyGenerator(keysTestOne)(1, 2)), "aead490a8ace2d69a00160f1fd8fd8a16552c24f"},
		{"tests.cache.test_decorator:one|1 2", "aead490a8ace2d69a00160f1fd8fd8a16552c24f"},
		{"some_key", "53def077a4264bd3183d4eb21b1f56f883e1b572"},
		{string([]byte("some_key")), "53def077a4264bd3183d4eb21b1f56f883e1b572"},
		{"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
	}
	for _, tt := range tests {
		if got := pyconfig.SHA1MangleKey(tt.key); got != tt.want {
			t.Errorf("SHA1MangleKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestLengthConditionalMangler(t *testing.T) {
	m := pyconfig.LengthConditionalMangler(10, strings.ToUpper)
	tests := []struct{ key, want string }{
		{"", ""},
		{"short", "short"},
		{"ninechars", "ninechars"},
		{"tenchars!!", "TENCHARS!!"},
		{"more than ten", "MORE THAN TEN"},
		{"méilméil", "méilméil"},     // 8 characters, 10 bytes: not mangled
		{"méilméil!!", "MÉILMÉIL!!"}, // 10 characters
	}
	for _, tt := range tests {
		if got := m(tt.key); got != tt.want {
			t.Errorf("mangler(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
	sha := pyconfig.LengthConditionalMangler(40, pyconfig.SHA1MangleKey)
	if got := sha("some_key"); got != "some_key" {
		t.Errorf("short key mangled: %q", got)
	}
	long := strings.Repeat("k", 40)
	if got, want := sha(long), pyconfig.SHA1MangleKey(long); got != want {
		t.Errorf("40-character key = %q, want %q", got, want)
	}
}

// TestLengthConditionalManglerCountsCharacters: the length is in
// characters, as Python's len() of a str counts them, not in bytes.
func TestLengthConditionalManglerCountsCharacters(t *testing.T) {
	var called []string
	m := pyconfig.LengthConditionalMangler(5, func(k string) string { called = append(called, k); return "M" })
	if got := m("éééé"); got != "éééé" || len(called) != 0 {
		t.Errorf(`mangler("éééé") = %q (mangled %q): 4 characters, 8 bytes, want it kept`, got, called)
	}
	if got := m("ééééé"); got != "M" {
		t.Errorf(`mangler("ééééé") = %q: 5 characters, want it mangled`, got)
	}
	if got := m("😀😀😀😀"); got != "😀😀😀😀" {
		t.Errorf("mangler of 4 emoji (16 bytes) = %q, want it kept", got)
	}
}

// pyManglers runs dogpile.cache's sha1_mangle_key and
// length_conditional_mangler on each key.
const pyManglers = `
import json, sys
from dogpile.cache.util import sha1_mangle_key, length_conditional_mangler
keys = json.load(sys.stdin)
upper = lambda k: k.upper()
print(json.dumps([[sha1_mangle_key(k.encode("utf-8")), length_conditional_mangler(5, upper)(k)] for k in keys]))
`

// TestManglersMatchPython: SHA1MangleKey and LengthConditionalMangler give
// what dogpile.cache's manglers give.
func TestManglersMatchPython(t *testing.T) {
	keys := []string{"", "some_key", "tests.cache.test_decorator:one|1 2", "éééé", "ééééé", "méil", "abcd", "abcde", "😀😀😀😀", "日本語のキー"}
	py := python.Interpreter(t, "dogpile.cache")
	var out [][2]string
	python.RunJSON(t, py, pyManglers, keys, &out)
	upper := pyconfig.LengthConditionalMangler(5, strings.ToUpper)
	for i, k := range keys {
		if got := pyconfig.SHA1MangleKey(k); got != out[i][0] {
			t.Errorf("SHA1MangleKey(%q) = %q, dogpile.cache's %q", k, got, out[i][0])
		}
		if got := upper(k); got != out[i][1] {
			t.Errorf("LengthConditionalMangler(5)(%q) = %q, dogpile.cache's %q", k, got, out[i][1])
		}
	}
}

// TestSHA1MangleKeyThroughRegion: the mangler sees a cached function's
// key; the backend holds the mangled key (test_sha1_key_mangler through a
// region).
func TestSHA1MangleKeyThroughRegion(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		mangler func(string) string
		want    []string
	}{
		{"sha1", pyconfig.SHA1MangleKey, []string{"aead490a8ace2d69a00160f1fd8fd8a16552c24f"}},
		{"length conditional, long key", pyconfig.LengthConditionalMangler(30, pyconfig.SHA1MangleKey), []string{"aead490a8ace2d69a00160f1fd8fd8a16552c24f"}},
		{"length conditional, short key", pyconfig.LengthConditionalMangler(100, pyconfig.SHA1MangleKey), []string{"tests.cache.test_decorator:one|1 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := must(memory.New(memory.Options{}))
			r := dogpile.NewRegion(dogpile.WithKeyMangler(tt.mangler))
			if err := r.ConfigureBackend(b, dogpile.Config{}); err != nil {
				t.Fatal(err)
			}
			storedKeys := func() []string {
				var keys []string
				for k := range b.All() {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				return keys
			}
			var counter atomic.Int64
			f := dogpile.Cache2(r, func(_ context.Context, a, b int) (int, error) { return int(counter.Add(1)), nil },
				dogpile.FuncName("tests.cache.test_decorator", "one"))
			if got := mustKey(f.Key(1, 2)); got != "tests.cache.test_decorator:one|1 2" {
				t.Errorf("Key = %q: Key must not mangle", got)
			}
			for range 2 {
				if _, err := f.Call(ctx, 1, 2); err != nil {
					t.Fatal(err)
				}
			}
			if counter.Load() != 1 {
				t.Errorf("function ran %d times, want 1", counter.Load())
			}
			if got := storedKeys(); !slices.Equal(got, tt.want) {
				t.Errorf("backend keys = %q, want %q", got, tt.want)
			}
			if _, ok, err := f.Get(ctx, 1, 2); !ok || err != nil {
				t.Errorf("Get = %v, %v", ok, err)
			}
			if err := f.Invalidate(ctx, 1, 2); err != nil {
				t.Fatal(err)
			}
			if got := storedKeys(); len(got) != 0 {
				t.Errorf("backend keys after Invalidate = %q", got)
			}
		})
	}
}

// mustKey returns a key known to be computable; a test that hits an error
// here fails by the panic.
func mustKey(k string, err error) string {
	if err != nil {
		panic(err)
	}
	return k
}
