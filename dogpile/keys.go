package dogpile

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// FuncInfo identifies a cached function to a key generator.
type FuncInfo struct {
	// Package is the function's import path, like Python's __module__.
	Package string
	// Name is the function's name: "LoadUser", "(*Store).Load".
	Name string
	// ArgNames are the parameter names, when the caller declared them
	// (see ArgNames); KwargKeyGenerator orders the arguments by them.
	ArgNames []string
}

// KeyGenerator makes the key function for one cached function
// (dogpile.cache's function_key_generator). toStr turns one argument into
// its key text.
type KeyGenerator func(namespace string, fn FuncInfo, toStr func(any) string) func(args ...any) string

// MultiKeyGenerator makes the key function of a multi function: one key
// per argument (dogpile.cache's function_multi_key_generator).
type MultiKeyGenerator func(namespace string, fn FuncInfo, toStr func(any) string) func(args ...any) []string

// ToStr is the default argument formatter of key generators: the text
// fmt.Sprint gives, computed without fmt for strings, integers and bools.
func ToStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	}
	if b, ok := appendScalar(nil, v); ok {
		return string(b)
	}
	return fmt.Sprint(v)
}

// appendScalar appends the text of a string, an integer or a bool to b.
// It reports false for other types. Being generic over concrete cases only,
// it does not box v.
func appendScalar[T any](b []byte, v T) ([]byte, bool) {
	switch x := any(v).(type) {
	case string:
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
		return strconv.AppendBool(b, x), true
	}
	return b, false
}

// keyPrefix is "<package>:<name>" with "|<namespace>" when there is one.
func keyPrefix(namespace string, fn FuncInfo) string {
	p := fn.Package + ":" + fn.Name
	if namespace != "" {
		p += "|" + namespace
	}
	return p
}

// FunctionKeyGenerator is dogpile.cache's default key generator:
// "<package>:<name>|<namespace>|<args joined by spaces>", without the
// namespace part when namespace is empty. Keys are not escaped, as in
// dogpile.cache: arguments containing spaces can collide.
func FunctionKeyGenerator(namespace string, fn FuncInfo, toStr func(any) string) func(args ...any) string {
	if toStr == nil {
		toStr = ToStr
	}
	prefix := keyPrefix(namespace, fn) + "|"
	return func(args ...any) string {
		switch len(args) {
		case 0:
			return prefix
		case 1:
			return prefix + toStr(args[0])
		}
		var b strings.Builder
		b.WriteString(prefix)
		for i, a := range args {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(toStr(a))
		}
		return b.String()
	}
}

// FunctionMultiKeyGenerator is dogpile.cache's default multi key
// generator: one key "<package>:<name>|<namespace>|<arg>" per argument.
func FunctionMultiKeyGenerator(namespace string, fn FuncInfo, toStr func(any) string) func(args ...any) []string {
	if toStr == nil {
		toStr = ToStr
	}
	prefix := keyPrefix(namespace, fn) + "|"
	return func(args ...any) []string {
		keys := make([]string, len(args))
		for i, a := range args {
			keys[i] = prefix + toStr(a)
		}
		return keys
	}
}

// KwargKeyGenerator is dogpile.cache's kwarg_function_key_generator: the
// arguments are ordered by parameter name, so keys do not depend on the
// order of the parameters. The names come from FuncInfo.ArgNames (declared
// with the ArgNames function option); without names it behaves as
// FunctionKeyGenerator.
func KwargKeyGenerator(namespace string, fn FuncInfo, toStr func(any) string) func(args ...any) string {
	plain := FunctionKeyGenerator(namespace, fn, toStr)
	if len(fn.ArgNames) == 0 {
		return plain
	}
	order := make([]int, len(fn.ArgNames))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(fn.ArgNames[a], fn.ArgNames[b]) })
	return func(args ...any) string {
		if len(args) != len(order) {
			return plain(args...)
		}
		sorted := make([]any, len(args))
		for i, j := range order {
			sorted[i] = args[j]
		}
		return plain(sorted...)
	}
}

// SHA1MangleKey replaces a key by its SHA-1 in hex, 40 characters
// (dogpile.cache's sha1_mangle_key).
func SHA1MangleKey(key string) string {
	sum := sha1.Sum([]byte(key))
	return hex.EncodeToString(sum[:])
}

// LengthConditionalMangler applies mangler only to keys of at least length
// bytes (dogpile.cache's length_conditional_mangler).
func LengthConditionalMangler(length int, mangler func(string) string) func(string) string {
	return func(key string) string {
		if len(key) >= length {
			return mangler(key)
		}
		return key
	}
}
