package dogpile_test

// mustKey returns a key known to be computable; a test that hits an error
// here fails by the panic.
func mustKey[K any](k K, err error) K {
	if err != nil {
		panic(err)
	}
	return k
}

// mustStr is mustKey for ToStr.
func mustStr(s string, err error) string { return mustKey(s, err) }

// must returns v, or panics with err: for constructors that cannot fail
// with the arguments a test gives them.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
