package dogpile

import (
	"fmt"
	"strings"
)

// FuncInfo identifies a cached function to a key generator.
type FuncInfo struct {
	// Package is the function's import path, like Python's __module__.
	Package string
	// Name is the function's name: "LoadUser", "(*Store).Load".
	Name string
	// Namespace is the function's namespace, when HasNamespace says one
	// was given (see Namespace); an empty namespace is one too, as in
	// Python, where only None means none.
	Namespace    string
	HasNamespace bool
	// ArgNames are the parameter names, when the caller declared them
	// (see ArgNames).
	ArgNames []string
	// ToStr turns one argument into its key text: ToStr unless ToStrFunc
	// replaced it.
	ToStr func(any) (string, error)
}

// KeyGenerator makes the key function of one function cached with Cache0
// … Cache3 (dogpile.cache's function_key_generator). The key function's
// error fails the call whose arguments it could not key.
type KeyGenerator func(fn FuncInfo) func(args ...any) (string, error)

// MultiKeyGenerator makes the key function of one function cached with
// CacheMulti: one key per argument, in order (dogpile.cache's
// function_multi_key_generator).
type MultiKeyGenerator func(fn FuncInfo) func(args ...any) ([]string, error)

// keyPrefix is "<package>:<name>", with "|<namespace>" when there is one.
func keyPrefix(fn FuncInfo) string {
	p := fn.Package + ":" + fn.Name
	if fn.HasNamespace {
		p += "|" + fn.Namespace
	}
	return p
}

func toStrOf(fn FuncInfo) func(any) (string, error) {
	if fn.ToStr == nil {
		return ToStr
	}
	return fn.ToStr
}

// FunctionKeyGenerator is dogpile.cache's default key generator:
// "<package>:<name>|<namespace>|<args joined by spaces>", without the
// namespace part when none was given. Keys are not escaped, as in
// dogpile.cache: arguments containing spaces can collide.
func FunctionKeyGenerator(fn FuncInfo) func(args ...any) (string, error) {
	toStr := toStrOf(fn)
	prefix := keyPrefix(fn) + "|"
	return func(args ...any) (string, error) {
		var b strings.Builder
		b.WriteString(prefix)
		for i, a := range args {
			if i > 0 {
				b.WriteByte(' ')
			}
			s, err := toStr(a)
			if err != nil {
				return "", argError(i, err)
			}
			b.WriteString(s)
		}
		return b.String(), nil
	}
}

// argError names the argument whose text could not be made.
func argError(i int, err error) error {
	return fmt.Errorf("key of argument %d: %w", i+1, err)
}

// FunctionMultiKeyGenerator is dogpile.cache's default multi key
// generator: "<package>:<name>|<namespace>|<arg>" for each argument.
func FunctionMultiKeyGenerator(fn FuncInfo) func(args ...any) ([]string, error) {
	toStr := toStrOf(fn)
	prefix := keyPrefix(fn) + "|"
	return func(args ...any) ([]string, error) {
		keys := make([]string, len(args))
		for i, a := range args {
			s, err := toStr(a)
			if err != nil {
				return nil, argError(i, err)
			}
			keys[i] = prefix + s
		}
		return keys, nil
	}
}
