package dogpile

// ToStr: an argument's text in a function's cache key, as Python's str()
// writes it where Python has the type, so that Go and Python processes
// sharing a cache compute the same keys.

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// ToStr is the default argument formatter of function keys
// (dogpile.cache's to_str, which is Python's str). Values Python has are
// written as str() writes them, and values inside lists, maps and structs
// as repr() writes them:
//
//	nil                    None
//	true, false            True, False
//	7, -3                  7, -3
//	2.0, 1e16, math.Inf(1) 2.0, 1e+16, inf
//	"a b"                  a b        (inside a list: 'a b')
//	[]byte("ab")           b'ab'
//	[]int{1, 2}            [1, 2]
//	map[string]int{"b": 2, "a": 1}
//	                       {'a': 1, 'b': 2}   (sorted)
//
// A value with a String or Error method is written by it, as fmt.Print
// does; a nil pointer is written "<nil>", even when its type has a String
// method that would panic on it. Other pointers are followed. A struct
// without a String method is written like a Python dataclass,
// Point(X=1, Y=2), with every field; a time.Time by its String method
// without the monotonic clock reading. A list, map or pointer met again
// inside itself is written as Python writes a recursive value: [...],
// {...} or .... Anything else is written as fmt.Sprint writes it.
//
// ToStr fails, with an error wrapping ErrInvalidArgument, for a value it
// cannot write in a way that tells it from others: one whose String or
// Error method panics, or one of more than 10,000 values or 1 MiB of text
// (a value that shares its parts can be exponentially larger written out
// than in memory). Function calls with such arguments fail rather than
// share a key.
//
// Strings are written as they are, as Python does, so the arguments "a b"
// and "a", "b" of one function give the same key; give ToStrFunc a
// formatter that quotes them when that matters.
func ToStr(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	if b, ok := appendScalar(nil, v, false); ok {
		return string(b), nil
	}
	b, err := appendToStr(nil, v)
	return string(b), err
}

// Bounds of what ToStr writes of one value.
const (
	maxToStrValues = 10_000
	maxToStrBytes  = 1 << 20
)

// strWriter writes ToStr's text of one value.
type strWriter struct {
	b     []byte
	nodes int
	path  []visit // the lists, maps and pointers being written
	err   error
}

var strWriters = sync.Pool{New: func() any { return &strWriter{b: make([]byte, 0, 128), path: make([]visit, 0, 8)} }}

// visit identifies a container on the path being written, to find cycles.
type visit struct {
	kind reflect.Kind
	ptr  uintptr
	len  int
}

// appendToStr appends ToStr's text of v to b.
func appendToStr(b []byte, v any) ([]byte, error) {
	w := strWriters.Get().(*strWriter)
	w.b, w.nodes, w.path, w.err = w.b[:0], 0, w.path[:0], nil
	w.value(reflect.ValueOf(v), false)
	b = append(b, w.b...)
	err := w.err
	if cap(w.b) <= 64<<10 { // keep small buffers only
		strWriters.Put(w)
	}
	if err != nil {
		return b, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return b, nil
}

// appendScalar appends the text of a value of a common scalar type,
// reporting false for other types. Being generic over concrete cases, it
// does not box v.
func appendScalar[T any](b []byte, v T, quoted bool) ([]byte, bool) {
	switch x := any(v).(type) {
	case string:
		if quoted {
			return appendPyRepr(b, x), true
		}
		return append(b, x...), true
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case int32:
		return strconv.AppendInt(b, int64(x), 10), true
	case int16:
		return strconv.AppendInt(b, int64(x), 10), true
	case int8:
		return strconv.AppendInt(b, int64(x), 10), true
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(b, x, 10), true
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), true
	case bool:
		return appendPyBool(b, x), true
	case float64:
		return appendPyFloat(b, x, 64), true
	case float32:
		return appendPyFloat(b, float64(x), 32), true
	}
	return b, false
}

func appendPyBool(b []byte, x bool) []byte {
	if x {
		return append(b, "True"...)
	}
	return append(b, "False"...)
}

var (
	stringerType = reflect.TypeFor[fmt.Stringer]()
	errorType    = reflect.TypeFor[error]()
	timeType     = reflect.TypeFor[time.Time]()
)

// value writes the text of v: str() at the top, repr() when quoted
// (inside a container).
func (w *strWriter) value(v reflect.Value, quoted bool) {
	if !v.IsValid() {
		if w.count() {
			w.b = append(w.b, "None"...)
		}
		return
	}
	encoderOf(v.Type())(w, v, quoted)
}

// count counts one more value written, and reports whether the writer is
// still within its bounds.
func (w *strWriter) count() bool {
	if w.err != nil {
		return false
	}
	if w.nodes++; w.nodes > maxToStrValues {
		w.err = fmt.Errorf("the value holds more than %d values", maxToStrValues)
		return false
	}
	if len(w.b) > maxToStrBytes {
		w.err = fmt.Errorf("the value's text is longer than %d bytes", maxToStrBytes)
		return false
	}
	return true
}

// An encoder writes the text of values of one type. Encoders are worked
// out once per type, as encoding/json does, so that writing a value does
// not ask reflect about its type again.
type encoder func(w *strWriter, v reflect.Value, quoted bool)

var encoders sync.Map // reflect.Type → encoder

func encoderOf(t reflect.Type) encoder {
	if e, ok := encoders.Load(t); ok {
		return e.(encoder)
	}
	// A recursive type meets itself while its encoder is made: it gets one
	// that waits for the real one.
	var (
		wg   sync.WaitGroup
		real encoder
	)
	wg.Add(1)
	e, loaded := encoders.LoadOrStore(t, encoder(func(w *strWriter, v reflect.Value, quoted bool) {
		wg.Wait()
		real(w, v, quoted)
	}))
	if loaded {
		return e.(encoder)
	}
	real = newEncoder(t)
	wg.Done()
	encoders.Store(t, real)
	return real
}

func newEncoder(t reflect.Type) encoder {
	byKind := kindEncoder(t)
	switch {
	case t == timeType:
		return func(w *strWriter, v reflect.Value, quoted bool) {
			if !v.CanInterface() {
				byKind(w, v, quoted)
				return
			}
			if w.count() {
				w.maybeQuoted(v.Interface().(time.Time).Round(0).String(), quoted)
			}
		}
	case t.Kind() != reflect.Interface && (t.Implements(stringerType) || t.Implements(errorType)):
		nilable := false
		switch t.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
			nilable = true
		}
		return func(w *strWriter, v reflect.Value, quoted bool) {
			if !v.CanInterface() {
				byKind(w, v, quoted)
				return
			}
			if !w.count() {
				return
			}
			if nilable && v.IsNil() {
				w.b = append(w.b, "<nil>"...)
				return
			}
			s, err := callString(v.Interface())
			if err != nil {
				w.err = err
				return
			}
			w.maybeQuoted(s, quoted)
		}
	}
	return byKind
}

// kindEncoder writes values by their kind alone.
func kindEncoder(t reflect.Type) encoder {
	switch t.Kind() {
	case reflect.String:
		return func(w *strWriter, v reflect.Value, quoted bool) {
			if w.count() {
				w.maybeQuoted(v.String(), quoted)
			}
		}
	case reflect.Bool:
		return func(w *strWriter, v reflect.Value, _ bool) {
			if w.count() {
				w.b = appendPyBool(w.b, v.Bool())
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(w *strWriter, v reflect.Value, _ bool) {
			if w.count() {
				w.b = strconv.AppendInt(w.b, v.Int(), 10)
			}
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(w *strWriter, v reflect.Value, _ bool) {
			if w.count() {
				w.b = strconv.AppendUint(w.b, v.Uint(), 10)
			}
		}
	case reflect.Float32, reflect.Float64:
		bits := t.Bits()
		return func(w *strWriter, v reflect.Value, _ bool) {
			if w.count() {
				w.b = appendPyFloat(w.b, v.Float(), bits)
			}
		}
	case reflect.Interface:
		return func(w *strWriter, v reflect.Value, quoted bool) {
			if v.IsNil() {
				if w.count() {
					w.b = append(w.b, "None"...)
				}
				return
			}
			e := v.Elem()
			encoderOf(e.Type())(w, e, quoted)
		}
	case reflect.Pointer:
		elem := encoderOf(t.Elem())
		return func(w *strWriter, v reflect.Value, quoted bool) {
			if !w.count() {
				return
			}
			if v.IsNil() {
				w.b = append(w.b, "<nil>"...)
				return
			}
			if w.enter(v, "...") {
				elem(w, v.Elem(), quoted)
				w.leave()
			}
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return func(w *strWriter, v reflect.Value, _ bool) {
				if w.count() {
					w.b = appendPyBytes(w.b, v)
				}
			}
		}
		enc, slice := encoderOf(t.Elem()), t.Kind() == reflect.Slice
		return func(w *strWriter, v reflect.Value, _ bool) {
			if !w.count() {
				return
			}
			if slice && !w.enter(v, "[...]") {
				return
			}
			w.b = append(w.b, '[')
			for i := range v.Len() {
				if i > 0 {
					w.b = append(w.b, ", "...)
				}
				enc(w, v.Index(i), true)
			}
			w.b = append(w.b, ']')
			if slice {
				w.leave()
			}
		}
	case reflect.Map:
		return func(w *strWriter, v reflect.Value, _ bool) {
			if w.count() && w.enter(v, "{...}") {
				w.dict(v)
				w.leave()
			}
		}
	case reflect.Struct:
		name, fields, encs := t.Name(), make([]string, t.NumField()), make([]encoder, t.NumField())
		if name == "" {
			name = "struct"
		}
		for i := range fields {
			fields[i], encs[i] = t.Field(i).Name, encoderOf(t.Field(i).Type)
		}
		return func(w *strWriter, v reflect.Value, _ bool) {
			if !w.count() {
				return
			}
			w.b = append(w.b, name...)
			w.b = append(w.b, '(')
			for i, f := range fields {
				if i > 0 {
					w.b = append(w.b, ", "...)
				}
				w.b = append(w.b, f...)
				w.b = append(w.b, '=')
				encs[i](w, v.Field(i), true)
			}
			w.b = append(w.b, ')')
		}
	}
	return func(w *strWriter, v reflect.Value, quoted bool) {
		if !w.count() {
			return
		}
		if !v.CanInterface() {
			w.b = append(w.b, v.String()...) // "<T Value>" for what cannot be read
			return
		}
		s, err := callString(v.Interface())
		if err != nil {
			w.err = err
			return
		}
		w.maybeQuoted(s, quoted)
	}
}

// enter records that the container v is being written, or writes again
// for a container met inside itself and reports false.
func (w *strWriter) enter(v reflect.Value, again string) bool {
	id := visit{kind: v.Kind(), ptr: v.Pointer()}
	if v.Kind() == reflect.Slice {
		id.len = v.Len()
	}
	for _, p := range w.path {
		if p == id {
			w.b = append(w.b, again...)
			return false
		}
	}
	w.path = append(w.path, id)
	return true
}

func (w *strWriter) leave() { w.path = w.path[:len(w.path)-1] }

func (w *strWriter) maybeQuoted(s string, quoted bool) {
	if quoted {
		w.b = appendPyRepr(w.b, s)
		return
	}
	w.b = append(w.b, s...)
}

// callString returns the String or Error method's text of v, or what
// fmt.Sprint writes for other values. A method that panics is an error:
// values that panic alike would otherwise share a text.
func callString(v any) (s string, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = "", fmt.Errorf("the String or Error method of a %T panicked", v)
		}
	}()
	switch x := v.(type) {
	case error:
		return x.Error(), nil
	case fmt.Stringer:
		return x.String(), nil
	}
	return fmt.Sprint(v), nil
}

// dict writes a map with its entries sorted by key text, then by value
// text, so that the text does not depend on Go's iteration order.
func (w *strWriter) dict(v reflect.Value) {
	type kv struct{ k, v string }
	pairs := make([]kv, 0, v.Len())
	for it := v.MapRange(); it.Next(); {
		pairs = append(pairs, kv{w.sub(it.Key()), w.sub(it.Value())})
		if w.err != nil {
			return
		}
	}
	slices.SortFunc(pairs, func(a, b kv) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	w.b = append(w.b, '{')
	for i, p := range pairs {
		if i > 0 {
			w.b = append(w.b, ", "...)
		}
		w.b = append(w.b, p.k...)
		w.b = append(w.b, ": "...)
		w.b = append(w.b, p.v...)
	}
	w.b = append(w.b, '}')
}

// sub returns the quoted text of v, written apart from the text so far,
// within the same bounds.
func (w *strWriter) sub(v reflect.Value) string {
	outer := w.b
	w.b = nil
	w.value(v, true)
	s := string(w.b)
	w.b = outer
	return s
}

// appendPyFloat appends f as Python's repr of a float writes it: the
// shortest digits that read back as f, in positional notation when the
// decimal exponent is in (-4, 16] and with ".0" when integral, else as
// 1.5e+16; "inf", "-inf", "nan".
func appendPyFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "nan"...)
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, bits) // [-]d[.ddd]e±xx
	if e[0] == '-' {
		b = append(b, '-')
		e = e[1:]
	}
	mant, exp, _ := strings.Cut(string(e), "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	decpt := x + 1 // digits × 10^(decpt - len(digits))
	if decpt > -4 && decpt <= 16 {
		switch {
		case decpt <= 0:
			b = append(b, "0."...)
			for range -decpt {
				b = append(b, '0')
			}
			return append(b, digits...)
		case decpt >= len(digits):
			b = append(b, digits...)
			for range decpt - len(digits) {
				b = append(b, '0')
			}
			return append(b, ".0"...)
		}
		b = append(b, digits[:decpt]...)
		b = append(b, '.')
		return append(b, digits[decpt:]...)
	}
	b = append(b, digits[0])
	if len(digits) > 1 {
		b = append(b, '.')
		b = append(b, digits[1:]...)
	}
	b = append(b, 'e')
	if x < 0 {
		b = append(b, '-')
		x = -x
	} else {
		b = append(b, '+')
	}
	if x < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(x), 10)
}

// pyQuote is the quote Python's repr picks: ' unless the text holds ' and
// no ".
func pyQuote(s string) byte {
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		return '"'
	}
	return '\''
}

// appendPyRepr appends s as Python's repr of a str writes it.
func appendPyRepr(b []byte, s string) []byte {
	plain := true // printable ASCII without quotes or backslashes
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c >= ' ' && c < 0x7f && c != '\\' && c != '\'' && c != '"'
	}
	if plain {
		b = append(b, '\'')
		b = append(b, s...)
		return append(b, '\'')
	}
	q := pyQuote(s)
	b = append(b, q)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = appendHexEscape(b, 'x', uint32(s[i]), 2) // not UTF-8: the byte
			i++
			continue
		}
		i += size
		switch {
		case r == rune(q) || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\t':
			b = append(b, `\t`...)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r < ' ' || r == 0x7f:
			b = appendHexEscape(b, 'x', uint32(r), 2)
		case r < 0x80 || unicode.IsPrint(r):
			b = utf8.AppendRune(b, r)
		case r <= 0xff:
			b = appendHexEscape(b, 'x', uint32(r), 2)
		case r <= 0xffff:
			b = appendHexEscape(b, 'u', uint32(r), 4)
		default:
			b = appendHexEscape(b, 'U', uint32(r), 8)
		}
	}
	return append(b, q)
}

// appendPyBytes appends a byte slice or array as Python's repr of bytes
// writes it: b'...'.
func appendPyBytes(b []byte, v reflect.Value) []byte {
	raw := make([]byte, v.Len())
	for i := range raw {
		raw[i] = byte(v.Index(i).Uint())
	}
	q := pyQuote(string(raw))
	b = append(b, 'b', q)
	for _, c := range raw {
		switch {
		case c == q || c == '\\':
			b = append(b, '\\', c)
		case c == '\t':
			b = append(b, `\t`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c < ' ' || c >= 0x7f:
			b = appendHexEscape(b, 'x', uint32(c), 2)
		default:
			b = append(b, c)
		}
	}
	return append(b, q)
}

func appendHexEscape(b []byte, kind byte, v uint32, width int) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '\\', kind)
	for i := width - 1; i >= 0; i-- {
		b = append(b, hex[(v>>(4*uint(i)))&0xf])
	}
	return b
}
