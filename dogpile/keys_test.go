package dogpile_test

// Tests of the key generators and manglers, ported from dogpile.cache's
// tests/cache/test_decorator.py (KeyGenerationTest). Python's None prints
// as "None"; Go's nil, through fmt, as "<nil>". Go has no keyword
// arguments: KwargKeyGenerator orders positional arguments by the names
// declared with ArgNames.

import (
	"slices"
	"strings"
	"testing"

	"github.com/dogpilego/dogpile/dogpile"
)

// keysTestOne is the FuncInfo of test_decorator.py's one(a, b).
var keysTestOne = dogpile.FuncInfo{Package: "tests.cache.test_decorator", Name: "one"}

type keysTestStringer struct{}

func (keysTestStringer) String() string { return "stringer!" }

type keysTestNamed string

func TestFunctionKeyGenerator(t *testing.T) {
	tests := []struct {
		name      string
		namespace string
		toStr     func(any) string
		args      []any
		want      string
	}{
		{"test_keygen_fn", "", nil, []any{1, 2}, "tests.cache.test_decorator:one|1 2"},
		{"test_keygen_fn nil", "", nil, []any{nil, 5}, "tests.cache.test_decorator:one|<nil> 5"},
		{"test_keygen_fn_namespace", "mynamespace", nil, []any{1, 2}, "tests.cache.test_decorator:one|mynamespace|1 2"},
		{"test_keygen_fn_namespace nil", "mynamespace", nil, []any{nil, 5}, "tests.cache.test_decorator:one|mynamespace|<nil> 5"},
		{"test_unicode_key", "mynamespace", nil, []any{"méil", "drôle"}, "tests.cache.test_decorator:one|mynamespace|m\u00e9il dr\u00f4le"},
		{"no arguments: trailing pipe", "", nil, nil, "tests.cache.test_decorator:one|"},
		{"one argument", "", nil, []any{"x"}, "tests.cache.test_decorator:one|x"},
		{"three arguments", "", nil, []any{"a", true, int64(-3)}, "tests.cache.test_decorator:one|a true -3"},
		{"not escaped", "", nil, []any{"a|b c"}, "tests.cache.test_decorator:one|a|b c"},
		{"custom toStr", "", func(v any) string { return "<" + dogpile.ToStr(v) + ">" }, []any{1, "x"}, "tests.cache.test_decorator:one|<1> <x>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gen := dogpile.FunctionKeyGenerator(tt.namespace, keysTestOne, tt.toStr)
			if got := gen(tt.args...); got != tt.want {
				t.Errorf("key = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFunctionMultiKeyGenerator(t *testing.T) {
	tests := []struct {
		name      string
		namespace string
		args      []any
		want      []string
	}{
		{"test_multi_keygen_fn", "", []any{1, 2}, []string{"tests.cache.test_decorator:one|1", "tests.cache.test_decorator:one|2"}},
		{"test_unicode_key_multi", "mynamespace", []any{"méil", "drôle"},
			[]string{"tests.cache.test_decorator:one|mynamespace|m\u00e9il", "tests.cache.test_decorator:one|mynamespace|dr\u00f4le"}},
		{"none", "", nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gen := dogpile.FunctionMultiKeyGenerator(tt.namespace, keysTestOne, nil)
			if got := gen(tt.args...); !slices.Equal(got, tt.want) {
				t.Errorf("keys = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestKwargKeyGenerator ports the test_kwarg_kegen_* tests: keys do not
// depend on the order of the parameters, only on their names.
func TestKwargKeyGenerator(t *testing.T) {
	tests := []struct {
		name      string
		namespace string
		argNames  []string
		args      []any
		want      string
	}{
		{"names in order", "", []string{"a", "b"}, []any{1, 2}, "tests.cache.test_decorator:one|1 2"},
		{"names reversed", "", []string{"b", "a"}, []any{2, 1}, "tests.cache.test_decorator:one|1 2"},
		{"nil argument", "", []string{"b", "a"}, []any{nil, 1}, "tests.cache.test_decorator:one|1 <nil>"},
		{"test_kwarg_keygen_fn_namespace", "mynamespace", []string{"a", "b"}, []any{1, 2}, "tests.cache.test_decorator:one|mynamespace|1 2"},
		{"three names", "", []string{"zeta", "alpha", "mid"}, []any{"z", "a", "m"}, "tests.cache.test_decorator:one|a m z"},
		{"test_unicode_key_kwarg_generator", "mynamespace", []string{"a", "b"}, []any{"méil", "drôle"},
			"tests.cache.test_decorator:one|mynamespace|m\u00e9il dr\u00f4le"},
		{"no names: as FunctionKeyGenerator", "", nil, []any{2, 1}, "tests.cache.test_decorator:one|2 1"},
		{"wrong number of arguments: as FunctionKeyGenerator", "", []string{"b", "a"}, []any{3}, "tests.cache.test_decorator:one|3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := keysTestOne
			info.ArgNames = tt.argNames
			gen := dogpile.KwargKeyGenerator(tt.namespace, info, nil)
			if got := gen(tt.args...); got != tt.want {
				t.Errorf("key = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSHA1MangleKey ports test_sha1_key_mangler and
// test_sha1_key_mangler_bytes_py3k.
func TestSHA1MangleKey(t *testing.T) {
	tests := []struct{ key, want string }{
		{dogpile.FunctionKeyGenerator("", keysTestOne, nil)(1, 2), "aead490a8ace2d69a00160f1fd8fd8a16552c24f"},
		{"tests.cache.test_decorator:one|1 2", "aead490a8ace2d69a00160f1fd8fd8a16552c24f"},
		{"some_key", "53def077a4264bd3183d4eb21b1f56f883e1b572"},
		{string([]byte("some_key")), "53def077a4264bd3183d4eb21b1f56f883e1b572"},
		{"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
	}
	for _, tt := range tests {
		if got := dogpile.SHA1MangleKey(tt.key); got != tt.want {
			t.Errorf("SHA1MangleKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestLengthConditionalMangler(t *testing.T) {
	m := dogpile.LengthConditionalMangler(10, strings.ToUpper)
	tests := []struct{ key, want string }{
		{"", ""},
		{"short", "short"},
		{"ninechars", "ninechars"},
		{"tenchars!!", "TENCHARS!!"},
		{"more than ten", "MORE THAN TEN"},
		{"méilméil", "MÉILMÉIL"}, // 8 runes but 10 bytes: the length is in bytes
	}
	for _, tt := range tests {
		if got := m(tt.key); got != tt.want {
			t.Errorf("mangler(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
	sha := dogpile.LengthConditionalMangler(40, dogpile.SHA1MangleKey)
	if got := sha("some_key"); got != "some_key" {
		t.Errorf("short key mangled: %q", got)
	}
	long := strings.Repeat("k", 40)
	if got, want := sha(long), dogpile.SHA1MangleKey(long); got != want {
		t.Errorf("40-byte key = %q, want %q", got, want)
	}
}

func TestToStr(t *testing.T) {
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
		{true, "true"},
		{false, "false"},
		{nil, "<nil>"},
		{3.5, "3.5"},
		{keysTestStringer{}, "stringer!"},
		{keysTestNamed("named"), "named"},
		{[]int{1, 2}, "[1 2]"},
		{struct{ A, B int }{1, 2}, "{1 2}"},
	}
	for _, tt := range tests {
		if got := dogpile.ToStr(tt.v); got != tt.want {
			t.Errorf("ToStr(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
