package driver_test

// must returns v, or panics with err: for constructors that cannot fail
// with the arguments a test gives them.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
