package redis

import (
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
)

// open opens the backend registered as name with args, as a region
// configured by name does, and closes it when the test ends. Building a
// client does not connect, so no server is needed.
func open(t *testing.T, name string, args driver.Arguments) *Backend {
	t.Helper()
	be, err := driver.Open(name, args)
	if err != nil {
		t.Fatalf("Open(%s, %v): %v", name, args, err)
	}
	b, ok := be.(*Backend)
	if !ok {
		t.Fatalf("Open(%s) = %T; want *Backend", name, be)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// flavorOf returns the flavor registered as name.
func flavorOf(t *testing.T, name string) flavor {
	t.Helper()
	for _, f := range flavors {
		if f.name == name {
			return f
		}
	}
	t.Fatalf("no flavor %s", name)
	return flavor{}
}

// options returns the options of a standalone or sentinel backend's client.
func options(t *testing.T, b *Backend) *goredis.Options {
	t.Helper()
	c, ok := b.client.(*goredis.Client)
	if !ok {
		t.Fatalf("client is %T, want *redis.Client", b.client)
	}
	return c.Options()
}

func clusterOpts(t *testing.T, b *Backend) *goredis.ClusterOptions {
	t.Helper()
	c, ok := b.client.(*goredis.ClusterClient)
	if !ok {
		t.Fatalf("client is %T, want *redis.ClusterClient", b.client)
	}
	return c.Options()
}

// wantArgError checks that opening name with args fails with an invalid
// argument error that names every one of names, in the shape driver.Open
// gives factory errors: "<name>: invalid argument: ...", without another
// prefix.
func wantArgError(t *testing.T, name string, args driver.Arguments, names ...string) {
	t.Helper()
	b, err := driver.Open(name, args)
	if err == nil {
		if c, ok := b.(interface{ Close() error }); ok {
			_ = c.Close()
		}
		t.Fatalf("Open(%s, %v) succeeded; want an error naming %q", name, args, names)
	}
	if !errors.Is(err, driver.ErrInvalidArgument) {
		t.Errorf("Open(%s, %v) = %v; want an error wrapping ErrInvalidArgument", name, args, err)
	}
	wantShape(t, err.Error(), name+": invalid argument: ")
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("Open(%s, %v) = %v; want it to name %q", name, args, err, n)
		}
	}
}

// wantShape checks that msg begins with prefix and holds no second
// prefix: no "dogpile" before the backend name, no "dogpile/redis", and
// "invalid argument" once.
func wantShape(t *testing.T, msg, prefix string) {
	t.Helper()
	if !strings.HasPrefix(msg, prefix) {
		t.Errorf("error %q; want it to begin with %q", msg, prefix)
	}
	for _, bad := range []string{"dogpile:", "dogpile/redis"} {
		if strings.Contains(msg, bad) {
			t.Errorf("error %q holds %q", msg, bad)
		}
	}
	if n := strings.Count(msg, "invalid argument"); n != 1 {
		t.Errorf("error %q says \"invalid argument\" %d times; want once", msg, n)
	}
}

func TestArgumentsDefaults(t *testing.T) {
	t.Parallel()
	b := open(t, Name, nil)
	o := options(t, b)
	checks := []struct {
		what      string
		got, want any
	}{
		{"Addr", o.Addr, "localhost:6379"},
		{"DB", o.DB, 0},
		{"Username", o.Username, ""},
		{"Password", o.Password, ""},
		{"DialTimeout", o.DialTimeout, DefaultDialTimeout},
		{"ReadTimeout", o.ReadTimeout, DefaultSocketTimeout},
		{"WriteTimeout", o.WriteTimeout, DefaultSocketTimeout},
		{"MaxRetries", o.MaxRetries, DefaultMaxRetries},
		{"DialerRetries", o.DialerRetries, 1},
		{"ContextTimeoutEnabled", o.ContextTimeoutEnabled, true},
		{"TLSConfig", o.TLSConfig == nil, true},
		{"Mutex", b.Mutex("k") == nil, true},
		{"ServerTTL", b.ServerTTL(), time.Duration(0)},
		{"owned", b.owned, true},
		{"mode", b.mode, direct},
		{"callTimeout", b.callTimeout, DefaultCallTimeout},
		{"NearCache", b.NearCache() == nil, true},
		{"ClientSideCache", o.ClientSideCache == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v; want %v", c.what, c.got, c.want)
		}
	}
}

func TestArgumentsReachOptions(t *testing.T) {
	t.Parallel()
	b := open(t, Name, driver.Arguments{
		"host": "10.1.2.3", "port": "6380", "db": 4, "username": "ann", "password": "s3cret",
		"ssl": true, "socket_timeout": 0.5, "socket_connect_timeout": 1.5, "socket_keepalive": true,
	})
	o := options(t, b)
	checks := []struct {
		what      string
		got, want any
	}{
		{"Addr", o.Addr, "10.1.2.3:6380"},
		{"DB", o.DB, 4},
		{"Username", o.Username, "ann"},
		{"Password", o.Password, "s3cret"},
		{"TLS", o.TLSConfig != nil && o.TLSConfig.MinVersion == tls.VersionTLS12, true},
		{"ReadTimeout", o.ReadTimeout, 500 * time.Millisecond},
		{"WriteTimeout", o.WriteTimeout, 500 * time.Millisecond},
		{"DialTimeout", o.DialTimeout, 1500 * time.Millisecond},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v; want %v", c.what, c.got, c.want)
		}
	}
}

func TestArgumentsKeepalive(t *testing.T) {
	t.Parallel()
	for _, v := range []any{nil, true, "true", false, "false"} {
		args := driver.Arguments{"socket_keepalive": v}
		cfg, err := parseArguments(flavorOf(t, Name), args)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		// go-redis's dialer keeps connections alive; ours, installed for
		// false, does not.
		off := v == false || v == "false"
		if got := cfg.options.Dialer != nil; got != off {
			t.Errorf("socket_keepalive %v: own dialer installed = %v; want %v", v, got, off)
		}
	}
}

func TestArgumentsConnectionKwargs(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, o *goredis.Options) {
		t.Helper()
		if o.ClientName != "app" || o.PoolSize != 7 || o.MaxActiveConns != 7 || o.MinIdleConns != 2 ||
			o.MaxRetries != 3 || o.Protocol != 2 || o.PoolTimeout != 2*time.Second {
			t.Errorf("ClientName %q, PoolSize %d, MaxActiveConns %d, MinIdleConns %d, MaxRetries %d, Protocol %d, PoolTimeout %v",
				o.ClientName, o.PoolSize, o.MaxActiveConns, o.MinIdleConns, o.MaxRetries, o.Protocol, o.PoolTimeout)
		}
		if o.TLSConfig == nil || !o.TLSConfig.InsecureSkipVerify {
			t.Errorf("ssl with ssl_cert_reqs none: TLSConfig = %+v; want InsecureSkipVerify", o.TLSConfig)
		}
		if o.ReadTimeout != 250*time.Millisecond || o.DB != 2 {
			t.Errorf("ReadTimeout %v, DB %d; want 250ms and 2 from connection_kwargs", o.ReadTimeout, o.DB)
		}
	}
	kw := map[string]any{
		"client_name": "app", "max_connections": 7, "min_idle_conns": 2, "max_retries": 3, "protocol": 2,
		"pool_timeout": 2, "ssl": true, "ssl_cert_reqs": "none", "socket_timeout": 0.25, "db": 2,
		"encoding": "utf-8", "decode_responses": false, "retry_on_timeout": true, "health_check_interval": 30,
	}
	t.Run("map", func(t *testing.T) {
		check(t, options(t, open(t, Name, driver.Arguments{"connection_kwargs": kw})))
	})
	t.Run("json", func(t *testing.T) {
		js := `{"client_name": "app", "max_connections": 7, "min_idle_conns": 2, "max_retries": 3, "protocol": 2,
			"pool_timeout": 2, "ssl": true, "ssl_cert_reqs": "none", "socket_timeout": 0.25, "db": 2}`
		check(t, options(t, open(t, Name, driver.Arguments{"connection_kwargs": js})))
	})
	t.Run("dotted", func(t *testing.T) {
		args := driver.Arguments{}
		for k, v := range kw {
			args["connection_kwargs."+k] = v
		}
		check(t, options(t, open(t, Name, args)))
	})
	t.Run("top level wins", func(t *testing.T) {
		o := options(t, open(t, Name, driver.Arguments{
			"socket_timeout": 1, "db": 1, "connection_kwargs": map[string]any{"socket_timeout": 9, "db": 9},
		}))
		if o.ReadTimeout != time.Second || o.DB != 1 {
			t.Errorf("ReadTimeout %v, DB %d; want the top-level 1s and 1", o.ReadTimeout, o.DB)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		wantArgError(t, Name, driver.Arguments{"connection_kwargs": map[string]any{"bogus_option": 1}}, "connection_kwargs", "bogus_option")
	})
	t.Run("not a map", func(t *testing.T) {
		wantArgError(t, Name, driver.Arguments{"connection_kwargs": 12}, "connection_kwargs")
		wantArgError(t, Name, driver.Arguments{"connection_kwargs": "{not json"}, "connection_kwargs")
	})
}

func TestArgumentsURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		args     driver.Arguments
		addr     string
		db       int
		user, pw string
		tls      bool
		dial     time.Duration
	}{
		{"full", driver.Arguments{"url": "redis://ann:pw@h1:7000/3?dial_timeout=2"}, "h1:7000", 3, "ann", "pw", false, 2 * time.Second},
		{"url wins over host and db", driver.Arguments{"url": "redis://h1:7000/3", "host": "other", "port": 1, "db": 5},
			"h1:7000", 3, "", "", false, DefaultDialTimeout},
		{"db and password from arguments", driver.Arguments{"url": "redis://h1", "db": 5, "password": "pw"},
			"h1:6379", 5, "", "pw", false, DefaultDialTimeout},
		{"arguments win over the query", driver.Arguments{"url": "redis://h1?dial_timeout=9", "socket_connect_timeout": 1},
			"h1:6379", 0, "", "", false, time.Second},
		{"rediss", driver.Arguments{"url": "rediss://h2:6390/0"}, "h2:6390", 0, "", "", true, DefaultDialTimeout},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := options(t, open(t, Name, c.args))
			if o.Addr != c.addr || o.DB != c.db || o.Username != c.user || o.Password != c.pw ||
				(o.TLSConfig != nil) != c.tls || o.DialTimeout != c.dial {
				t.Errorf("Addr %q DB %d Username %q Password %q TLS %v DialTimeout %v; want %q %d %q %q %v %v",
					o.Addr, o.DB, o.Username, o.Password, o.TLSConfig != nil, o.DialTimeout,
					c.addr, c.db, c.user, c.pw, c.tls, c.dial)
			}
		})
	}
	t.Run("unix", func(t *testing.T) {
		o := options(t, open(t, Name, driver.Arguments{"url": "unix:///run/redis.sock?db=2"}))
		if o.Network != "unix" || o.Addr != "/run/redis.sock" || o.DB != 2 {
			t.Errorf("Network %q Addr %q DB %d", o.Network, o.Addr, o.DB)
		}
		o = options(t, open(t, Name, driver.Arguments{"connection_kwargs": map[string]any{"unix_socket_path": "/run/r.sock"}}))
		if o.Network != "unix" || o.Addr != "/run/r.sock" {
			t.Errorf("unix_socket_path: Network %q Addr %q", o.Network, o.Addr)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		wantArgError(t, Name, driver.Arguments{"url": "http://h1"}, "url")
		wantArgError(t, Name, driver.Arguments{"url": "redis://h1/notadb"}, "url")
		wantArgError(t, Name, driver.Arguments{"url": "redis://h1?no_such_option=1"}, "url")
		// The password does not reach the message.
		_, err := driver.Open(Name, driver.Arguments{"url": "redis://ann:topsecret@h1/x"})
		if err == nil || strings.Contains(err.Error(), "topsecret") {
			t.Errorf("error %v: want one without the URL's password", err)
		}
	})
}

func TestArgumentsInvalid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args driver.Arguments
		want []string
	}{
		{"unknown", driver.Arguments{"foo": "barf", "host": "h"}, []string{"foo"}},
		{"port type", driver.Arguments{"port": "abc"}, []string{"port"}},
		{"port range", driver.Arguments{"port": 70000}, []string{"port"}},
		{"db type", driver.Arguments{"db": "x"}, []string{"db"}},
		{"db negative", driver.Arguments{"db": -1}, []string{"db"}},
		{"ssl type", driver.Arguments{"ssl": "maybe"}, []string{"ssl"}},
		{"socket_timeout", driver.Arguments{"socket_timeout": -1}, []string{"socket_timeout"}},
		{"socket_timeout zero", driver.Arguments{"socket_timeout": 0}, []string{"socket_timeout"}},
		{"socket_connect_timeout", driver.Arguments{"socket_connect_timeout": "soon"}, []string{"socket_connect_timeout"}},
		{"distributed_lock", driver.Arguments{"distributed_lock": "perhaps"}, []string{"distributed_lock"}},
		{"lock_timeout", driver.Arguments{"lock_timeout": -3}, []string{"lock_timeout"}},
		{"lock_sleep", driver.Arguments{"lock_sleep": -1}, []string{"lock_sleep"}},
		{"lock_blocking_timeout", driver.Arguments{"lock_blocking_timeout": -1}, []string{"lock_blocking_timeout"}},
		{"lock_timeout below 1ms", driver.Arguments{"lock_timeout": 0.0001}, []string{"lock_timeout"}},
		{"lock_sleep zero", driver.Arguments{"lock_sleep": 0}, []string{"lock_sleep"}},
		{"lock_blocking_timeout not blocking", driver.Arguments{"lock_blocking": false, "lock_blocking_timeout": -1}, []string{"lock_blocking_timeout"}},
		{"expiration below 1ms", driver.Arguments{"redis_expiration_time": "0.0001"}, []string{"redis_expiration_time"}},
		{"expiration -1", driver.Arguments{"redis_expiration_time": -1}, []string{"redis_expiration_time"}},
		{"expiration", driver.Arguments{"redis_expiration_time": -5}, []string{"redis_expiration_time"}},
		{"valkey argument on redis", driver.Arguments{"valkey_expiration_time": 5}, []string{"valkey_expiration_time"}},
		{"ssl_cert_reqs", driver.Arguments{"ssl": true, "connection_kwargs": map[string]any{"ssl_cert_reqs": "sometimes"}}, []string{"ssl_cert_reqs"}},
		{"ssl_ca_certs", driver.Arguments{"ssl": true, "connection_kwargs": map[string]any{"ssl_ca_certs": "/no/such/file.pem"}}, []string{"ssl_ca_certs"}},
		{"sentinel arguments on redis", driver.Arguments{"sentinels": "h:1"}, []string{"sentinels"}},
		{"cluster arguments on redis", driver.Arguments{"startup_nodes": "h:1"}, []string{"startup_nodes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantArgError(t, Name, c.args, c.want...) })
	}
	wantArgError(t, ValkeyName, driver.Arguments{"redis_expiration_time": 5}, "redis_expiration_time")
}

func TestArgumentsLockPrefix(t *testing.T) {
	t.Parallel()
	for _, bad := range []any{"x", "", "_lock_is_too_long", "a b", "_l/", "lock{}", true} {
		wantArgError(t, Name, driver.Arguments{"lock_prefix": bad, "distributed_lock": true}, "lock_prefix")
		wantArgError(t, Name, driver.Arguments{"lock_prefix": bad}, "lock_prefix") // checked even without the lock
	}
	for _, good := range []string{"_lok.", "ab", "a-b:c.d_e", "_lé", "0123456789"} {
		b := open(t, Name, driver.Arguments{"lock_prefix": good, "distributed_lock": true})
		if got := b.Mutex("k1").(*mutex).key; got != good+"k1" {
			t.Errorf("lock_prefix %q: lock key %q", good, got)
		}
	}
}

func TestArgumentsLock(t *testing.T) {
	t.Parallel()
	b := open(t, Name, driver.Arguments{"distributed_lock": "true"})
	if b.lock == nil || b.Mutex("k") == nil {
		t.Fatal("distributed_lock true: no lock")
	}
	if *b.lock != (lockConfig{prefix: "_lock", timeout: DefaultLockTimeout, sleep: DefaultLockSleep, blocking: true, blockingTimeout: DefaultLockTimeout + MaxLockSleep}) {
		t.Errorf("default lock configuration %+v", *b.lock)
	}
	b = open(t, Name, driver.Arguments{
		"distributed_lock": true, "lock_timeout": 2.5, "lock_sleep": 0.05, "lock_blocking": false, "lock_prefix": "_lok.",
	})
	if *b.lock != (lockConfig{prefix: "_lok.", timeout: 2500 * time.Millisecond, sleep: 50 * time.Millisecond, blocking: false, blockingTimeout: 2500*time.Millisecond + MaxLockSleep}) {
		t.Errorf("lock configuration %+v", *b.lock)
	}
	b = open(t, Name, driver.Arguments{"distributed_lock": true, "lock_timeout": 0, "lock_blocking_timeout": 0.3})
	if b.lock.timeout != DefaultLockTimeout || b.lock.blockingTimeout != 300*time.Millisecond {
		t.Errorf("lock_timeout 0: %+v; want the default TTL and the given blocking timeout", *b.lock)
	}
	// redis-py's lock_blocking_timeout 0: one attempt, as lock_blocking
	// false; with lock_blocking false a blocking timeout does nothing.
	for _, args := range []driver.Arguments{
		{"distributed_lock": true, "lock_blocking_timeout": 0},
		{"distributed_lock": true, "lock_blocking": false, "lock_blocking_timeout": 5},
	} {
		b = open(t, Name, args)
		if b.lock.blocking || b.lock.blockingTimeout != DefaultLockTimeout+MaxLockSleep {
			t.Errorf("%v: %+v; want a non-blocking lock", args, *b.lock)
		}
	}
}

func TestArgumentsPythonOnly(t *testing.T) {
	t.Parallel()
	open(t, Name, driver.Arguments{
		"thread_local_lock": false, "connection_pool": "a pool", "socket_keepalive_options": map[int]int{4: 30},
		"distributed_lock": true, "socket_keepalive": true,
	})
	open(t, SentinelName, driver.Arguments{"sentinels": "h:26379", "thread_local_lock": true, "host": "ignored", "port": 1})
}

func TestArgumentsServerTTL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ region, want time.Duration }{
		{10 * time.Second, 20 * time.Second},
		{0, 0},
		{time.Hour, 2 * time.Hour},
		{time.Microsecond, time.Millisecond},
	} {
		b := open(t, Name, nil)
		b.SetRegionExpiration(c.region)
		if got := b.ServerTTL(); got != c.want {
			t.Errorf("region expiration %v: ServerTTL = %v; want %v", c.region, got, c.want)
		}
	}
	// One backend for several regions: the longest wins, none once one
	// never expires.
	shared := open(t, Name, nil)
	for _, c := range []struct{ region, want time.Duration }{
		{time.Minute, 2 * time.Minute},
		{time.Second, 2 * time.Minute},
		{time.Hour, 2 * time.Hour},
		{0, 0},
		{time.Minute, 0},
	} {
		shared.SetRegionExpiration(c.region)
		if got := shared.ServerTTL(); got != c.want {
			t.Errorf("another region expiring after %v: ServerTTL = %v; want %v", c.region, got, c.want)
		}
	}
	for _, c := range []struct {
		name string
		args driver.Arguments
		want time.Duration
	}{
		{Name, driver.Arguments{"redis_expiration_time": 5}, 5 * time.Second},
		{Name, driver.Arguments{"redis_expiration_time": "0"}, 0},
		{ValkeyName, driver.Arguments{"valkey_expiration_time": 1.5}, 1500 * time.Millisecond},
		{ClusterName, driver.Arguments{"redis_expiration_time": 60}, time.Minute},
	} {
		b := open(t, c.name, c.args)
		b.SetRegionExpiration(10 * time.Second) // the argument wins
		if got := b.ServerTTL(); got != c.want {
			t.Errorf("%s %v: ServerTTL = %v; want %v", c.name, c.args, got, c.want)
		}
	}
}

func TestArgumentsClient(t *testing.T) {
	t.Parallel()
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	b := open(t, Name, driver.Arguments{"client": c, "distributed_lock": true, "redis_expiration_time": 5})
	if b.client != c || b.owned || b.mode != direct || b.Mutex("k") == nil || b.ServerTTL() != 5*time.Second {
		t.Errorf("client %p owned %v mode %v; want %p, not owned, direct, a lock and a TTL", b.client, b.owned, b.mode, c)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("the given client was closed by the backend: %v", err)
	}

	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cc.Close()
	if b := open(t, ClusterName, driver.Arguments{"client": cc}); b.mode != slotted {
		t.Errorf("cluster client: mode %v; want slotted", b.mode)
	}
	ring := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	if b := open(t, Name, driver.Arguments{"client": ring}); b.mode != perKey {
		t.Errorf("ring: mode %v; want perKey", b.mode)
	}

	for _, conflict := range []string{"host", "url", "port", "password", "connection_kwargs", "sentinels", "startup_nodes", "socket_timeout"} {
		wantArgError(t, Name, driver.Arguments{"client": c, conflict: "x"}, conflict, "client")
	}
	wantArgError(t, Name, driver.Arguments{"client": "redis://h1"}, "client")
}

func TestArgumentsSentinel(t *testing.T) {
	t.Parallel()
	want := []string{"10.0.0.1:26379", "10.0.0.2:26380"}
	for _, sentinels := range []any{
		[]any{"10.0.0.1:26379", "10.0.0.2:26380"},
		[]string{"10.0.0.1", "10.0.0.2:26380"},
		[]any{[]any{"10.0.0.1", 26379}, []any{"10.0.0.2", "26380"}},
		[][]any{{"10.0.0.1", 26379.0}, {"10.0.0.2", 26380}},
		"10.0.0.1:26379, 10.0.0.2:26380",
		"\n10.0.0.1:26379\n10.0.0.2:26380", // a server per line, as an .ini file continues a value
	} {
		args := driver.Arguments{
			"sentinels": sentinels, "service_name": "pifpaf", "db": 3, "password": "pw", "socket_timeout": 2,
		}
		cfg, err := parseArguments(flavorOf(t, SentinelName), args)
		if err != nil {
			t.Fatalf("%v: %v", sentinels, err)
		}
		o := cfg.failover
		if !slices.Equal(o.SentinelAddrs, want) || o.MasterName != "pifpaf" || o.DB != 3 || o.Password != "pw" ||
			o.SentinelPassword != "pw" || o.ReadTimeout != 2*time.Second || !cfg.opts.DistributedLock {
			t.Errorf("sentinels %v: %+v, lock %v", sentinels, o, cfg.opts.DistributedLock)
		}
	}
	cfg, err := parseArguments(flavorOf(t, SentinelName), driver.Arguments{
		"sentinels": "h:1", "password": "master", "distributed_lock": false,
		"sentinel_kwargs": map[string]any{"password": "sentinel", "username": "sam", "socket_timeout": 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if o := cfg.failover; o.MasterName != "mymaster" || o.Password != "master" || o.SentinelPassword != "sentinel" ||
		o.SentinelUsername != "sam" || cfg.opts.DistributedLock {
		t.Errorf("sentinel_kwargs: %+v, lock %v", o, cfg.opts.DistributedLock)
	}
	b := open(t, SentinelName, driver.Arguments{"sentinels": "h:1"})
	if b.mode != direct || b.Mutex("k") == nil {
		t.Errorf("sentinel backend: mode %v, lock %v", b.mode, b.Mutex("k"))
	}
	wantArgError(t, SentinelName, driver.Arguments{}, "sentinels")
	wantArgError(t, SentinelName, driver.Arguments{"sentinels": []any{1, 2}}, "sentinels")
	wantArgError(t, SentinelName, driver.Arguments{"sentinels": "h:1", "sentinel_kwargs": map[string]any{"nope": 1}}, "sentinel_kwargs", "nope")
	wantArgError(t, SentinelName, driver.Arguments{"sentinels": "h:1", "startup_nodes": "h:2"}, "startup_nodes")
}

func TestArgumentsCluster(t *testing.T) {
	t.Parallel()
	want := []string{"10.0.0.1:7000", "10.0.0.2:7001"}
	for _, nodes := range []any{
		[]any{"10.0.0.1:7000", "10.0.0.2:7001"},
		[]any{map[string]any{"host": "10.0.0.1", "port": 7000}, map[string]any{"host": "10.0.0.2", "port": "7001"}},
		[]map[string]any{{"host": "10.0.0.1", "port": 7000}, {"host": "10.0.0.2", "port": 7001}},
		"10.0.0.1:7000,10.0.0.2:7001",
		"10.0.0.1:7000\n10.0.0.2:7001\n",
	} {
		b := open(t, ClusterName, driver.Arguments{"startup_nodes": nodes, "socket_timeout": 1, "password": "pw"})
		o := clusterOpts(t, b)
		if !slices.Equal(o.Addrs, want) || o.ReadTimeout != time.Second || o.Password != "pw" || b.mode != slotted {
			t.Errorf("startup_nodes %v: Addrs %v ReadTimeout %v Password %q mode %v", nodes, o.Addrs, o.ReadTimeout, o.Password, b.mode)
		}
	}
	o := clusterOpts(t, open(t, ClusterName, driver.Arguments{"url": "redis://ann:pw@10.0.0.1:7000?addr=10.0.0.2:7001"}))
	if !slices.Equal(o.Addrs, want) || o.Username != "ann" || o.Password != "pw" {
		t.Errorf("cluster url: Addrs %v Username %q Password %q", o.Addrs, o.Username, o.Password)
	}
	o = clusterOpts(t, open(t, ClusterName, driver.Arguments{"host": "10.0.0.9", "port": 7005}))
	if !slices.Equal(o.Addrs, []string{"10.0.0.9:7005"}) {
		t.Errorf("cluster seeded from host and port: Addrs %v", o.Addrs)
	}
	wantArgError(t, ClusterName, driver.Arguments{"startup_nodes": []any{map[string]any{"port": 1}}}, "startup_nodes")
	wantArgError(t, ClusterName, driver.Arguments{"startup_nodes": "h:1", "db": 2}, "db")
	wantArgError(t, ClusterName, driver.Arguments{"startup_nodes": "h:1", "service_name": "x"}, "service_name")
}

func TestRegisteredNames(t *testing.T) {
	t.Parallel()
	names := driver.Backends()
	want := []string{Name, SentinelName, ClusterName, ValkeyName, ValkeySentinelName, ValkeyClusterName}
	for _, n := range want {
		if !slices.Contains(names, n) {
			t.Errorf("%s is not registered", n)
		}
	}
	if len(flavors) != len(want) {
		t.Errorf("%d flavors; want the %d names", len(flavors), len(want))
	}
	b := open(t, ValkeyName, driver.Arguments{"valkey_expiration_time": 3})
	if got := b.ServerTTL(); got != 3*time.Second {
		t.Errorf("ServerTTL = %v", got)
	}
	wantArgError(t, Name, driver.Arguments{"bogus": 1}, "bogus")
	if _, err := driver.Open("dogpile.cache.redis_nonesuch", nil); !errors.Is(err, driver.ErrUnknownBackend) {
		t.Errorf("Open of a name nobody registered: %v", err)
	}
}

func TestConfigureFromConfig(t *testing.T) {
	t.Parallel()
	r := dogpile.NewRegion()
	err := pyconfig.ConfigureFromConfig(r, map[string]any{
		"cache.backend":                                 "dogpile.cache.redis_sentinel",
		"cache.expiration_time":                         "600",
		"cache.arguments.sentinels":                     "10.0.0.1:26379, 10.0.0.2",
		"cache.arguments.service_name":                  "pifpaf",
		"cache.arguments.db":                            "1",
		"cache.arguments.lock_timeout":                  "5",
		"cache.arguments.socket_timeout":                "0.5",
		"cache.arguments.thread_local_lock":             "false",
		"cache.arguments.connection_kwargs.ssl":         "true",
		"cache.arguments.sentinel_kwargs.password":      "sp",
		"cache.arguments.connection_kwargs.max_retries": "2",
		"cache.arguments.connection_kwargs.pool_size":   "20",
	}, "cache.")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b := driver.Unwrap(r.Backend()).(*Backend)
	if b.ServerTTL() != 20*time.Minute || b.lock.timeout != 5*time.Second || !b.owned {
		t.Errorf("ServerTTL %v, lock %+v, owned %v", b.ServerTTL(), *b.lock, b.owned)
	}
	o := options(t, b)
	if o.DB != 1 || o.ReadTimeout != 500*time.Millisecond || o.TLSConfig == nil || o.MaxRetries != 2 || o.PoolSize != 20 {
		t.Errorf("DB %d ReadTimeout %v TLS %v MaxRetries %d PoolSize %d", o.DB, o.ReadTimeout, o.TLSConfig != nil, o.MaxRetries, o.PoolSize)
	}
}

// TestConnectionKwargsOutOfRange: pool counts and timeouts that go-redis
// would panic on ("makechan: size out of range") or that make no sense
// are configuration errors naming the argument, through a region
// configured by name and through a configuration read from an .ini file.
func TestConnectionKwargsOutOfRange(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string // the argument, under connection_kwargs
		value any
		ini   string // as an .ini file gives it
	}{
		{"pool_size", -1, "-1"},
		{"pool_size", 100000000000, "100000000000"},
		{"pool_size", MaxPoolSize + 1, "10001"},
		{"max_connections", -1, "-1"},
		{"max_connections", 1 << 40, "1099511627776"},
		{"min_idle_conns", -1, "-1"},
		{"min_idle_conns", 100000000000, "100000000000"},
		{"max_idle_conns", -1, "-1"},
		{"max_active_conns", -1, "-1"},
		{"max_active_conns", 100000000000, "100000000000"},
		{"max_retries", -2, "-2"},
		{"protocol", 4, "4"},
		{"pool_timeout", -1, "-1"},
		{"conn_max_idle_time", -0.5, "-0.5"},
		{"conn_max_lifetime", -1, "-1"},
		{"pool_size", "lots", "lots"},
	}
	for _, name := range []string{Name, SentinelName, ClusterName} {
		base := driver.Arguments{}
		ini := map[string]any{"cache.backend": name}
		switch name {
		case SentinelName:
			base["sentinels"] = "127.0.0.1:1"
			ini["cache.arguments.sentinels"] = "127.0.0.1:1"
		case ClusterName:
			base["startup_nodes"] = "127.0.0.1:1"
			ini["cache.arguments.startup_nodes"] = "127.0.0.1:1"
		}
		for _, c := range cases {
			arg := "connection_kwargs." + c.name
			check := func(how string, err error) {
				t.Helper()
				var de *dogpile.Error
				switch {
				case err == nil:
					t.Errorf("%s %s %s = %v: configured; want an error", name, how, arg, c.value)
				case !errors.Is(err, dogpile.ErrInvalidArgument) || !errors.As(err, &de) || de.Op != "configure":
					t.Errorf("%s %s %s = %v: %v; want a configure *dogpile.Error wrapping ErrInvalidArgument", name, how, arg, c.value, err)
				case !strings.Contains(err.Error(), `"`+arg+`"`):
					t.Errorf("%s %s %s = %v: %v; want it to name %q", name, how, arg, c.value, err, arg)
				}
			}
			// As a map, as dotted arguments, and from an .ini file.
			r := dogpile.NewRegion(dogpile.WithName("r"))
			args := driver.Arguments{"connection_kwargs": map[string]any{c.name: c.value}}
			for k, v := range base {
				args[k] = v
			}
			check("map", r.Configure(name, dogpile.Config{Arguments: args}))
			args = driver.Arguments{arg: c.value}
			for k, v := range base {
				args[k] = v
			}
			check("dotted", r.Configure(name, dogpile.Config{Arguments: args}))
			settings := map[string]any{"cache.arguments." + arg: c.ini}
			for k, v := range ini {
				settings[k] = v
			}
			check("ini", pyconfig.ConfigureFromConfig(r, settings, "cache."))
			if r.IsConfigured() {
				t.Errorf("%s %s = %v: the region is configured", name, arg, c.value)
				_ = r.Close()
			}
		}
		// The same counts in a URL's query, which go-redis reads itself.
		if name == SentinelName {
			continue
		}
		for _, q := range []string{"pool_size=-1", "pool_size=100000000000", "min_idle_conns=-1", "max_active_conns=100000000000",
			"max_idle_conns=-3", "max_concurrent_dials=-1", "pipeline_pool_size=100000000000"} {
			args := driver.Arguments{"url": "redis://ann:topsecret@127.0.0.1:1?" + q}
			wantArgError(t, name, args, "url", strings.Split(q, "=")[0])
			_, err := driver.Open(name, args)
			if err != nil && strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error %q holds the URL's password", err)
			}
		}
	}
	// In range, the counts reach the client.
	for _, n := range []int{0, 1, MaxPoolSize} {
		o := options(t, open(t, Name, driver.Arguments{"connection_kwargs": map[string]any{"pool_size": n, "max_active_conns": n}}))
		if want := n; n == 0 {
			if o.PoolSize <= 0 || o.MaxActiveConns != 0 {
				t.Errorf("pool_size 0: PoolSize %d MaxActiveConns %d; want go-redis's default and no cap", o.PoolSize, o.MaxActiveConns)
			}
		} else if o.PoolSize != want || o.MaxActiveConns != want {
			t.Errorf("pool_size %d: PoolSize %d MaxActiveConns %d", n, o.PoolSize, o.MaxActiveConns)
		}
	}
	if o := options(t, open(t, Name, driver.Arguments{"connection_kwargs": map[string]any{"max_retries": -1}})); o.MaxRetries != 0 {
		t.Errorf("max_retries -1: MaxRetries %d; want none", o.MaxRetries)
	}
}

// TestErrorShape: an argument error through a region reads with one
// "dogpile:" and one backend name, exactly.
func TestErrorShape(t *testing.T) {
	t.Parallel()
	r := dogpile.NewRegion(dogpile.WithName("r"))
	err := r.Configure(Name, dogpile.Config{Arguments: driver.Arguments{"connection_kwargs.pool_size": -1}})
	const want = `dogpile: region "r": configure: dogpile.cache.redis: invalid argument: ` +
		`argument "connection_kwargs.pool_size" is int -1, want a count from 0 to 10000 (MaxPoolSize)`
	if err == nil || err.Error() != want {
		t.Errorf("Configure = %v\n want %s", err, want)
	}
	if err != nil {
		if n := strings.Count(err.Error(), "dogpile:"); n != 1 {
			t.Errorf("%q says dogpile: %d times", err, n)
		}
		if n := strings.Count(err.Error(), Name); n != 1 {
			t.Errorf("%q names %s %d times", err, Name, n)
		}
	}

	err = r.Configure(ValkeyClusterName, dogpile.Config{Arguments: driver.Arguments{"lock_prefix": "x"}})
	const want2 = `dogpile: region "r": configure: dogpile.cache.valkey_cluster: invalid argument: ` +
		`argument "lock_prefix" is string "x", want a match of ^[\w\-\.\:]{2,10}$`
	if err == nil || err.Error() != want2 {
		t.Errorf("Configure = %v\n want %s", err, want2)
	}

	// New's own errors name the field, with the package's prefix once.
	_, err = New(goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"}), Options{LockTimeout: -time.Second})
	const want3 = "redis: invalid argument: Options.LockTimeout is -1s, want at least 1ms, or 0 for DefaultLockTimeout"
	if err == nil || err.Error() != want3 {
		t.Errorf("New = %v\n want %s", err, want3)
	}
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	bad := []struct {
		field string
		opts  Options
	}{
		{"ServerTTL", Options{ServerTTL: -2 * time.Second}},
		{"ServerTTL", Options{ServerTTL: -2}},
		{"ServerTTL", Options{ServerTTL: time.Microsecond}},
		{"LockPrefix", Options{LockPrefix: "x"}},
		{"LockPrefix", Options{LockPrefix: "a b"}},
		{"LockPrefix", Options{LockPrefix: "_lock_is_too_long"}},
		{"LockTimeout", Options{LockTimeout: -1}},
		{"LockTimeout", Options{LockTimeout: time.Microsecond}},
		{"LockSleep", Options{LockSleep: -time.Second}},
		{"LockSleep", Options{LockSleep: 10 * time.Microsecond}},
		{"LockBlockingTimeout", Options{LockBlockingTimeout: -time.Second}},
		{"LockBlockingTimeout", Options{LockNonBlocking: true, LockBlockingTimeout: time.Second}},
	}
	for _, tc := range bad {
		for _, lock := range []bool{false, true} { // checked even without the lock
			tc.opts.DistributedLock = lock
			b, err := New(c, tc.opts)
			if err == nil || b != nil || !errors.Is(err, driver.ErrInvalidArgument) ||
				!strings.HasPrefix(err.Error(), "redis: invalid argument: Options."+tc.field+" is ") {
				t.Errorf("New(%+v) = %v, %v; want an invalid argument error naming Options.%s", tc.opts, b, err, tc.field)
			}
		}
	}
	for _, nilClient := range []goredis.UniversalClient{nil, (*goredis.Client)(nil), (*goredis.ClusterClient)(nil), (*goredis.Ring)(nil)} {
		if b, err := New(nilClient, Options{}); err == nil || !errors.Is(err, driver.ErrInvalidArgument) {
			t.Errorf("New(%T nil) = %v, %v; want an invalid argument error", nilClient, b, err)
		}
	}

	// The zero Options: no lock, a TTL derived from the region.
	b, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Mutex("k") != nil || b.ServerTTL() != 0 || b.owned || b.mode != direct {
		t.Errorf("zero Options: Mutex %v ServerTTL %v owned %v mode %v", b.Mutex("k"), b.ServerTTL(), b.owned, b.mode)
	}
	b.SetRegionExpiration(time.Minute)
	if b.ServerTTL() != 2*time.Minute {
		t.Errorf("derived ServerTTL = %v; want 2m", b.ServerTTL())
	}
	// The backend leaves the caller's client open.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("the caller's client was closed by Backend.Close: %v", err)
	}
	c = goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()

	b, err = New(c, Options{ServerTTL: NoServerTTL, DistributedLock: true, LockPrefix: "_lok.", LockTimeout: 2 * time.Second,
		LockSleep: 10 * time.Millisecond, LockNonBlocking: true})
	if err != nil {
		t.Fatal(err)
	}
	b.SetRegionExpiration(time.Minute)
	if b.ServerTTL() != 0 {
		t.Errorf("NoServerTTL: ServerTTL %v after SetRegionExpiration; want none", b.ServerTTL())
	}
	if *b.lock != (lockConfig{prefix: "_lok.", timeout: 2 * time.Second, sleep: 10 * time.Millisecond, blocking: false, blockingTimeout: 2*time.Second + MaxLockSleep}) {
		t.Errorf("lock %+v", *b.lock)
	}
	b, err = New(c, Options{ServerTTL: 90 * time.Second, DistributedLock: true, LockBlockingTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b.SetRegionExpiration(time.Minute)
	if b.ServerTTL() != 90*time.Second || b.lock.blockingTimeout != 3*time.Second || b.lock.prefix != DefaultLockPrefix {
		t.Errorf("ServerTTL %v, lock %+v", b.ServerTTL(), *b.lock)
	}

	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cc.Close()
	ring := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	for _, tc := range []struct {
		client goredis.UniversalClient
		mode   mode
	}{{cc, slotted}, {ring, perKey}} {
		b, err := New(tc.client, Options{})
		if err != nil || b.mode != tc.mode {
			t.Errorf("New(%T) = %v; mode %v, want %v", tc.client, err, b.mode, tc.mode)
		}
	}
}

func TestHashSlot(t *testing.T) {
	t.Parallel()
	// Values from the Redis Cluster specification and CLUSTER KEYSLOT.
	for key, want := range map[string]int{
		"123456789":            0x31C3 % slotCount,
		"foo":                  12182,
		"bar":                  5061,
		"{user1000}.following": HashSlot("user1000"),
		"foo{}{bar}":           HashSlot("foo{}{bar}"),
		"foo{{bar}}zap":        HashSlot("{bar"),
		"foo{bar}{zap}":        HashSlot("bar"),
		"":                     0,
	} {
		if got := HashSlot(key); got != want {
			t.Errorf("HashSlot(%q) = %d; want %d", key, got, want)
		}
	}
	if HashSlot("foo{}{bar}") == HashSlot("bar") {
		t.Error("an empty hash tag must hash the whole key")
	}
	g := groupBySlot([]string{"{a}1", "x", "{a}2", "y", "{a}3"})
	if len(g) < 3 || !slices.Equal(g[0], []int{0, 2, 4}) {
		t.Errorf("groupBySlot = %v", g)
	}
}

// TestArgumentsCallTimeout: the call budget is the socket timeout of the
// client the arguments describe, and DefaultCallTimeout for a client
// given as it is.
func TestArgumentsCallTimeout(t *testing.T) {
	t.Parallel()
	ring := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	t.Cleanup(func() { _ = ring.Close() })
	for _, c := range []struct {
		name string
		args driver.Arguments
		want time.Duration
	}{
		{Name, nil, DefaultCallTimeout},
		{Name, driver.Arguments{"socket_timeout": 0.25}, 250 * time.Millisecond},
		{Name, driver.Arguments{"connection_kwargs": map[string]any{"socket_timeout": 7}}, 7 * time.Second},
		{Name, driver.Arguments{"url": "redis://127.0.0.1:1/0?read_timeout=2s"}, 2 * time.Second},
		{ClusterName, driver.Arguments{"socket_timeout": 1.5}, 1500 * time.Millisecond},
		{SentinelName, driver.Arguments{"sentinels": "127.0.0.1:1", "socket_timeout": 2}, 2 * time.Second},
		{Name, driver.Arguments{"client": ring}, DefaultCallTimeout},
	} {
		if b := open(t, c.name, c.args); b.callTimeout != c.want {
			t.Errorf("%s %v: call budget %v; want %v", c.name, c.args, b.callTimeout, c.want)
		}
	}
}

// TestArgumentsNearCache: near_cache builds the client with a near cache
// of the bounds the arguments give, drained every NearCacheDrainInterval.
func TestArgumentsNearCache(t *testing.T) {
	t.Parallel()
	b := open(t, Name, driver.Arguments{"near_cache": true, "near_cache_max_entries": 7, "near_cache_max_bytes": "4096", "near_cache_ttl": 0.5})
	o := options(t, b)
	nc := b.NearCache()
	switch {
	case nc == nil:
		t.Fatal("no near cache")
	case o.ClientSideCache != goredis.Cache(nc):
		t.Error("the client's ClientSideCache is not the backend's near cache")
	case o.ClientSideCacheConfig == nil || o.ClientSideCacheConfig.DrainInterval != NearCacheDrainInterval:
		t.Errorf("ClientSideCacheConfig = %+v; want DrainInterval %v", o.ClientSideCacheConfig, NearCacheDrainInterval)
	case nc.maxEntries != 7 || nc.maxBytes != 4096 || nc.ttl != 500*time.Millisecond:
		t.Errorf("bounds %d entries, %d bytes, TTL %v; want 7, 4096, 500ms", nc.maxEntries, nc.maxBytes, nc.ttl)
	}
	nc = open(t, Name, driver.Arguments{"near_cache": true}).NearCache()
	if nc == nil || nc.maxEntries != DefaultNearCacheMaxEntries || nc.maxBytes != DefaultNearCacheMaxBytes || nc.ttl != DefaultNearCacheTTL {
		t.Errorf("default near cache %+v; want the defaults", nc)
	}
	// The bounds are checked without near_cache too.
	wantArgError(t, Name, driver.Arguments{"near_cache_max_entries": -3}, "near_cache_max_entries")
}
