// Package driver is the contract between dogpile regions and the backends
// that store their entries, as database/sql/driver is for database/sql.
// Backend authors implement it; applications use package dogpile and rarely
// import this one.
//
// # Backends
//
// A backend implements Backend and one of two kinds:
//
//   - ValueBackend keeps CachedValues as Go values, as they are, like the
//     memory backend: a hit neither copies nor decodes.
//   - BytesBackend keeps bytes, like Redis or Memcached: the region encodes
//     each entry in dogpile.cache's own wire format (EncodeEntry) and
//     decodes what it reads (DecodeEntry); the backend only moves bytes.
//
// It may also implement Locker, to give regions a distributed dogpile lock,
// ExpirationAware, to derive a server-side time to live from the region's
// expiration time, and io.Closer, to release its connections when its
// region is closed. Keys reach a backend already mangled by the region.
//
// # The registry
//
// Backend packages register a Factory under each of their names from init,
// as database/sql drivers do; a region configured by name calls Open.
// Factories read their arguments, under dogpile.cache's names, through an
// ArgParser, which rejects names nobody reads.
//
// # The wire format
//
// Every byte-storing backend holds entries as
//
//	{"ct": <creation time, unix seconds as a float>, "v": 2}|<payload>
//
// where the payload is the region codec's bytes. This is dogpile.cache's
// own serialized format (version 1.1 and later), so a Python process
// configured with a JSON serializer reads and writes the same entries.
//
// # Proxies
//
// A Proxy wraps a backend in another that changes some of its behaviour
// (dogpile.cache's ProxyBackend); embed ProxyBackend and override what the
// proxy changes.
//
// The conformance suite in package dogpiletest checks a backend against
// this contract.
package driver
