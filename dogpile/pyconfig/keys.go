package pyconfig

import (
	"crypto/sha1"
	"encoding/hex"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/dogpilego/dogpile/dogpile"
)

// KwargKeyGenerator is dogpile.cache's kwarg_function_key_generator, for
// dogpile.WithKeyGenerator: the arguments are ordered by parameter name,
// so that keys do not depend on the order of the parameters. The names
// come from FuncInfo.ArgNames, declared with dogpile.ArgNames; without
// them it is dogpile.FunctionKeyGenerator.
func KwargKeyGenerator(fn dogpile.FuncInfo) func(args ...any) (string, error) {
	plain := dogpile.FunctionKeyGenerator(fn)
	if len(fn.ArgNames) == 0 {
		return plain
	}
	order := make([]int, len(fn.ArgNames))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(fn.ArgNames[a], fn.ArgNames[b]) })
	return func(args ...any) (string, error) {
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
// (dogpile.cache's sha1_mangle_key), for dogpile.WithKeyMangler.
func SHA1MangleKey(key string) string {
	sum := sha1.Sum([]byte(key))
	return hex.EncodeToString(sum[:])
}

// LengthConditionalMangler applies mangler only to keys of at least length
// characters (dogpile.cache's length_conditional_mangler). Characters are
// counted as Python counts them, one per code point, not per byte.
func LengthConditionalMangler(length int, mangler func(string) string) func(string) string {
	return func(key string) string {
		if utf8.RuneCountInString(key) >= length {
			return mangler(key)
		}
		return key
	}
}
