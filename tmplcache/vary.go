package tmplcache

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
)

// The bounds of a vary value that is not a common scalar. Depth counts the
// steps dogpile.ToStr takes to reach a value, one for each pointer,
// interface, element, map entry and field followed; ToStr stops 32 steps
// down, so that a value within maxVaryDepth is always written in full. The
// other bounds keep the work of writing a value that shares its parts (a
// list holding one map many times) in proportion to its size.
const (
	maxVaryDepth = 24
	maxVaryNodes = 1 << 14
	maxVaryText  = 1 << 20
)

var (
	errVaryDeep  = fmt.Errorf("it refers to itself or nests more than %d steps deep", maxVaryDepth)
	errVaryLarge = fmt.Errorf("it holds more than %d values or %d bytes of text", maxVaryNodes, maxVaryText)
	errVaryPanic = errors.New("its String or Error method panics")
)

// varyText returns dogpile.ToStr(v), or why it would not tell v from other
// values of its type.
func varyText(v any) (string, error) {
	b := varyBudget{nodes: maxVaryNodes, text: maxVaryText}
	if err := b.check(reflect.ValueOf(v), 0); err != nil {
		return "", err
	}
	s, err := dogpile.ToStr(v)
	if err != nil {
		return "", errVaryPanic // within the bounds, only a panicking method fails
	}
	return s, nil
}

var (
	stringerType = reflect.TypeFor[fmt.Stringer]()
	errorType    = reflect.TypeFor[error]()
	timeType     = reflect.TypeFor[time.Time]()
)

// varyBudget is what is left of the bounds while a value is checked.
type varyBudget struct{ nodes, text int }

// check walks v as dogpile.ToStr does, without calling any method, and
// reports whether ToStr would write it in full within the bounds.
func (b *varyBudget) check(v reflect.Value, depth int) error {
	if !v.IsValid() {
		return nil
	}
	if depth > maxVaryDepth {
		return errVaryDeep
	}
	if b.nodes--; b.nodes < 0 {
		return errVaryLarge
	}
	t := v.Type()
	if v.CanInterface() && (t == timeType || t.Implements(stringerType) || t.Implements(errorType)) {
		return nil // written by its method
	}
	switch t.Kind() {
	case reflect.String:
		return b.spend(v.Len())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return b.check(v.Elem(), depth+1)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return b.spend(v.Len())
		}
		for i := range v.Len() {
			if err := b.check(v.Index(i), depth+1); err != nil {
				return err
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if err := b.check(it.Key(), depth+1); err != nil {
				return err
			}
			if err := b.check(it.Value(), depth+1); err != nil {
				return err
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if err := b.check(v.Field(i), depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// spend takes n bytes of text from the budget.
func (b *varyBudget) spend(n int) error {
	if b.text -= n; b.text < 0 {
		return errVaryLarge
	}
	return nil
}
