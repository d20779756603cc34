package tmplcache

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/dogpilego/dogpile/dogpile"
)

// The scalars appendVary writes in place get the text ToStr gives them.
func TestVaryScalarsAreWrittenAsToStr(t *testing.T) {
	for _, v := range []any{
		"", "a b", "é", 0, -7, math.MaxInt, math.MinInt, int64(math.MinInt64), int32(-3),
		uint(7), uint64(math.MaxUint64), uint32(9), true, false,
	} {
		got, err := appendVary(nil, v)
		if err != nil {
			t.Fatalf("%T %v: %v", v, v, err)
		}
		text, err := dogpile.ToStr(v)
		if err != nil {
			t.Fatalf("%T %v: ToStr: %v", v, v, err)
		}
		want := appendPart(appendPart(nil, typeName(v)), text)
		if !bytes.Equal(got, want) {
			t.Errorf("%T %v: %q, want %q", v, v, got, want)
		}
	}
}

// The readable part keeps one byte per character of the first maxReadable
// bytes: the character itself or '_'.
func TestSanitize(t *testing.T) {
	long := strings.Repeat("ab", maxReadable)
	for _, tc := range []struct{ in, want string }{
		{"blog/post.html:side-bar_1", "blog/post.html:side-bar_1"},
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
