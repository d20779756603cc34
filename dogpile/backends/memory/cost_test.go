package memory_test

import (
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/dogpilego/dogpile/dogpile/backends/memory"
)

type html string

type bytesOf []byte

type user struct {
	Name  string
	Email string
	Age   int
	tags  []string // unexported fields count too
}

type node struct {
	next *node
	pad  [64]byte
}

type holder struct {
	v any
}

type withMap struct {
	m map[string]string
}

func TestEstimateCost(t *testing.T) {
	const strHdr, sliceHdr = int64(unsafe.Sizeof("")), int64(unsafe.Sizeof([]int{}))
	userSize := int64(unsafe.Sizeof(user{}))
	s100 := strings.Repeat("s", 100)
	bigSlice := make([]string, 10_000)
	for i := range bigSlice {
		bigSlice[i] = s100
	}
	m := map[string]string{}
	for i := range 100 {
		m[strings.Repeat("k", 10)+string(rune('A'+i))] = s100
	}
	cyc := &node{}
	cyc.next = cyc
	for _, tc := range []struct {
		name string
		v    any
		want int64
	}{
		{"nil", nil, 0},
		{"string", "hello", 5},
		{"empty string", "", 0},
		{"bytes", []byte("hello"), 5},
		{"bytes with room", make([]byte, 3, 100), 3},
		{"named string", html("<p>"), 3},
		{"named bytes", bytesOf("abcd"), 4},
		{"int", 7, 8},
		{"int8", int8(7), 1},
		{"float32", float32(1), 4},
		{"complex128", complex(1, 2), 16},
		{"bool", true, 1},
		{"duration", time.Second, 8},
		{"struct", user{Name: "ann", Email: "a@b.c", Age: 3, tags: []string{"x", "yz"}},
			userSize + 3 + 5 + 2*strHdr + 1 + 2},
		{"pointer", &user{Name: "ann"}, 8 + userSize + 3},
		{"nil pointer", (*user)(nil), 8},
		{"slice of ints", make([]int, 10, 20), sliceHdr + 20*8},
		{"array", [3]string{"a", "bb", "ccc"}, 3*strHdr + 6},
		{"interface field", holder{v: "four"}, 16 + strHdr + 4},
		{"nil interface field", holder{}, 16},
		{"map of ints", map[int]int{1: 1, 2: 2}, 8 + 2*16},
		// Past 8 elements, the others are taken to be like the first.
		{"10,000 strings", bigSlice, sliceHdr + 10_000*strHdr + 10_000*100},
		{"map of strings", m, 8 + 100*2*strHdr + 100*(11+100)},
		// A cycle ends with the budget of visits: counted, not followed
		// for ever.
		{"cycle", cyc, 8 + 128*int64(unsafe.Sizeof(node{}))}, // 256 visits: a pointer and a struct per node
		{"unexported map", withMap{m: map[string]string{"ab": "cde"}}, 8 + 2*strHdr + 5},
		{"channel", make(chan int, 100), 8},
		{"func", func() {}, 8},
	} {
		if got := memory.EstimateCost(tc.v); got != tc.want {
			t.Errorf("%s: EstimateCost = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestEstimateCostBounded: the estimate of a value of any size looks at
// a bounded number of values: a million strings take about as long as a
// hundred.
func TestEstimateCostBounded(t *testing.T) {
	nested := func(n int) any {
		v := make([][]string, n)
		for i := range v {
			v[i] = make([]string, n)
			for j := range v[i] {
				v[i][j] = "abcd"
			}
		}
		return v
	}
	small, large := nested(10), nested(1000)
	// The fastest of many runs, to be robust against a busy machine.
	fastest := func(v any) time.Duration {
		best := time.Duration(1 << 62)
		for range 200 {
			start := time.Now()
			memory.EstimateCost(v)
			best = min(best, time.Since(start))
		}
		return best
	}
	if ts, tl := fastest(small), fastest(large); tl > 20*ts+time.Millisecond/10 {
		t.Errorf("EstimateCost of 1000×1000 strings took %v, of 10×10 %v: the walk is not bounded", tl, ts)
	}
	if allocs := testing.AllocsPerRun(10, func() { memory.EstimateCost(large) }); allocs > 0 {
		t.Errorf("EstimateCost of nested slices allocates %v times", allocs)
	}
	const strHdr, sliceHdr = int64(unsafe.Sizeof("")), int64(unsafe.Sizeof([]int{}))
	want := sliceHdr + 1000*(sliceHdr+1000*(strHdr+4))
	if got := memory.EstimateCost(large); got != want {
		t.Errorf("EstimateCost of 1000×1000 strings = %d, want %d", got, want)
	}
}
