package memcached

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile"
)

func TestRegisteredNames(t *testing.T) {
	names := dogpile.Backends()
	for _, n := range []string{Name, NamePylibmc, NameBMemcached, NamePyMemcache} {
		if !slices.Contains(names, n) {
			t.Errorf("%s is not registered (registered: %v)", n, names)
			continue
		}
		b, err := dogpile.OpenBackend(n, dogpile.Arguments{"url": "127.0.0.1:11211"})
		if err != nil {
			t.Errorf("OpenBackend(%s): %v", n, err)
			continue
		}
		if mb, ok := b.(*Backend); !ok || mb.name != n {
			t.Errorf("OpenBackend(%s) = %T %v", n, b, b)
		}
	}
}

func TestArguments(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		b := open(t, dogpile.Arguments{"url": "127.0.0.1:11211"})
		c := b.Client()
		if c.Timeout != memcache.DefaultTimeout || c.MaxIdleConns != DefaultMaxIdleConns || c.DialContext != nil {
			t.Errorf("client Timeout %v, MaxIdleConns %d, DialContext set %v; want %v, %d, false",
				c.Timeout, c.MaxIdleConns, c.DialContext != nil, memcache.DefaultTimeout, DefaultMaxIdleConns)
		}
		if b.Mutex("k") != nil {
			t.Error("Mutex is not nil without distributed_lock")
		}
		if !b.mangleKeys || b.ttlFixed || b.TTL() != 0 {
			t.Errorf("mangle %v, ttl fixed %v, TTL %v; want true, false, 0", b.mangleKeys, b.ttlFixed, b.TTL())
		}
		if b.lockTimeout != DefaultLockTimeout || b.lockTTL != 31 || b.lockWait != 31500*time.Millisecond {
			t.Errorf("lock timeout %v, TTL %d s, wait %v; want 30s, 31, 31.5s", b.lockTimeout, b.lockTTL, b.lockWait)
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
			b := open(t, dogpile.Arguments{"url": tc.url})
			if !slices.Equal(b.servers, tc.want) {
				t.Errorf("url %#v: servers %q; want %q", tc.url, b.servers, tc.want)
			}
		}
	})
	t.Run("Values", func(t *testing.T) {
		b := open(t, dogpile.Arguments{
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
		if b.Mutex("k") == nil || b.lockTimeout != 1500*time.Millisecond || b.lockTTL != 3 || b.lockWait != 3500*time.Millisecond {
			t.Errorf("lock: %v, timeout %v, TTL %d, wait %v; want a Mutex, 1.5s, 3, 3.5s", b.Mutex("k"), b.lockTimeout, b.lockTTL, b.lockWait)
		}
		if b.mangleKeys {
			t.Error("mangle_invalid_keys false was not applied")
		}
		b = open(t, dogpile.Arguments{"url": "127.0.0.1:11211", "memcached_expire_time": 0, "lock_timeout": 0})
		b.SetRegionExpiration(time.Hour)
		if b.TTL() != 0 || b.lockTimeout != DefaultLockTimeout {
			t.Errorf("memcached_expire_time 0: TTL %v; lock_timeout 0: %v; want none and the default", b.TTL(), b.lockTimeout)
		}
		b = open(t, dogpile.Arguments{"url": "127.0.0.1:11211", "memcached_expire_time": nil, "socket_timeout": "250ms"})
		b.SetRegionExpiration(time.Minute)
		if b.TTL() != 121*time.Second || b.Client().Timeout != 250*time.Millisecond {
			t.Errorf("memcached_expire_time None: TTL %v; socket_timeout: %v; want 121s and 250ms", b.TTL(), b.Client().Timeout)
		}
	})
	t.Run("Dialer", func(t *testing.T) {
		for _, args := range []dogpile.Arguments{
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
		args := dogpile.Arguments{"url": "127.0.0.1:11211"}
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
	t.Run("Client", func(t *testing.T) {
		c := memcache.New("127.0.0.1:1")
		b := open(t, dogpile.Arguments{"client": c, "distributed_lock": true})
		if b.Client() != c || b.ownsClient || b.servers != nil {
			t.Errorf("client argument: Client() %p (want %p), owns %v", b.Client(), c, b.ownsClient)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		for _, tc := range []struct {
			args dogpile.Arguments
			want string
		}{
			{dogpile.Arguments{}, `"url": required`},
			{dogpile.Arguments{"url": ""}, `"url": no server`},
			{dogpile.Arguments{"url": 42}, `"url"`},
			{dogpile.Arguments{"url": "a:b:c:"}, `"url"`},
			{dogpile.Arguments{"url": "127.0.0.1", "foo": "barf"}, `unknown arguments ["foo"]`},
			{dogpile.Arguments{"url": "127.0.0.1", "lock_timeout": -1}, `"lock_timeout": negative`},
			{dogpile.Arguments{"url": "127.0.0.1", "memcached_expire_time": -5}, `"memcached_expire_time": negative`},
			{dogpile.Arguments{"url": "127.0.0.1", "socket_timeout": 0}, `"socket_timeout"`},
			{dogpile.Arguments{"url": "127.0.0.1", "max_idle_conns": 0}, `"max_idle_conns"`},
			{dogpile.Arguments{"url": "127.0.0.1", "distributed_lock": "maybe"}, `"distributed_lock"`},
			{dogpile.Arguments{"url": "127.0.0.1", "tls_context": "yes"}, `"tls_context"`},
			{dogpile.Arguments{"url": "127.0.0.1", "socket_keepalive": -3}, `"socket_keepalive"`},
			{dogpile.Arguments{"url": "127.0.0.1", "username": "alice"}, `"username"`},
			{dogpile.Arguments{"url": "127.0.0.1", "username": "al ice", "password": "x"}, `"username"`},
			{dogpile.Arguments{"client": "127.0.0.1"}, `"client"`},
			{dogpile.Arguments{"client": memcache.New("127.0.0.1:1"), "url": "127.0.0.1"}, `"url": set on the *memcache.Client`},
			{dogpile.Arguments{"client": memcache.New("127.0.0.1:1"), "socket_timeout": 3}, `"socket_timeout"`},
		} {
			_, err := New(tc.args)
			switch {
			case err == nil:
				t.Errorf("New(%v) succeeded", tc.args)
			case !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) ||
				!strings.HasPrefix(err.Error(), "dogpile"):
				t.Errorf("New(%v): %v; want an error wrapping dogpile.ErrInvalidArgument mentioning %s", tc.args, err, tc.want)
			}
		}
	})
	t.Run("FromConfig", func(t *testing.T) {
		captureLogs(t)
		r := dogpile.NewRegion()
		err := r.ConfigureFromConfig(map[string]any{
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
		ab, _ := r.ActualBackend()
		b := ab.(*Backend)
		if !slices.Equal(b.servers, []string{"127.0.0.1:1", "127.0.0.1:2"}) || b.lockTimeout != 5*time.Second ||
			b.Client().Timeout != 2*time.Second || b.Mutex("k") == nil || b.TTL() != 121*time.Second {
			t.Errorf("servers %q, lock timeout %v, socket timeout %v, TTL %v", b.servers, b.lockTimeout, b.Client().Timeout, b.TTL())
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
