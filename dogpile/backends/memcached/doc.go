// Package memcached is the Memcached backend of dogpile regions, built on
// github.com/bradfitz/gomemcache/memcache.
//
// From Go, build the memcache client and give it to New with typed
// Options, then to a region. Built on a Selector, given to New too, the
// client places keys as a Python client does, and the backend pipelines
// its writes:
//
//	sel, err := memcached.NewSelector(memcached.SelectPyMemcache, "10.0.0.1:11211", "10.0.0.2:11211")
//	...
//	client := memcache.NewFromSelector(sel)
//	client.MaxIdleConns = 16
//	b, err := memcached.New(client, memcached.Options{Selector: sel, DistributedLock: true})
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
// server.
//
// Writes are pipelined: SetBytesMulti and DeleteMulti send all their
// commands for a server at once and then read the replies, one round trip
// per server (per batch of 1024 keys or 1 MiB of values), the servers in
// parallel; SetBytes and Delete are batches of one. They use
// memcached's classic text protocol, where each set and delete gets a
// reply of its own, in order, closed by the reply to a "version" command:
// every key learns its outcome, and a reply stream out of step is
// detected and distrusted. (memcached's quiet meta commands would spare
// the successful replies, but their errors do not say which command they
// answer.) Every key is tried; those that fail are reported in a
// *WriteError, each key with its error. The writes go on connections of
// the backend's own, with the client's DialContext and Timeout and at
// most its MaxIdleConns idle ones per server. A client given to New
// without Options.Selector writes through the client, one key after the
// other, with the same errors.
//
// A value over the server's item size (1 MiB by default, memcached -I
// changes it) is refused by memcached: that key's error wraps
// driver.ErrValueTooLarge, and a region then serves the created value
// uncached and reports the key to its logger (once) and observer. The
// value is sent before the server refuses it. Package dogpile/compress
// makes large payloads smaller, at the price of entries that Python
// processes cannot read.
//
// # Arguments
//
// The registered names take dogpile.cache's arguments; numbers of seconds
// may also be given as time.Duration values or Go duration strings.
//
//	url                    required: "host:port", a list of them, or
//	                       "host1:port1, host2:port2"; a missing port is 11211, a path or
//	                       "unix:/path" is a unix socket. Keys are spread over several
//	                       servers as server_selection says.
//	server_selection       (Go only) how keys are spread over several servers: as
//	                       "python-memcached", "pymemcache", "pylibmc" or "gomemcache"
//	                       place them (see Selection); by default, as the Python client
//	                       of the name does (see below).
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
//	                       server, 16 by default, and as many for the pipelined writes.
//	mangle_invalid_keys    (Go only) true, the default: keys memcached refuses are stored
//	                       under a hash (see MangleKey); false (Options.RefuseInvalidKeys):
//	                       they are an error.
//
// Python's arguments that mean nothing with this client (dead_retry,
// min_compress_len, binary, behaviors (but see below), serde, default_noreply,
// enable_retry_client, retry_attempts, retry_delay, retry_for,
// do_not_retry_for, hashclient_retry_attempts, hashclient_retry_timeout,
// hashclient_dead_timeout) are accepted and logged once, so a Python
// configuration works unchanged. Any other name is an error wrapping
// driver.ErrInvalidArgument, as is a value of the wrong kind or out of
// range.
//
// # Server selection
//
// A Go process and a Python process share entries and dogpile locks on
// several servers only if both place every key, "_lock" keys included,
// on the same server. Each registered name places keys as the Python
// client dogpile.cache uses under that name, with its defaults:
//
//	dogpile.cache.memcached    SelectPythonMemcached (python-memcached's Client)
//	dogpile.cache.pymemcache   SelectPyMemcache (pymemcache's HashClient)
//	dogpile.cache.pylibmc      SelectPylibmc (libmemcached's default distribution)
//	dogpile.cache.bmemcached   SelectGomemcache
//
// python-binary-memcached's Client writes every key to every server,
// which no selection imitates: its name keeps the Go client's selection,
// and shares with Python only through a single server. Give the servers
// in the Python configuration's order, and for pymemcache under the same
// names (it hashes "host:port" as written). pylibmc behaviors that change
// the distribution (ketama, distribution, hash) are refused with several
// servers unless server_selection is given. The Python clients move the
// keys of a server they find down to the others (python-memcached for
// dead_retry seconds, pymemcache's HashClient once it marks the server
// dead); Go does not, so while a server is down the two sides may miss
// each other's entries and locks for its keys. With one server every
// selection picks it.
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
// the context's when it ended first; regions put the backend's name in
// front of them. A miss is not an error. A connection the server closed
// (after a restart) is replaced and the operation tried once more; a
// server that is down refuses the new connection, which is not retried.
// Regions built with dogpile.WithFailOpen treat such errors as misses.
//
// A server that stalls (stopped, overloaded, unreachable) costs a call at
// most one socket timeout (socket_timeout, the client's Timeout) per
// round trip, connecting included: the registered names' connections
// count the time to connect against their first exchange, and a
// pipelined write must connect and have its first batch answered within
// one socket timeout (each further batch within one more), which the
// context's deadline shortens and its cancellation cuts. Every call makes
// one round trip per server, the servers in parallel, except a lock's
// release (gets, then cas), writes of more than one batch, and the retry
// after a closed connection. A client
// given to New connects within its Timeout and then waits up to a Timeout
// of its own: up to two. Against a server stopped with SIGSTOP, every
// call fails after one socket timeout, and a fail-open region pays one
// for each backend call it makes: its GetOrCreate reads, then writes. A
// write that timed out may still be applied when such a server continues.
package memcached
