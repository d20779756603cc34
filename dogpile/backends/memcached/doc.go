// Package memcached is the Memcached backend of dogpile regions, built on
// github.com/bradfitz/gomemcache/memcache. Importing it registers the
// backend under dogpile.cache's names: "dogpile.cache.memcached" and the
// aliases "dogpile.cache.pylibmc", "dogpile.cache.bmemcached" and
// "dogpile.cache.pymemcache", which all build the same backend.
//
//	import _ "github.com/dogpilego/dogpile/dogpile/backends/memcached"
//
//	err := region.Configure("dogpile.cache.memcached", dogpile.Config{
//		ExpirationTime: 10 * time.Minute,
//		Arguments: dogpile.Arguments{
//			"url":              "10.0.0.1:11211, 10.0.0.2:11211",
//			"distributed_lock": true,
//		},
//	})
//
// # Values
//
// The backend is a dogpile.BytesBackend: it stores the region's wire
// format (`{"ct": ..., "v": 2}|<payload>`) as raw bytes with item flags 0,
// which Python's memcached clients return as bytes, so a Python region
// with a JSON serializer shares entries with Go. Entries pickled by a
// Python client without a serializer are not in the wire format and are a
// miss to Go regions. A read of several keys is one multi-key get per
// server. memcached's text protocol has no multi-key set or delete, so
// SetBytesMulti and DeleteMulti send one command per key.
//
// # Arguments
//
// Arguments use dogpile.cache's names; numbers of seconds may also be
// given as time.Duration values or Go duration strings.
//
//	url                    required (unless client): "host:port", a list of them, or
//	                       "host1:port1, host2:port2"; a missing port is 11211, a path or
//	                       "unix:/path" is a unix socket. Keys are spread over several
//	                       servers by the memcache client's selection (CRC-32 of the key
//	                       modulo the number of servers), not Python's: Go and Python
//	                       processes share entries only through a single server.
//	memcached_expire_time  server-side TTL of values in seconds; 0 for none. When not set,
//	                       derived from the region's expiration (see below).
//	distributed_lock       false; true makes the dogpile lock span processes (see below).
//	lock_timeout           seconds a lock lives at most; 0 or not set: DefaultLockTimeout (30 s).
//	socket_timeout         seconds every network read, write and dial may take: 0.5 s by
//	                       default (memcache.DefaultTimeout).
//	tls_context            a *tls.Config: connect with TLS.
//	socket_keepalive       true (Go's default probes), false (none), or a period in seconds.
//	username, password     memcached's ASCII authentication (a server started with -Y).
//	                       Binary-protocol SASL is not supported.
//	max_idle_conns         (Go only) idle connections kept per server: DefaultMaxIdleConns (16).
//	mangle_invalid_keys    (Go only) true: keys memcached refuses are stored under a hash
//	                       (see MangleKey); false: they are an error.
//	client                 (Go only) a *memcache.Client to use as it is; the connection
//	                       arguments above are then errors. Close leaves it open.
//
// Python's arguments that mean nothing with this client (dead_retry,
// min_compress_len, binary, behaviors, serde, default_noreply,
// enable_retry_client, retry_attempts, retry_delay, retry_for,
// do_not_retry_for, hashclient_retry_attempts, hashclient_retry_timeout,
// hashclient_dead_timeout) are accepted and logged once, so a Python
// configuration works unchanged. Any other name is an error.
//
// # Keys
//
// memcached takes keys of at most 250 bytes without spaces or control
// characters (dogpile.cache issue #182). A key it would refuse is never
// sent as it is: by default it is stored under MangleKey(key), a readable
// prefix of the key followed by "~sha256:" and the SHA-256 of the whole
// key, which memcached accepts and no other key maps to. Valid keys,
// including UTF-8 ones (memcached counts bytes), are stored unchanged, so
// Python processes find them. With mangle_invalid_keys false, such keys
// are refused with an error wrapping dogpile.ErrInvalidArgument, and
// nothing is sent. Lock keys follow the same rule.
//
// # Server-side expiry
//
// dogpile's expiry is logical: an expired value is still read, to be
// served while one caller regenerates it. The server must therefore keep
// values longer than the region's expiration time, yet not for ever
// (dogpile.cache issue #230). Unless memcached_expire_time is given, the
// TTL is twice the region's expiration time rounded up to whole seconds,
// plus one second; a region that never expires stores values without a
// TTL. memcached reads TTLs over 30 days as absolute unix times: such TTLs
// are sent as now plus the TTL. memcached counts whole seconds on a clock
// that ticks once a second, so an item with a TTL of n seconds lives
// between n-1 and n seconds.
//
// # The distributed lock
//
// With distributed_lock true, the region's dogpile lock spans processes
// and machines through the item "_lock" + key, taken with memcached's add
// as Python's MemcachedLock does, so Go and Python processes exclude each
// other. Unlike Python's, the lock always expires (lock_timeout, 30 s by
// default, plus one second), a blocking wait polls with a bounded,
// jittered backoff (10 ms doubling up to 500 ms) and gives up when its
// context ends or after the lock's lifetime and half a second
// (ErrLockTimeout), and a release deletes the lock only when it
// still holds the holder's random token (gets, then cas with an expiry in
// the past), reporting dogpile.ErrLockLost otherwise.
//
// # Failures
//
// Errors are prefixed "dogpile/memcached:" and wrap the client's error, or
// the context's when it ended before an operation started. A miss is not
// an error. A server that is down gives an error within socket_timeout; a
// connection the server closed (after a restart) is replaced and the
// operation tried once more. Regions built with dogpile.WithFailOpen treat
// such errors as misses.
package memcached
