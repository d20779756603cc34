// Package pyinterop holds the tests that share one Redis and one Memcached
// server between this library and Python's dogpile.cache (the Debian
// package python3-dogpile.cache), through testdata/peer.py: each reads the
// other's entries, and each respects the other's distributed lock.
package pyinterop
