package htmltmpl

import (
	"fmt"
	"reflect"
	"sync"
)

// A fragment's keys for vary values are kept, when the values are plain
// data whose encoding in the key depends on nothing but their bits, so
// that a hit costs a map lookup instead of encoding and hashing them
// (cachedEach keys every item of its collection).
const (
	// maxMemoVary is the most vary values (a collection's item counts as
	// one) whose key is kept.
	maxMemoVary = 4
	// maxMemoKeys bounds the keys a fragment keeps: past it, it forgets
	// them all and starts again.
	maxMemoKeys = 1024
)

// memoKey is a tuple of vary values of plain types, usable as a map key.
type memoKey struct {
	n int
	v [maxMemoVary]any
}

// keyMemo holds a fragment's keys by vary values.
type keyMemo struct {
	mu sync.RWMutex
	m  map[memoKey]string
}

// memoKeyOf returns vary as a memoKey, when every value is plain.
func memoKeyOf(vary []any) (memoKey, bool) {
	if len(vary) > maxMemoVary {
		return memoKey{}, false
	}
	k := memoKey{n: len(vary)}
	for i, v := range vary {
		if v != nil && !plainType(reflect.TypeOf(v)) {
			return memoKey{}, false
		}
		k.v[i] = v
	}
	return k, true
}

// lookup returns the key kept for k.
func (m *keyMemo) lookup(k memoKey) (string, bool) {
	m.mu.RLock()
	key, ok := m.m[k]
	m.mu.RUnlock()
	return key, ok
}

// keep records key for k.
func (m *keyMemo) keep(k memoKey, key string) {
	m.mu.Lock()
	if m.m == nil || len(m.m) >= maxMemoKeys {
		m.m = make(map[memoKey]string)
	}
	m.m[k] = key
	m.mu.Unlock()
}

// key returns the key of fragment f for vary (in the default escaping
// state), from the memo when it can.
func (f *fragment) varyKey(vary []any) (string, error) {
	mk, plain := memoKeyOf(vary)
	if plain {
		if key, ok := f.memo.lookup(mk); ok {
			return key, nil
		}
	}
	key, err := f.keyFunc("", vary...)
	if err == nil && plain {
		f.memo.keep(mk, key)
	}
	return key, err
}

var (
	plainTypes   sync.Map // reflect.Type -> bool
	stringerType = reflect.TypeFor[fmt.Stringer]()
	errorType    = reflect.TypeFor[error]()
)

// plainType reports whether values of t are plain data: booleans,
// integers, strings, and arrays and structs of them, without methods that
// give them a text of their own, without blank fields (which == ignores).
// Two such values are == exactly when their encodings in a key are equal,
// and neither ever changes. Floats are not plain (NaN is not == itself, and
// -0 == 0 although they are written differently), nor are pointers,
// interfaces, slices and maps, which refer to data that can change.
func plainType(t reflect.Type) bool {
	if p, ok := plainTypes.Load(t); ok {
		return p.(bool)
	}
	p := isPlain(t)
	plainTypes.Store(t, p)
	return p
}

func isPlain(t reflect.Type) bool {
	for _, x := range []reflect.Type{t, reflect.PointerTo(t)} {
		if x.Implements(stringerType) || x.Implements(errorType) {
			return false
		}
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	case reflect.Array:
		return isPlain(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.Name == "_" || !isPlain(f.Type) {
				return false
			}
		}
		return true
	}
	return false
}
