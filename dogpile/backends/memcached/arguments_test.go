package memcached

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
	"github.com/dogpilego/dogpile/internal/testserver"
)

func TestRegisteredNames(t *testing.T) {
	names := driver.Backends()
	for _, n := range []string{Name, NamePylibmc, NameBMemcached, NamePyMemcache} {
		if !slices.Contains(names, n) {
			t.Errorf("%s is not registered (registered: %v)", n, names)
			continue
		}
		b, err := driver.Open(n, driver.Arguments{"url": "127.0.0.1:11211"})
		if err != nil {
			t.Errorf("driver.Open(%s): %v", n, err)
			continue
		}
		if mb, ok := b.(*Backend); !ok || !mb.ownsClient {
			t.Errorf("driver.Open(%s) = %T %v; want a *Backend owning its client", n, b, b)
		} else {
			_ = mb.Close()
		}
	}
}

func TestArguments(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		raw, err := driver.Open(Name, driver.Arguments{"url": "127.0.0.1:11211"})
		if err != nil {
			t.Fatal(err)
		}
		b := raw.(*Backend)
		defer b.Close()
		c := b.Client()
		// The factory's dialer bounds a new connection's first exchange
		// (boundedConn), with or without TLS and authentication.
		if c.Timeout != memcache.DefaultTimeout || c.MaxIdleConns != defaultMaxIdleConns || c.DialContext == nil {
			t.Errorf("client Timeout %v, MaxIdleConns %d, DialContext set %v; want %v, %d, true",
				c.Timeout, c.MaxIdleConns, c.DialContext != nil, memcache.DefaultTimeout, defaultMaxIdleConns)
		}
		if sel, ok := b.servers.(*Selector); !ok || sel.Selection() != SelectPythonMemcached {
			t.Errorf("servers %T %v; want a *Selector following python-memcached, dogpile.cache.memcached's client", b.servers, b.servers)
		}
		if b.Mutex("k") != nil {
			t.Error("Mutex is not nil without distributed_lock")
		}
		if !b.mangleKeys || b.ttlFixed || b.TTL() != 0 {
			t.Errorf("mangle %v, ttl fixed %v, TTL %v; want true, false, 0", b.mangleKeys, b.ttlFixed, b.TTL())
		}
		if b.lockTTL != 31 || b.lockWait != 31500*time.Millisecond {
			t.Errorf("lock TTL %d s, wait %v; want 31 (the default 30 s + 1), 31.5s", b.lockTTL, b.lockWait)
		}
		if !b.ownsClient {
			t.Error("the backend does not own the client it built")
		}
	})
	t.Run("URL", func(t *testing.T) {
		for _, tc := range []struct {
			url  any
			want []string
		}{
			{"127.0.0.1:11311", []string{"127.0.0.1:11311"}},
			{"127.0.0.1", []string{"127.0.0.1:11211"}},
			{"127.0.0.1:1, 127.0.0.2:2", []string{"127.0.0.1:1", "127.0.0.2:2"}},
			{[]string{"127.0.0.1:1", "127.0.0.2:2"}, []string{"127.0.0.1:1", "127.0.0.2:2"}},
			{[]any{"127.0.0.1:1", "localhost"}, []string{"127.0.0.1:1", "localhost:11211"}},
			{"[::1]:5", []string{"[::1]:5"}},
			{"::1", []string{"[::1]:11211"}},
			{"inet:127.0.0.1:7", []string{"127.0.0.1:7"}},
			{"unix:/tmp/memcached.sock", []string{"/tmp/memcached.sock"}},
		} {
			conn, _, err := parseArgs(Name, driver.Arguments{"url": tc.url})
			if err != nil || !slices.Equal(conn.servers, tc.want) {
				t.Errorf("url %#v: servers %q, %v; want %q", tc.url, conn.servers, err, tc.want)
			}
			open(t, driver.Arguments{"url": tc.url}) // builds
		}
	})
	t.Run("Values", func(t *testing.T) {
		b := open(t, driver.Arguments{
			"url":                   "127.0.0.1:11211",
			"socket_timeout":        6,
			"max_idle_conns":        "40",
			"memcached_expire_time": "20",
			"distributed_lock":      "true",
			"lock_timeout":          1.5,
			"mangle_invalid_keys":   false,
		})
		c := b.Client()
		if c.Timeout != 6*time.Second || c.MaxIdleConns != 40 {
			t.Errorf("client Timeout %v, MaxIdleConns %d; want 6s, 40", c.Timeout, c.MaxIdleConns)
		}
		if b.TTL() != 20*time.Second || !b.ttlFixed {
			t.Errorf("TTL %v (fixed %v); want 20s, fixed", b.TTL(), b.ttlFixed)
		}
		b.SetRegionExpiration(time.Hour)
		if b.TTL() != 20*time.Second {
			t.Errorf("memcached_expire_time was replaced by the region's: %v", b.TTL())
		}
		if b.Mutex("k") == nil || b.lockTTL != 3 || b.lockWait != 3500*time.Millisecond {
			t.Errorf("lock: %v, TTL %d, wait %v; want a Mutex, 3 (1.5 s rounded up + 1), 3.5s", b.Mutex("k"), b.lockTTL, b.lockWait)
		}
		if b.mangleKeys {
			t.Error("mangle_invalid_keys false was not applied")
		}
		b = open(t, driver.Arguments{"url": "127.0.0.1:11211", "memcached_expire_time": 0, "lock_timeout": 0})
		b.SetRegionExpiration(time.Hour)
		if b.TTL() != 0 || b.lockTTL != 31 {
			t.Errorf("memcached_expire_time 0: TTL %v; lock_timeout 0: lock TTL %d; want none and the default's 31", b.TTL(), b.lockTTL)
		}
		b = open(t, driver.Arguments{"url": "127.0.0.1:11211", "memcached_expire_time": nil, "socket_timeout": "250ms"})
		b.SetRegionExpiration(time.Minute)
		if b.TTL() != 121*time.Second || b.Client().Timeout != 250*time.Millisecond {
			t.Errorf("memcached_expire_time None: TTL %v; socket_timeout: %v; want 121s and 250ms", b.TTL(), b.Client().Timeout)
		}
		for _, tc := range []struct {
			args driver.Arguments
			want Options
		}{
			{driver.Arguments{}, Options{}},
			{driver.Arguments{"memcached_expire_time": 0}, Options{ServerTTL: NoServerTTL}},
			{driver.Arguments{"memcached_expire_time": "0.25"}, Options{ServerTTL: 250 * time.Millisecond}},
			{driver.Arguments{"memcached_expire_time": time.Hour, "lock_timeout": "90s"}, Options{ServerTTL: time.Hour, LockTimeout: 90 * time.Second}},
			{driver.Arguments{"distributed_lock": 1, "mangle_invalid_keys": "off"}, Options{DistributedLock: true, RefuseInvalidKeys: true}},
		} {
			tc.args["url"] = "127.0.0.1"
			if _, got, err := parseArgs(Name, tc.args); err != nil || got != tc.want {
				t.Errorf("%v: Options %+v, %v; want %+v", tc.args, got, err, tc.want)
			}
		}
	})
	t.Run("Dialer", func(t *testing.T) {
		for _, args := range []driver.Arguments{
			{"tls_context": &tls.Config{}},
			{"socket_keepalive": true},
			{"socket_keepalive": "off"},
			{"socket_keepalive": 30},
			{"username": "alice", "password": "secret"},
		} {
			args["url"] = "127.0.0.1:11211"
			if open(t, args).Client().DialContext == nil {
				t.Errorf("%v: no DialContext", args)
			}
		}
	})
	t.Run("PythonOnly", func(t *testing.T) {
		// Accepted, and each logged once per process: capture the log.
		logged := captureLogs(t)
		args := driver.Arguments{"url": "127.0.0.1:11211"}
		for _, n := range pythonOnly {
			args[n] = 4
		}
		args["behaviors"] = map[string]any{"tcp_nodelay": true}
		args["binary"] = true
		open(t, args)
		open(t, args)
		for _, n := range pythonOnly {
			if c := strings.Count(logged.String(), "argument="+n+"\n"); c > 1 {
				t.Errorf("%s was logged %d times; want once per process", n, c)
			}
		}
	})
	t.Run("Errors", func(t *testing.T) {
		for _, tc := range []struct {
			args driver.Arguments
			want string
		}{
			{driver.Arguments{}, `argument "url" is required`},
			{driver.Arguments{"url": ""}, `argument "url" is string "", want at least one server`},
			{driver.Arguments{"url": 42}, `argument "url" is int 42`},
			{driver.Arguments{"url": "a:b:c:"}, `argument "url" is string "a:b:c:", want servers that resolve`},
			{driver.Arguments{"url": "[::1"}, `bad server address "[::1"`},
			{driver.Arguments{"url": "127.0.0.1", "foo": "barf"}, `unknown arguments ["foo"]`},
			{driver.Arguments{"url": "127.0.0.1", "lock_timeout": -1}, `argument "lock_timeout" is int -1, want a number of seconds, 0 or more`},
			{driver.Arguments{"url": "127.0.0.1", "memcached_expire_time": -5}, `argument "memcached_expire_time" is int -5`},
			{driver.Arguments{"url": "127.0.0.1", "memcached_expire_time": "soon"}, `argument "memcached_expire_time" is string "soon", want seconds`},
			{driver.Arguments{"url": "127.0.0.1", "socket_timeout": 0}, `argument "socket_timeout"`},
			{driver.Arguments{"url": "127.0.0.1", "max_idle_conns": 0}, `argument "max_idle_conns"`},
			{driver.Arguments{"url": "127.0.0.1", "distributed_lock": "maybe"}, `argument "distributed_lock"`},
			{driver.Arguments{"url": "127.0.0.1", "tls_context": "yes"}, `argument "tls_context"`},
			{driver.Arguments{"url": "127.0.0.1", "socket_keepalive": -3}, `argument "socket_keepalive"`},
			{driver.Arguments{"url": "127.0.0.1", "username": "alice"}, `argument "username"`},
			{driver.Arguments{"url": "127.0.0.1", "username": "al ice", "password": "x"}, `argument "username"`},
			{driver.Arguments{"url": "127.0.0.1", "username": "alice", "password": "se\ncret"}, `argument "password" holds a line break`},
			// A client is given to New, not as an argument.
			{driver.Arguments{"url": "127.0.0.1", "client": memcache.New("127.0.0.1:1")}, `unknown arguments ["client"]`},
		} {
			_, err := driver.Open(Name, tc.args)
			switch {
			case err == nil:
				t.Errorf("driver.Open(%v) succeeded", tc.args)
			case !errors.Is(err, driver.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want):
				t.Errorf("driver.Open(%v): %v; want an error wrapping driver.ErrInvalidArgument saying %s", tc.args, err, tc.want)
			case !strings.HasPrefix(err.Error(), Name+": invalid argument: ") || strings.Count(err.Error(), "dogpile") != 1 ||
				strings.Count(err.Error(), "memcached:") != 1:
				// driver.Open names the backend once; the factory adds nothing.
				t.Errorf("driver.Open(%v): %q; want %q and the cause, with no other prefix", tc.args, err, Name+": invalid argument: ")
			case strings.Contains(err.Error(), "cret"):
				t.Errorf("driver.Open(%v): %q shows the password", tc.args, err)
			}
		}
	})
	t.Run("FromConfig", func(t *testing.T) {
		captureLogs(t)
		r := dogpile.NewRegion()
		err := pyconfig.ConfigureFromConfig(r, map[string]any{
			"c.backend":                             NamePyMemcache,
			"c.expiration_time":                     "60",
			"c.arguments.url":                       "127.0.0.1:1, 127.0.0.1:2",
			"c.arguments.distributed_lock":          "true",
			"c.arguments.lock_timeout":              "5",
			"c.arguments.socket_timeout":            "2",
			"c.arguments.enable_retry_client":       "true",
			"c.arguments.hashclient_retry_attempts": "3",
		}, "c.")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		b := driver.Unwrap(r.Backend()).(*Backend)
		if b.lockTTL != 6 || b.Client().Timeout != 2*time.Second || b.Mutex("k") == nil || b.TTL() != 121*time.Second || !b.ownsClient {
			t.Errorf("lock TTL %d, socket timeout %v, TTL %v, owns the client %v; want 6, 2s, 121s, true",
				b.lockTTL, b.Client().Timeout, b.TTL(), b.ownsClient)
		}
	})
}

// TestServerSelection: each registered name places keys as the Python
// client dogpile.cache uses under it, unless server_selection says
// otherwise; pylibmc behaviors that move keys elsewhere are refused.
func TestServerSelection(t *testing.T) {
	two := "127.0.0.1:1, 127.0.0.1:2"
	for _, tc := range []struct {
		name string
		args driver.Arguments
		want Selection
	}{
		{Name, driver.Arguments{}, SelectPythonMemcached},
		{NamePyMemcache, driver.Arguments{}, SelectPyMemcache},
		{NamePylibmc, driver.Arguments{}, SelectPylibmc},
		{NameBMemcached, driver.Arguments{}, SelectGomemcache},
		{Name, driver.Arguments{"server_selection": "pymemcache"}, SelectPyMemcache},
		{NamePyMemcache, driver.Arguments{"server_selection": "gomemcache"}, SelectGomemcache},
		{NameBMemcached, driver.Arguments{"server_selection": "python-memcached"}, SelectPythonMemcached},
		{NamePylibmc, driver.Arguments{"behaviors": map[string]any{"tcp_nodelay": true}}, SelectPylibmc},
		{NamePylibmc, driver.Arguments{"behaviors": map[string]any{"ketama": true}, "server_selection": "pylibmc"}, SelectPylibmc},
	} {
		captureLogs(t)
		tc.args["url"] = two
		raw, err := driver.Open(tc.name, tc.args)
		if err != nil {
			t.Errorf("%s %v: %v", tc.name, tc.args, err)
			continue
		}
		b := raw.(*Backend)
		defer b.Close()
		if sel, ok := b.servers.(*Selector); !ok || sel.Selection() != tc.want {
			t.Errorf("%s %v: selection %v; want %s", tc.name, tc.args, b.servers, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		args driver.Arguments
		want string
	}{
		{Name, driver.Arguments{"url": two, "server_selection": "ketama"},
			`argument "server_selection" is string "ketama", want one of ["python-memcached" "pymemcache" "pylibmc" "gomemcache"]`},
		{NamePylibmc, driver.Arguments{"url": two, "behaviors": map[string]any{"ketama": true}},
			`argument "behaviors" is map[string]interface {} map[ketama:true], want no "ketama": pylibmc would place keys other than by libmemcached's default`},
		{NamePylibmc, driver.Arguments{"url": two, "behaviors": map[string]any{"distribution": "consistent"}}, `want no "distribution"`},
		{NamePylibmc, driver.Arguments{"url": two, "behaviors": map[string]bool{"ketama_weighted": true}}, `want no "ketama_weighted"`},
	} {
		_, err := driver.Open(tc.name, tc.args)
		if !errors.Is(err, driver.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v; want an error saying %s", tc.name, tc.args, err, tc.want)
		}
	}
	// One server: every selection picks it, and the behaviors are harmless.
	captureLogs(t)
	if _, err := driver.Open(NamePylibmc, driver.Arguments{"url": "127.0.0.1:1", "behaviors": map[string]any{"ketama": true}}); err != nil {
		t.Errorf("pylibmc with ketama on one server: %v", err)
	}
}

// TestConfigureError: a bad argument reaches the caller of Configure as
// one *dogpile.Error, prefixed once by the region and once by the backend's
// name, with the argument's problem after them.
func TestConfigureError(t *testing.T) {
	r := dogpile.NewRegion(dogpile.WithName("pages"))
	err := r.Configure(Name, dogpile.Config{ExpirationTime: time.Minute, Arguments: map[string]any{
		"url":          "127.0.0.1",
		"lock_timeout": -1,
	}})
	const want = `dogpile: region "pages": configure: dogpile.cache.memcached: invalid argument: ` +
		`argument "lock_timeout" is int -1, want a number of seconds, 0 or more (0: 30 s)`
	var de *dogpile.Error
	if err == nil || err.Error() != want || !errors.As(err, &de) || !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Errorf("Configure with a negative lock_timeout:\n got %v\nwant %s (a *dogpile.Error wrapping ErrInvalidArgument)", err, want)
	}
	if r.IsConfigured() {
		t.Error("the region is configured after a failed Configure")
	}
	err = r.Configure(NameBMemcached, dogpile.Config{Arguments: map[string]any{"url": "127.0.0.1", "flush_on_start": true}})
	const wantUnknown = `dogpile: region "pages": configure: dogpile.cache.bmemcached: invalid argument: unknown arguments ["flush_on_start"]`
	if err == nil || err.Error() != wantUnknown {
		t.Errorf("Configure with an unknown argument:\n got %v\nwant %s", err, wantUnknown)
	}
}

// TestNew: the typed constructor validates its Options, uses the client
// it is given as it is, and leaves it open on Close.
func TestNew(t *testing.T) {
	t.Run("Options", func(t *testing.T) {
		c := memcache.New("127.0.0.1:1")
		for _, tc := range []struct {
			opts             Options
			ttl              time.Duration // after a region expiring after an hour
			lockTTL          int64
			mangle, lockable bool
		}{
			{Options{}, 7201 * time.Second, 31, true, false},
			{Options{ServerTTL: NoServerTTL}, 0, 31, true, false},
			{Options{ServerTTL: 1500 * time.Millisecond}, 2 * time.Second, 31, true, false},
			{Options{ServerTTL: 40 * 24 * time.Hour}, 40 * 24 * time.Hour, 31, true, false},
			{Options{DistributedLock: true, LockTimeout: 1500 * time.Millisecond}, 7201 * time.Second, 3, true, true},
			{Options{LockTimeout: time.Duration(1<<63 - 1)}, 7201 * time.Second, 9223372038, true, false},
			{Options{RefuseInvalidKeys: true}, 7201 * time.Second, 31, false, false},
		} {
			b, err := New(c, tc.opts)
			if err != nil {
				t.Errorf("New(%+v): %v", tc.opts, err)
				continue
			}
			b.SetRegionExpiration(time.Hour)
			if b.TTL() != tc.ttl || b.lockTTL != tc.lockTTL || b.mangleKeys != tc.mangle || (b.Mutex("k") != nil) != tc.lockable ||
				b.Client() != c || b.ownsClient || b.lockWait <= 0 {
				t.Errorf("New(%+v): TTL %v, lock TTL %d (wait %v), mangle %v, Mutex %v, client %p (owned %v); want %v, %d, %v, lock %v, %p",
					tc.opts, b.TTL(), b.lockTTL, b.lockWait, b.mangleKeys, b.Mutex("k"), b.Client(), b.ownsClient,
					tc.ttl, tc.lockTTL, tc.mangle, tc.lockable, c)
			}
		}
	})
	t.Run("Errors", func(t *testing.T) {
		c := memcache.New("127.0.0.1:1")
		for _, tc := range []struct {
			client *memcache.Client
			opts   Options
			want   string
		}{
			{nil, Options{}, "memcached: invalid argument: nil *memcache.Client"},
			{c, Options{ServerTTL: -5 * time.Second}, "memcached: invalid argument: Options.ServerTTL is -5s, want a positive duration, zero (derived from the region) or NoServerTTL"},
			{c, Options{ServerTTL: -2}, "memcached: invalid argument: Options.ServerTTL is -2ns"},
			{c, Options{LockTimeout: -time.Millisecond}, "memcached: invalid argument: Options.LockTimeout is -1ms, want a positive duration or zero (DefaultLockTimeout)"},
		} {
			b, err := New(tc.client, tc.opts)
			if b != nil || !errors.Is(err, driver.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("New(%p, %+v) = %v, %v; want an error wrapping driver.ErrInvalidArgument starting %q", tc.client, tc.opts, b, err, tc.want)
			}
		}
	})
	t.Run("Close", func(t *testing.T) {
		// Close of a backend from New leaves the client's idle
		// connections alone: the next operation dials nothing. A backend
		// from a factory closes its own.
		m := testserver.StartMemcached(t)
		ctx := context.Background()
		var dials atomic.Int64
		dialer := func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
		c := memcache.New(m.Addr)
		c.Timeout = testTimeout
		c.DialContext = dialer
		given := openClient(t, c, Options{})
		owned := open(t, driver.Arguments{"url": m.Addr})
		owned.Client().DialContext = dialer
		for _, tc := range []struct {
			name  string
			b     *Backend
			dials int64
		}{{"New", given, 0}, {"factory", owned, 1}} {
			key := keyPrefix(t) + tc.name
			if err := tc.b.SetBytes(ctx, key, []byte("v")); err != nil {
				t.Fatal(err)
			}
			before := dials.Load()
			if err := tc.b.Close(); err != nil {
				t.Errorf("%s: Close: %v", tc.name, err)
			}
			if _, ok, err := tc.b.GetBytes(ctx, key); !ok || err != nil {
				t.Errorf("%s: GetBytes after Close = %v, %v; want the value", tc.name, ok, err)
			}
			if n := dials.Load() - before; n != tc.dials {
				t.Errorf("%s: %d dials after Close; want %d", tc.name, n, tc.dials)
			}
		}
	})
}

// captureLogs sends the default logger's output, where ignored arguments
// are reported, to a buffer until t ends. Tests using it are not parallel.
func captureLogs(t *testing.T) *strings.Builder {
	var logged strings.Builder
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return &logged
}
