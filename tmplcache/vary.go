package tmplcache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
)

// The bounds of one vary value: more values or more text than this is an
// error, so that a value sharing its parts (a list holding one map many
// times) cannot make its encoding exponentially larger than its memory.
const (
	maxVaryValues = 1 << 14
	maxVaryText   = 1 << 20
)

// The tags of the canonical encoding. Every encoded value starts with one
// and says where it ends (a length or a count of the values that follow),
// so that a sequence of encoded values is itself unambiguous.
const (
	tagScalar = 's' // uvarint length, then the canonical text
	tagNone   = 'n' // nil, a nil pointer or interface
	tagList   = 'l' // uvarint count, then each element
	tagMap    = 'm' // uvarint count, then each key and value, by encoded key
	tagStruct = 'r' // uvarint count, then each field's name (uvarint length, text) and value
)

var (
	errVaryCycle  = errors.New("it refers to itself")
	errVaryLarge  = fmt.Errorf("it holds more than %d values or %d bytes of text", maxVaryValues, maxVaryText)
	errVaryMethod = errors.New("its String or Error method panics")

	stringerType = reflect.TypeFor[fmt.Stringer]()
	errorType    = reflect.TypeFor[error]()
	timeType     = reflect.TypeFor[time.Time]()
)

// appendVary appends the canonical encoding of v to b (see Cache.Key).
// Common scalars are written without reflection.
func appendVary(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, tagNone), nil
	case string:
		if len(x) > maxVaryText {
			return b, errVaryLarge
		}
		return appendScalar(b, x), nil
	case int:
		return appendInt(b, int64(x)), nil
	case int64:
		return appendInt(b, x), nil
	case int32:
		return appendInt(b, int64(x)), nil
	case uint:
		return appendUint(b, uint64(x)), nil
	case uint64:
		return appendUint(b, x), nil
	case uint32:
		return appendUint(b, uint64(x)), nil
	case bool:
		return appendScalar(b, pyBool(x)), nil
	}
	e := varyEncoders.Get().(*varyEncoder)
	e.b, e.err, e.values, e.text, e.path, e.seen = e.b[:0], nil, maxVaryValues, maxVaryText, e.path[:0], nil
	e.value(reflect.ValueOf(v))
	b = append(b, e.b...)
	err := e.err
	if cap(e.b) <= 64<<10 { // keep small buffers only
		varyEncoders.Put(e)
	}
	return b, err
}

// varyEncoders keeps encoders, with their buffers, between uses, so that
// the buffer of the key being written stays on its caller's stack.
var varyEncoders = sync.Pool{New: func() any { return &varyEncoder{} }}

// appendScalar appends a scalar of text s.
func appendScalar(b []byte, s string) []byte {
	b = append(b, tagScalar)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendInt appends the scalar of a signed integer: its decimal text.
func appendInt(b []byte, x int64) []byte {
	var buf [24]byte
	s := strconv.AppendInt(buf[:0], x, 10)
	b = append(b, tagScalar, byte(len(s))) // the uvarint of a length < 128
	return append(b, s...)
}

// appendUint appends the scalar of an unsigned integer.
func appendUint(b []byte, x uint64) []byte {
	var buf [24]byte
	s := strconv.AppendUint(buf[:0], x, 10)
	b = append(b, tagScalar, byte(len(s)))
	return append(b, s...)
}

func pyBool(x bool) string {
	if x {
		return "True"
	}
	return "False"
}

// varyEncoder writes the canonical encoding of one value.
type varyEncoder struct {
	b      []byte
	err    error
	values int // values left to write
	text   int // bytes of scalar text left
	path   []visit
	seen   map[visit]struct{} // path, once it is long
}

// visit identifies a pointer, map or slice on the path being written,
// to find cycles: the same one met inside itself.
type visit struct {
	t   reflect.Type
	ptr uintptr
	len int
}

// pathLong is the path length from which membership is kept in a map.
const pathLong = 32

// spend takes one value and n bytes of text from the budget, and reports
// whether the encoder may go on.
func (e *varyEncoder) spend(n int) bool {
	if e.err != nil {
		return false
	}
	e.values--
	e.text -= n
	if e.values < 0 || e.text < 0 {
		e.err = errVaryLarge
		return false
	}
	return true
}

func (e *varyEncoder) scalar(s string) {
	if e.spend(len(s)) {
		e.b = appendScalar(e.b, s)
	}
}

func (e *varyEncoder) none() {
	if e.spend(0) {
		e.b = append(e.b, tagNone)
	}
}

// enter records a container on the path, failing on a cycle; leave must
// follow when enter succeeds.
func (e *varyEncoder) enter(v visit) bool {
	if e.seen != nil {
		if _, ok := e.seen[v]; ok {
			e.err = errVaryCycle
			return false
		}
		e.seen[v] = struct{}{}
	} else if slices.Contains(e.path, v) {
		e.err = errVaryCycle
		return false
	}
	e.path = append(e.path, v)
	if len(e.path) == pathLong && e.seen == nil {
		e.seen = make(map[visit]struct{}, 2*pathLong)
		for _, p := range e.path {
			e.seen[p] = struct{}{}
		}
	}
	return true
}

func (e *varyEncoder) leave() {
	v := e.path[len(e.path)-1]
	e.path = e.path[:len(e.path)-1]
	if e.seen != nil {
		delete(e.seen, v)
	}
}

// value writes v.
func (e *varyEncoder) value(v reflect.Value) {
	if e.err != nil {
		return
	}
	if !v.IsValid() {
		e.none()
		return
	}
	t := v.Type()
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			e.none()
			return
		}
	}
	if hasText(t) {
		if !v.CanInterface() {
			e.err = fmt.Errorf("it holds an unexported field of type %s, whose text only its methods give", t)
			return
		}
		s, err := methodText(v.Interface())
		if err != nil {
			e.err = err
			return
		}
		e.scalar(s)
		return
	}
	switch t.Kind() {
	case reflect.String:
		e.scalar(v.String())
	case reflect.Bool:
		e.scalar(pyBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if e.spend(0) {
			e.b = appendInt(e.b, v.Int())
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if e.spend(0) {
			e.b = appendUint(e.b, v.Uint())
		}
	case reflect.Float32:
		e.scalar(toStr(float32(v.Float())))
	case reflect.Float64:
		e.scalar(toStr(v.Float()))
	case reflect.Complex64:
		e.scalar(toStr(complex64(v.Complex())))
	case reflect.Complex128:
		e.scalar(toStr(v.Complex()))
	case reflect.Pointer:
		if e.enter(visit{t, v.Pointer(), 0}) {
			e.value(v.Elem())
			e.leave()
		}
	case reflect.Interface:
		e.value(v.Elem())
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			e.bytes(v)
			return
		}
		if e.enter(visit{t, v.Pointer(), v.Len()}) {
			e.list(v)
			e.leave()
		}
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			e.bytes(v)
			return
		}
		e.list(v)
	case reflect.Map:
		if e.enter(visit{t, v.Pointer(), 0}) {
			e.mapValue(v)
			e.leave()
		}
	case reflect.Struct:
		e.structValue(v)
	default:
		e.err = fmt.Errorf("it holds a %s, which has no text of its own", t)
	}
}

// textTypes caches hasText by type.
var textTypes sync.Map // reflect.Type → bool

// hasText reports whether values of type t are scalars by a method's
// text: a time.Time, or a type with an Error or String method.
func hasText(t reflect.Type) bool {
	if v, ok := textTypes.Load(t); ok {
		return v.(bool)
	}
	has := t == timeType || t.Kind() != reflect.Interface && (t.Implements(errorType) || t.Implements(stringerType))
	textTypes.Store(t, has)
	return has
}

// toStr is dogpile.ToStr of a number, which never fails.
func toStr(v any) string {
	s, _ := dogpile.ToStr(v)
	return s
}

// bytes writes a byte slice or array as the scalar of its bytes.
func (e *varyEncoder) bytes(v reflect.Value) {
	n := v.Len()
	if !e.spend(n) {
		return
	}
	e.b = append(e.b, tagScalar)
	e.b = binary.AppendUvarint(e.b, uint64(n))
	if v.Kind() == reflect.Slice {
		e.b = append(e.b, v.Bytes()...)
		return
	}
	for i := range n {
		e.b = append(e.b, byte(v.Index(i).Uint()))
	}
}

func (e *varyEncoder) list(v reflect.Value) {
	n := v.Len()
	if !e.spend(0) {
		return
	}
	e.b = append(e.b, tagList)
	e.b = binary.AppendUvarint(e.b, uint64(n))
	for i := range n {
		if e.err != nil {
			return
		}
		e.value(v.Index(i))
	}
}

// mapValue writes a map's entries ordered by their encoded keys; two keys
// with one encoding (7 and "7") are an error.
func (e *varyEncoder) mapValue(v reflect.Value) {
	n := v.Len()
	if !e.spend(0) {
		return
	}
	e.b = append(e.b, tagMap)
	e.b = binary.AppendUvarint(e.b, uint64(n))
	type span struct{ start, key, end int }
	base := len(e.b)
	spans := make([]span, 0, n)
	for it := v.MapRange(); it.Next(); {
		s := span{start: len(e.b)}
		e.value(it.Key())
		s.key = len(e.b)
		e.value(it.Value())
		s.end = len(e.b)
		if e.err != nil {
			return
		}
		spans = append(spans, s)
	}
	keyOf := func(s span) []byte { return e.b[s.start:s.key] }
	slices.SortFunc(spans, func(x, y span) int { return bytes.Compare(keyOf(x), keyOf(y)) })
	for i := 1; i < len(spans); i++ {
		if bytes.Equal(keyOf(spans[i-1]), keyOf(spans[i])) {
			e.err = fmt.Errorf("two keys of a map of type %s have the same text", v.Type())
			return
		}
	}
	sorted := make([]byte, 0, len(e.b)-base)
	for _, s := range spans {
		sorted = append(sorted, e.b[s.start:s.end]...)
	}
	e.b = append(e.b[:base], sorted...)
}

func (e *varyEncoder) structValue(v reflect.Value) {
	t := v.Type()
	if !e.spend(0) {
		return
	}
	e.b = append(e.b, tagStruct)
	e.b = binary.AppendUvarint(e.b, uint64(t.NumField()))
	for i := range t.NumField() {
		if e.err != nil {
			return
		}
		name := t.Field(i).Name
		e.b = binary.AppendUvarint(e.b, uint64(len(name)))
		e.b = append(e.b, name...)
		e.value(v.Field(i))
	}
}

// methodText returns the canonical text of a value that has one by its
// type: a time.Time in RFC 3339 with nanoseconds in UTC, else its Error or
// String method's, which may not panic.
func methodText(v any) (s string, err error) {
	if t, ok := v.(time.Time); ok {
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	defer func() {
		if recover() != nil {
			s, err = "", errVaryMethod
		}
	}()
	switch x := v.(type) {
	case error:
		return x.Error(), nil
	case fmt.Stringer:
		return x.String(), nil
	}
	return "", fmt.Errorf("it holds a %T without a String method", v)
}
