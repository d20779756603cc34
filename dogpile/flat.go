package dogpile

// Keys of structs of scalar fields, the common argument of a cached
// query, written without boxing the struct or asking reflect about it on
// each call: the fields are read at offsets worked out once per type.

import (
	"reflect"
	"strconv"
	"unsafe"
)

// flatPlan writes a struct whose fields are all strings, integers,
// booleans and floats without String or Error methods, as ToStr writes
// it: Name(Field=value, ...).
type flatPlan struct {
	name   string
	fields []flatField
}

type flatField struct {
	prefix string // ", Name=" ("Name=" for the first)
	off    uintptr
	kind   reflect.Kind
}

// flatPlanFor returns the plan of T, or nil when T is not such a struct.
func flatPlanFor[T any]() *flatPlan {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct || typeHasMethod(t) {
		return nil
	}
	p := &flatPlan{name: t.Name()}
	if p.name == "" {
		p.name = "struct"
	}
	for i := range t.NumField() {
		f := t.Field(i)
		switch f.Type.Kind() {
		case reflect.String, reflect.Bool,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
			reflect.Float32, reflect.Float64:
		default:
			return nil
		}
		if f.Type == timeType || typeHasMethod(f.Type) {
			return nil
		}
		prefix := f.Name + "="
		if i > 0 {
			prefix = ", " + prefix
		}
		p.fields = append(p.fields, flatField{prefix: prefix, off: f.Offset, kind: f.Type.Kind()})
	}
	return p
}

func typeHasMethod(t reflect.Type) bool { return t.Implements(stringerType) || t.Implements(errorType) }

// appendFlat appends the text of the struct at p, of the plan's type.
func (fp *flatPlan) appendFlat(b []byte, p unsafe.Pointer) []byte {
	b = append(b, fp.name...)
	b = append(b, '(')
	for _, f := range fp.fields {
		b = append(b, f.prefix...)
		a := unsafe.Add(p, f.off)
		switch f.kind {
		case reflect.String:
			b = appendPyRepr(b, *(*string)(a))
		case reflect.Bool:
			b = appendPyBool(b, *(*bool)(a))
		case reflect.Int:
			b = strconv.AppendInt(b, int64(*(*int)(a)), 10)
		case reflect.Int8:
			b = strconv.AppendInt(b, int64(*(*int8)(a)), 10)
		case reflect.Int16:
			b = strconv.AppendInt(b, int64(*(*int16)(a)), 10)
		case reflect.Int32:
			b = strconv.AppendInt(b, int64(*(*int32)(a)), 10)
		case reflect.Int64:
			b = strconv.AppendInt(b, *(*int64)(a), 10)
		case reflect.Uint:
			b = strconv.AppendUint(b, uint64(*(*uint)(a)), 10)
		case reflect.Uint8:
			b = strconv.AppendUint(b, uint64(*(*uint8)(a)), 10)
		case reflect.Uint16:
			b = strconv.AppendUint(b, uint64(*(*uint16)(a)), 10)
		case reflect.Uint32:
			b = strconv.AppendUint(b, uint64(*(*uint32)(a)), 10)
		case reflect.Uint64:
			b = strconv.AppendUint(b, *(*uint64)(a), 10)
		case reflect.Uintptr:
			b = strconv.AppendUint(b, uint64(*(*uintptr)(a)), 10)
		case reflect.Float32:
			b = appendPyFloat(b, float64(*(*float32)(a)), 32)
		case reflect.Float64:
			b = appendPyFloat(b, *(*float64)(a), 64)
		}
	}
	return append(b, ')')
}
