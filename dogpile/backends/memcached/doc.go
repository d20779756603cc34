// Package memcached is the Memcached backend of dogpile regions, built on
// github.com/bradfitz/gomemcache/memcache.
//
// From Go, build the memcache client and give it to New with typed
// Options, then to a region:
//
//	client := memcache.New("10.0.0.1:11211", "10.0.0.2:11211")
//	client.MaxIdleConns = 16
//	b, err := memcached.New(client, memcached.Options{DistributedLock: true})
//	...
//	err = region.ConfigureBackend(b, dogpile.Config{ExpirationTime: 10 * time.Minute})
//
// The client stays the caller's: closing the region leaves it open.
//
// Importing the package also registers the backend under dogpile.cache's
// names, "dogpile.cache.memcached" and the aliases "dogpile.cache.pylibmc",
// "dogpile.cache.bmemcached" and "dogpile.cache.pymemcache", which all
// build the same backend from dogpile.cache's arguments, on a client of
// their own that closing the region closes:
//
//	err := region.Configure("dogpile.cache.memcached", dogpile.Config{
//		ExpirationTime: 10 * time.Minute,
//		Arguments: map[string]any{
//			"url":              "10.0.0.1:11211, 10.0.0.2:11211",
//			"distributed_lock": true,
//		},
//	})
//
// # Values
//
// The backend is a driver.BytesBackend: it stores the region's wire
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
// The registered names take dogpile.cache's arguments; numbers of seconds
// may also be given as time.Duration values or Go duration strings.
//
//	url                    required: "host:port", a list of them, or
//	                       "host1:port1, host2:port2"; a missing port is 11211, a path or
//	                       "unix:/path" is a unix socket. Keys are spread over several
//	                       servers by the memcache client's selection (CRC-32 of the key
//	                       modulo the number of servers), not Python's: Go and Python
//	                       processes share entries only through a single server.
//	memcached_expire_time  Options.ServerTTL: the server-side TTL of values in seconds,
//	                       0 for none (NoServerTTL). When not set (or None), derived from
//	                       the region's expiration (see below).
//	distributed_lock       Options.DistributedLock: false; true makes the dogpile lock
//	                       span processes (see below).
//	lock_timeout           Options.LockTimeout: seconds a lock lives at most; 0 or not
//	                       set: DefaultLockTimeout (30 s).
//	socket_timeout         the client's Timeout: seconds every network read, write and
//	                       dial may take, 0.5 s by default (memcache.DefaultTimeout).
//	tls_context            a *tls.Config: connect with TLS.
//	socket_keepalive       true (Go's default probes), false (none), or a period in seconds.
//	username, password     memcached's ASCII authentication (a server started with -Y).
//	                       Binary-protocol SASL is not supported.
//	max_idle_conns         (Go only) the client's MaxIdleConns: idle connections kept per
//	                       server, 16 by default.
//	mangle_invalid_keys    (Go only) true, the default: keys memcached refuses are stored
//	                       under a hash (see MangleKey); false (Options.RefuseInvalidKeys):
//	                       they are an error.
//
// Python's arguments that mean nothing with this client (dead_retry,
// min_compress_len, binary, behaviors, serde, default_noreply,
// enable_retry_client, retry_attempts, retry_delay, retry_for,
// do_not_retry_for, hashclient_retry_attempts, hashclient_retry_timeout,
// hashclient_dead_timeout) are accepted and logged once, so a Python
// configuration works unchanged. Any other name is an error wrapping
// driver.ErrInvalidArgument, as is a value of the wrong kind or out of
// range.
//
// # Keys
//
// memcached takes keys of at most 250 bytes without spaces or control
// characters (dogpile.cache issue #182). A key it would refuse is never
// sent as it is: by default it is stored under MangleKey(key), a readable
// prefix of the key followed by "~sha256:" and the SHA-256 of the whole
// key, which memcached accepts and no other key maps to. Valid keys,
// including UTF-8 ones (memcached counts bytes), are stored unchanged, so
// Python processes find them. With Options.RefuseInvalidKeys
// (mangle_invalid_keys false), such keys are refused with an error wrapping driver.ErrInvalidArgument, and
// nothing is sent. Lock keys follow the same rule.
//
// # Server-side expiry
//
// dogpile's expiry is logical: an expired value is still read, to be
// served while one caller regenerates it. The server must therefore keep
// values longer than the region's expiration time, yet not for ever
// (dogpile.cache issue #230). Unless Options.ServerTTL
// (memcached_expire_time) says otherwise, the TTL is twice the region's expiration time rounded up to whole seconds,
// plus one second; a region that never expires stores values without a
// TTL. memcached reads TTLs over 30 days as absolute unix times: such TTLs
// are sent as now plus the TTL. memcached counts whole seconds on a clock
// that ticks once a second, so an item with a TTL of n seconds lives
// between n-1 and n seconds.
//
// # The distributed lock
//
// With Options.DistributedLock (distributed_lock), the region's dogpile lock spans processes
// and machines through the item "_lock" + key, taken with memcached's add
// as Python's MemcachedLock does, so Go and Python processes exclude each
// other. Unlike Python's, the lock always expires (Options.LockTimeout,
// 30 s by default, plus one second), a blocking wait polls with a bounded,
// jittered backoff (10 ms doubling up to 500 ms) and gives up when its
// context ends or after the lock's lifetime and half a second
// (driver.ErrLockTimeout), and a release deletes the lock only when it
// still holds the holder's random token (gets, then cas with an expiry in
// the past), reporting driver.ErrLockLost otherwise.
//
// # Failures
//
// Errors name the operation and the key, and wrap the client's error, or
// the context's when it ended before an operation started; regions put
// the backend's name in front of them. A miss is not an error. A server
// that is down gives an error within the client's Timeout; a
// connection the server closed (after a restart) is replaced and the
// operation tried once more. Regions built with dogpile.WithFailOpen treat
// such errors as misses.
package memcached
