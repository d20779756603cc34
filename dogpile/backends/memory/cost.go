package memory

import (
	"math"
	"reflect"
)

// The work EstimateCost does for one value.
const (
	// costVisits bounds the values EstimateCost looks at.
	costVisits = 256
	// costSample is how many elements of a slice, array or map
	// EstimateCost measures; the others are taken to hold as much as
	// their mean.
	costSample = 8
)

// EstimateCost is the cost of a value when Options.Cost is nil: an
// estimate, in bytes, of the memory the value holds.
//
//   - A string or a byte slice (of any named type) costs its length; nil
//     costs 0; a boolean or a number costs its size (8 for an int).
//   - Any other value costs the size of its type plus the memory it
//     references: the bytes of strings, the backing arrays of slices (their
//     capacity), the entries of maps (their number times the sizes of
//     key and value), and what pointers and interfaces point to, followed
//     recursively, unexported fields included.
//
// The work is bounded: of a slice, an array or a map whose elements
// reference memory, only the first 8 elements (in iteration order) are
// followed, and the others are taken to reference as much as their mean;
// and at most 256 values are visited in all, so that memory past them,
// and memory reached through a cycle, is not counted. Memory reached
// twice through shared pointers is counted twice. Channels, functions
// and unsafe pointers cost the size of their type alone.
func EstimateCost(v any) int64 {
	if c, ok := inlineCost(v); ok {
		return c
	}
	rv := reflect.ValueOf(v)
	e := estimator{budget: costVisits}
	return satAdd(int64(rv.Type().Size()), e.refs(rv))
}

// inlineCost is the cost of v when it follows from v at once: nil,
// strings, byte slices, booleans and numbers.
func inlineCost(v any) (int64, bool) {
	switch x := v.(type) {
	case nil:
		return 0, true
	case string:
		return int64(len(x)), true
	case []byte:
		return int64(len(x)), true
	case int, int64, uint, uint64, float64:
		return 8, true
	case bool:
		return 1, true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return int64(rv.Len()), true
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return int64(rv.Len()), true
		}
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return int64(rv.Type().Size()), true
	}
	return 0, false
}

// estimator walks a value within a budget of visits.
type estimator struct{ budget int }

// refs returns the bytes v references beyond its own size.
func (e *estimator) refs(v reflect.Value) int64 {
	if e.budget <= 0 {
		return 0
	}
	e.budget--
	switch v.Kind() {
	case reflect.String:
		return int64(v.Len())
	case reflect.Slice:
		if v.IsNil() {
			return 0
		}
		return satAdd(satMul(int64(v.Cap()), int64(v.Type().Elem().Size())), e.elems(v))
	case reflect.Array:
		return e.elems(v)
	case reflect.Map:
		if v.IsNil() {
			return 0
		}
		t := v.Type()
		n := satMul(int64(v.Len()), int64(t.Key().Size()+t.Elem().Size()))
		if !hasRefs(t.Key()) && !hasRefs(t.Elem()) {
			return n
		}
		var sum int64
		k := 0
		for it := v.MapRange(); k < costSample && it.Next(); k++ {
			sum = satAdd(sum, satAdd(e.refs(it.Key()), e.refs(it.Value())))
		}
		return satAdd(n, mean(sum, k, v.Len()))
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return 0
		}
		el := v.Elem()
		return satAdd(int64(el.Type().Size()), e.refs(el))
	case reflect.Struct:
		var n int64
		for i := range v.NumField() {
			if f := v.Field(i); hasRefs(f.Type()) {
				n = satAdd(n, e.refs(f))
			}
		}
		return n
	}
	return 0
}

// elems returns the bytes the elements of slice or array v reference,
// from a sample of them.
func (e *estimator) elems(v reflect.Value) int64 {
	n := v.Len()
	if n == 0 || !hasRefs(v.Type().Elem()) {
		return 0
	}
	k := min(n, costSample)
	var sum int64
	for i := range k {
		sum = satAdd(sum, e.refs(v.Index(i)))
	}
	return mean(sum, k, n)
}

// hasRefs reports whether values of type t may reference memory that
// EstimateCost counts.
func hasRefs(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
		return true
	case reflect.Array:
		return t.Len() > 0 && hasRefs(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasRefs(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// mean returns sum, measured over k of n elements, extended to all n.
func mean(sum int64, k, n int) int64 {
	if k == 0 || k == n {
		return sum
	}
	return satMul(sum/int64(k), int64(n))
}

// satAdd and satMul are + and * on non-negative numbers, stopping at
// math.MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func satMul(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}
