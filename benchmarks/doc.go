// Package benchmarks compares dogpile with its peers side by side, in one
// process and one run: `go test -run '^$' -bench . -benchmem` in this
// directory. It is a module of its own, so that the peers stay out of the
// main module's dependencies.
package benchmarks
