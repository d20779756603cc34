// Package pyinterop holds the tests that share one Redis and one Memcached
// server between this library and Python's dogpile.cache (the Debian
// package python3-dogpile.cache), through testdata/peer.py: each reads the
// other's entries, each respects the other's distributed lock, and a
// function cached with Cache1 and FuncName finds the values that Python's
// cache_on_arguments stored under the same module and function name.
package pyinterop
