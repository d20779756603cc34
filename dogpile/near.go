package dogpile

// Entries of a near cache (driver.NearBackend): the header parsed and the
// value decoded once per entry, kept in the entry's Memo, so that a hit
// costs neither (a near cache hands out the same bytes for one entry until
// it is written anew); values are shared between callers only when no
// caller can change them.

import (
	"context"
	"reflect"
	"sync"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// memoValue is what a region keeps in an entry's Memo.
type memoValue struct {
	md      driver.Metadata
	payload any          // the entry's rawPayload, boxed once
	t       reflect.Type // the type the value was decoded as, or nil
	v       any
}

// loadNear reads key from a near cache into p.
func (st *regionState) loadNear(ctx context.Context, key string, p *probe) error {
	b, memo, ok, err := st.near.GetBytesMemo(ctx, key)
	if err != nil || !ok {
		p.found = false
		return err
	}
	p.memo = memo
	if memo != nil {
		if m, ok := memo.Load(); ok {
			mv := m.(*memoValue)
			p.e, p.found, p.memoT, p.memoV = entry{Payload: mv.payload, Metadata: mv.md}, true, mv.t, mv.v
			return nil
		}
	}
	p.e, p.found = st.decodeEntry(key, b, false)
	if p.found && memo != nil {
		memo.Store(&memoValue{md: p.e.Metadata, payload: p.e.Payload})
	}
	return nil
}

// memoized returns the value an earlier hit decoded from p's entry as a
// T, if there is one. The value is kept by type: the codec may decode one
// payload differently as different types (a JSON number as an int or, into
// any, a float64).
func memoized[T any](p *probe) (T, bool) {
	if p.memoT == nil || p.memoT != reflect.TypeFor[T]() {
		var zero T
		return zero, false
	}
	v, ok := p.memoV.(T)
	return v, ok
}

// keepDecoded stores v, decoded as a T from p's entry, in the entry's
// Memo when no caller can change it through what it is given.
func keepDecoded[T any](p *probe, v T) {
	t := reflect.TypeFor[T]()
	if t.Kind() == reflect.Interface {
		if !shareable(reflect.TypeOf(any(v))) {
			return
		}
	} else if !shareable(t) {
		return
	}
	if m, ok := p.memo.Load(); ok {
		mv := *m.(*memoValue)
		mv.t, mv.v = t, v
		p.memo.Store(&mv)
	}
}

var shareableTypes sync.Map // reflect.Type → bool

// shareable reports whether values of t can be handed to several callers:
// those that hold no pointers, slices, maps or other references through
// which one caller would change what the others see.
func shareable(t reflect.Type) bool {
	if t == nil {
		return false
	}
	if s, ok := shareableTypes.Load(t); ok {
		return s.(bool)
	}
	s := shareableKind(t)
	shareableTypes.Store(t, s)
	return s
}

func shareableKind(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Array:
		return shareableKind(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !shareableKind(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}
