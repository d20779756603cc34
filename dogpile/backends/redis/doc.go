// Package redis is the Redis and Valkey backend of dogpile, on
// github.com/redis/go-redis/v9. Importing it registers dogpile.cache's
// names:
//
//	dogpile.cache.redis             a standalone server
//	dogpile.cache.redis_sentinel    the master a Redis Sentinel names
//	dogpile.cache.redis_cluster     a Redis Cluster
//	dogpile.cache.valkey            the same three for Valkey servers, with
//	dogpile.cache.valkey_sentinel   valkey_expiration_time in place of
//	dogpile.cache.valkey_cluster    redis_expiration_time
//
// so that a region is configured by name, from code or from the same
// configuration file as a Python process:
//
//	import _ "github.com/dogpilego/dogpile/dogpile/backends/redis"
//
//	err := region.Configure("dogpile.cache.redis", dogpile.Config{
//		ExpirationTime: 10 * time.Minute,
//		Arguments: map[string]any{
//			"url":              "redis://cache.internal:6379/0",
//			"distributed_lock": true,
//		},
//	})
//
// A backend opened by name builds its go-redis client from the arguments
// described below, and closes it when its region is closed.
//
// # Typed construction
//
// From Go code, build the go-redis client (goredis.NewClient,
// NewFailoverClient, NewClusterClient or NewRing) and give it to New with
// Options, for Region.ConfigureBackend:
//
//	client := goredis.NewClient(&goredis.Options{Addr: "cache.internal:6379"})
//	defer client.Close()
//	b, err := redis.New(client, redis.Options{DistributedLock: true})
//	...
//	err = region.ConfigureBackend(b, dogpile.Config{ExpirationTime: 10 * time.Minute})
//
// The backend uses the client as it is and never closes it. Options hold
// what the arguments say about the backend rather than the connection
// (redis_expiration_time, distributed_lock, the lock_* arguments, the
// call budget and the near cache). Zero
// values take the defaults; values New cannot take are an error wrapping
// driver.ErrInvalidArgument that names the field, never corrected
// silently.
//
// # Entries
//
// The backend is a driver.BytesBackend: it stores the bytes the region
// writes, dogpile.cache's own format ({"ct": ..., "v": 2}|payload), so Go
// and Python processes configured with a JSON serializer share entries. A
// hit is one GET; GetMulti is one MGET; SetMulti is one MSET, or one
// pipeline of SET ... PX when entries have a time to live; DeleteMulti is
// one DEL. On a cluster, where a multi-key command's keys must share a hash
// slot, multi calls are grouped by slot (see HashSlot) and pipelined: one
// round trip per node, in parallel. Clients that shard keys themselves (a
// Ring) get one command per key, pipelined.
//
// # Server-side expiry
//
// Regions expire values themselves, from their creation time; the server
// also drops entries after a time to live, so that entries nobody reads
// again do not stay for ever (dogpile.cache issue #230):
//
//   - Options.ServerTTL, or redis_expiration_time (valkey_expiration_time)
//     in seconds, when given: at least a millisecond, the server's
//     resolution. NoServerTTL, or redis_expiration_time 0 as in
//     dogpile.cache, sets none.
//   - Otherwise (ServerTTL zero, the argument absent) DefaultTTLFactor (2)
//     times the region's expiration time: an expired value stays readable
//     for as long again, so that callers are served it while one of them
//     regenerates it. A region without an expiration time sets no TTL.
//     Values stored with a longer per-call expiration than the region's,
//     or with dogpile.NoExpiration, may then leave the server early (a
//     miss, and a new creation): give such regions a fixed ServerTTL.
//
// # The distributed lock
//
// With Options.DistributedLock, or distributed_lock true (the default of
// the sentinel names, as in Python), Mutex returns a lock shared by every
// process using the server, so that one process in all regenerates a key.
// The lock of key k is the key LockPrefix+k ("_lockk"), taken with SET NX
// PX and a random token, and released by a script that deletes it only
// while it holds the caller's token; this is what Python's redis-py Lock
// does, so Go and Python processes exclude each other. Unlike
// dogpile.cache:
//
//   - every lock has a time to live, DefaultLockTimeout (30 s) when
//     LockTimeout is zero (lock_timeout absent or 0), so a killed holder
//     frees the key;
//   - a waiting Acquire polls with jittered exponential backoff from
//     LockSleep up to MaxLockSleep, stops when the caller's context ends,
//     and gives up with an error wrapping driver.ErrLockTimeout after
//     LockBlockingTimeout (by default LockTimeout plus one polling pause:
//     by then a held lock has expired and the waiter has tried once
//     more); with LockNonBlocking (lock_blocking false, or
//     lock_blocking_timeout 0 as in redis-py) it makes a single attempt;
//   - a lock that expired before its holder released it is reported with
//     an error wrapping driver.ErrLockLost, which regions log; the
//     created value is kept.
//
// # Arguments
//
// The names are dogpile.cache 1.5's; numbers of seconds may be ints,
// floats, numeric strings or time.Durations, as driver.ArgParser reads
// them. An argument nobody knows, or a value out of range, is an error
// wrapping driver.ErrInvalidArgument that names it; arguments that mean
// something to Python only (thread_local_lock, connection_pool,
// socket_keepalive_options) are accepted and logged once.
//
//	argument                 default               meaning
//	url                      none                  redis://, rediss:// or unix:// URL (go-redis's ParseURL, with its query
//	                                               options); it decides the address, and the credentials and database when
//	                                               it holds them. Sentinel and cluster names take go-redis's sentinel and
//	                                               cluster URLs ("?addr=host:port" for more nodes).
//	host                     "localhost"           server host (standalone; the cluster's seed without startup_nodes)
//	port                     6379                  server port
//	db                       0                     database number (a cluster has only 0)
//	username, password       none                  ACL user and password
//	ssl                      false                 TLS (TLS 1.2 at least)
//	socket_timeout           3 s                   read and write timeout of every command (DefaultSocketTimeout), and
//	                                               the call budget (Options.CallTimeout): see Failures
//	socket_connect_timeout   5 s                   dial timeout (DefaultDialTimeout), within the call budget
//	socket_keepalive         true                  TCP keep-alive; false turns it off
//	connection_kwargs        {}                    redis-py connection arguments, below; a map, a JSON object in a string,
//	                                               or "connection_kwargs.<name>" arguments
//	redis_expiration_time    2 × region's expiry   server-side TTL in seconds, at least 0.001; 0: none
//	                                               (valkey_expiration_time for Valkey; Options.ServerTTL)
//	distributed_lock         false (sentinel: true) use the distributed lock (Options.DistributedLock)
//	lock_timeout             30 s                  the lock's TTL (DefaultLockTimeout); 0: the default
//	lock_sleep               0.1 s                 first pause of a waiting Acquire (DefaultLockSleep), doubling to 1 s;
//	                                               at least 0.001
//	lock_blocking            true                  false: a waiting Acquire makes one attempt, then fails with
//	                                               driver.ErrLockTimeout (Options.LockNonBlocking)
//	lock_blocking_timeout    lock_timeout + 1 s    how long a waiting Acquire tries before driver.ErrLockTimeout;
//	                                               0: one attempt, as lock_blocking false
//	lock_prefix              "_lock"               lock key prefix; must match ^[\w\-\.\:]{2,10}$
//	sentinels                required (sentinel)   "host:port" strings, [host, port] pairs or "h1:p1, h2:p2"; port 26379 by default
//	service_name             "mymaster"            the master's name at the sentinels
//	sentinel_kwargs          {}                    the sentinels' username and password (default: the master's, as in Python)
//	startup_nodes            host:port (cluster)   "host:port" strings or {"host": .., "port": ..} maps
//	client                   none                  Go only: a goredis.UniversalClient used as it is (and not closed
//	                                               with the region); the connection arguments are then an error
//	near_cache               false                 Go only: a near cache in front of the server (see Near cache)
//	near_cache_max_entries   10000                 its entry bound (DefaultNearCacheMaxEntries)
//	near_cache_max_bytes     64 MiB                its byte bound (DefaultNearCacheMaxBytes)
//	near_cache_ttl           10 s                  how long it serves an entry at most (DefaultNearCacheTTL); at least 0.001
//
// Arguments given at the top level win over connection_kwargs, which take
// the top-level connection names and these:
//
//	client_name                     CLIENT SETNAME on every connection
//	max_connections                 the pool's hard cap (PoolSize and MaxActiveConns)
//	pool_size, min_idle_conns,      go-redis's pool counts, from 0 to MaxPoolSize (10000); 0: go-redis's default
//	max_idle_conns, max_active_conns
//	pool_timeout,                   go-redis's pool durations in seconds, not negative; 0: go-redis's default
//	conn_max_idle_time,
//	conn_max_lifetime
//	max_retries                     retries of a command after a network error (DefaultMaxRetries: 1; -1: none)
//	protocol                        RESP version, 2 or 3 (default 3)
//	unix_socket_path                connect to a Unix socket (standalone)
//	ssl_ca_certs                    PEM file of the certificate authorities to trust
//	ssl_certfile, ssl_keyfile       client certificate and key
//	ssl_cert_reqs                   "required" (default), "optional" or "none" (no verification)
//	ssl_check_hostname              false: verify the chain but not the server's name
//
// redis-py's encoding, encoding_errors, decode_responses, retry,
// retry_on_timeout, retry_on_error, health_check_interval,
// single_connection_client, lib_name and lib_version are accepted and
// ignored; any other name is an error. Errors name the entries of
// connection_kwargs and sentinel_kwargs in full,
// "connection_kwargs.pool_size". The pool counts of a URL's query
// (pool_size, min_idle_conns, max_idle_conns, max_active_conns,
// max_concurrent_dials, pipeline_pool_size) are held to the same range,
// where go-redis would panic building its pools.
//
// Unlike dogpile.cache, the cluster names honour the socket arguments
// (Python's ignore them), and the sentinel names read and write through the
// master only (Python reads from a replica).
//
// # Near cache
//
// With near_cache true, or Options.NearCache, the backend keeps the
// entries it reads in process memory and serves hits from there: no round
// trip, and no copy. It uses go-redis's server-assisted client-side
// caching (CLIENT TRACKING over RESP3), so that the server tells the
// process when a key it read changes, whoever changed it: another Go
// process, a Python process, an expiry or an eviction on the server, a
// FLUSHALL. The entry is dropped when the invalidation arrives, a few
// milliseconds after the write (NearCacheDrainInterval plus a round
// trip). The near cache is a NearCache
// (go-redis's goredis.Cache) rather than go-redis's LocalCache so that it
// hands out entries without a copy, each with a driver.Memo in which the
// region keeps the decoded value: a hit then costs about what a hit of the
// memory backend does. It holds GET replies only, within its bounds
// (entries and bytes, evicting by the clock algorithm); a miss is kept as
// a miss too, until the key is written.
//
// It never serves a value older than what the process knows:
//
//   - this process's own writes (SetBytes, SetBytesMulti, Delete,
//     DeleteMulti) drop the keys from memory when they return, before the
//     server's invalidation comes back;
//   - a region's re-read inside a creation, once it holds the distributed
//     lock, reads the server (GetBytesDirect), so that one creation per
//     expiry stays exact across processes; an entry in memory that holds
//     another value than that read is dropped;
//   - entries read on a connection are dropped when go-redis sees that
//     connection closed (a server killed or restarted resets them: a few
//     milliseconds), since the server's tracking went with it;
//   - and whatever becomes of invalidations (a network partition that
//     closes nothing, a server that stalls), an entry is served at most
//     near_cache_ttl (NearCacheOptions.TTL) after it was read: that is the
//     bound on staleness.
//
// Clients that cannot track keys fall back to plain reads, said once to
// the logger (slog.Default for the registered names, Options.Logger for
// New), and never serve from memory: Redis Cluster, Sentinel and Ring
// clients, RESP2 (protocol 2), databases other than 0, credential
// providers, a server that refuses CLIENT TRACKING (an ACL without
// client|tracking) or RESP3 (before Redis 6). Those go-redis finds out
// only when it connects; the backend notices when its next read goes
// past the cache.
//
// From Go code, build the client with the near cache and give the same
// NearCache to New:
//
//	nc, err := redis.NewNearCache(redis.NearCacheOptions{MaxEntries: 50_000})
//	client := goredis.NewClient(&goredis.Options{
//		Addr:                  "cache.internal:6379",
//		ClientSideCache:       nc,
//		ClientSideCacheConfig: &goredis.ClientSideCacheConfig{DrainInterval: redis.NearCacheDrainInterval},
//	})
//	b, err := redis.New(client, redis.Options{NearCache: nc})
//
// # Failures
//
// A configuration error of a registered name reads, through a region,
//
//	dogpile: region "r": configure: dogpile.cache.redis: invalid argument: argument "connection_kwargs.pool_size" is int -1, want a count from 0 to 10000 (MaxPoolSize)
//
// New's errors begin "redis: " and name the Options field. The errors of
// commands wrap go-redis's with the command that failed ("GET: ...",
// "lock "_lockk": SET NX: ..."), and a region puts "backend <name>: " in
// front of them. A server that refuses connections fails an operation at
// once. One that does not answer (stalled, or behind a partition) costs
// each backend call its budget, Options.CallTimeout (socket_timeout for
// the registered names, 3 s by default), once: the budget bounds the
// whole call, the wait for a pooled connection, the dial and go-redis's
// retry included, so a command that timed out is not tried again, while
// a connection the server closed is still replaced once, within the same
// budget. That holds for every call: GetBytes, GetBytesMulti, SetBytes,
// Delete, each attempt of the lock's Acquire, Release and Locked. The
// error then says so ("GET: no answer within 3s: context deadline
// exceeded"). The caller's context deadline bounds every command too,
// when it comes first. With dogpile.WithFailOpen, a region serves the
// creator's values while the server is away, and uses it again as soon as
// it is back: the client reconnects on its own.
package redis
