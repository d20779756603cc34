package tmplcache

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/dogpilego/dogpile/dogpile"
)

// The scalars appendVary writes without reflection get the text ToStr
// gives them, as a scalar, and the same encoding as the reflective path
// gives values of named types of the same kinds.
func TestVaryScalarsAreWrittenAsToStr(t *testing.T) {
	type (
		myString string
		myInt    int
		myInt64  int64
		myInt32  int32
		myUint   uint
		myUint64 uint64
		myUint32 uint32
		myBool   bool
	)
	for _, tc := range []struct{ v, named any }{
		{"", myString("")}, {"a b", myString("a b")}, {"é", myString("é")},
		{0, myInt(0)}, {-7, myInt(-7)}, {math.MaxInt, myInt(math.MaxInt)}, {math.MinInt, myInt(math.MinInt)},
		{int64(math.MinInt64), myInt64(math.MinInt64)}, {int32(-3), myInt32(-3)},
		{uint(7), myUint(7)}, {uint64(math.MaxUint64), myUint64(math.MaxUint64)}, {uint32(9), myUint32(9)},
		{true, myBool(true)}, {false, myBool(false)},
	} {
		got, err := appendVary(nil, tc.v)
		if err != nil {
			t.Fatalf("%T %v: %v", tc.v, tc.v, err)
		}
		text, err := dogpile.ToStr(tc.v)
		if err != nil {
			t.Fatalf("%T %v: ToStr: %v", tc.v, tc.v, err)
		}
		if want := appendScalar(nil, text); !bytes.Equal(got, want) {
			t.Errorf("%T %v: %q, want %q", tc.v, tc.v, got, want)
		}
		named, err := appendVary(nil, tc.named)
		if err != nil || !bytes.Equal(named, got) {
			t.Errorf("%T %v: %q, %v; want %q as for %T", tc.named, tc.named, named, err, got, tc.v)
		}
	}
}

// The encoding of a few values, byte for byte: the format is part of
// every key, so a change to it must be deliberate.
func TestVaryEncoding(t *testing.T) {
	type point struct{ X, Y int }
	var nilPtr *point
	for _, tc := range []struct {
		v    any
		want string
	}{
		{nil, "n"},
		{nilPtr, "n"},
		{"7", "s\x017"},
		{7, "s\x017"},
		{2.0, "s\x032.0"},
		{[]byte("ab"), "s\x02ab"},
		{[]string{"a b"}, "l\x01s\x03a b"},
		{[]string{"a", "b"}, "l\x02s\x01as\x01b"},
		{map[string]int{"b": 2, "a": 1}, "m\x02s\x01as\x011s\x01bs\x012"},
		{point{1, 2}, "r\x02\x01Xs\x011\x01Ys\x012"},
		{&point{1, 2}, "r\x02\x01Xs\x011\x01Ys\x012"},
		{[]any{nil, []int{}}, "l\x02nl\x00"},
	} {
		got, err := appendVary(nil, tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("%T %v: %+q, %v; want %+q", tc.v, tc.v, got, err, tc.want)
		}
	}
}

// The readable part keeps one byte per character of the first maxReadable
// bytes: the character itself or '_'; '#' stays, for nameless blocks.
func TestSanitize(t *testing.T) {
	long := strings.Repeat("ab", maxReadable)
	for _, tc := range []struct{ in, want string }{
		{"blog/post.html:side-bar_1", "blog/post.html:side-bar_1"},
		{"blog/post.html:#2", "blog/post.html:#2"},
		{"a b\tc\r\n", "a_b_c__"},
		{"très", "tr_s"},
		{"\xff\xfe!", "___"},
		{long, long[:maxReadable]},
		{long[:maxReadable-1] + "é", long[:maxReadable-1] + "_"}, // cut inside é
	} {
		if got := string(appendSanitized([]byte("x"), []byte(tc.in))); got != "x"+tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, "x"+tc.want)
		}
	}
}
