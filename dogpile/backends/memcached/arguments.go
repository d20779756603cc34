package memcached

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile"
)

// The names this package registers. All four build the same backend: the
// Python aliases let a dogpile.cache configuration file work unchanged.
const (
	// Name is dogpile.cache's python-memcached backend.
	Name = "dogpile.cache.memcached"
	// NamePylibmc is dogpile.cache's pylibmc backend.
	NamePylibmc = "dogpile.cache.pylibmc"
	// NameBMemcached is dogpile.cache's python-binary-memcached backend.
	NameBMemcached = "dogpile.cache.bmemcached"
	// NamePyMemcache is dogpile.cache's pymemcache backend.
	NamePyMemcache = "dogpile.cache.pymemcache"
)

// DefaultMaxIdleConns is the number of idle connections kept per server
// when max_idle_conns is not set. The memcache client's own default (2)
// makes concurrent callers dial a new connection for most operations.
const DefaultMaxIdleConns = 16

// DefaultPort is the port of a url entry that names none.
const DefaultPort = "11211"

func init() {
	for _, name := range []string{Name, NamePylibmc, NameBMemcached, NamePyMemcache} {
		dogpile.Register(name, func(args dogpile.Arguments) (dogpile.Backend, error) {
			return newBackend(name, args)
		})
	}
}

// pythonOnly are the arguments dogpile.cache's memcached backends take
// that mean nothing with this client: accepted, and logged once when set.
var pythonOnly = []string{
	"dead_retry",       // python-memcached: no dead-server bookkeeping here
	"min_compress_len", // no compression: values are the wire format
	"binary",           // pylibmc: the text protocol is used
	"behaviors",        // pylibmc
	"serde",            // pymemcache: values are bytes
	"default_noreply",  // pymemcache: every command waits for its reply
	"enable_retry_client",
	"retry_attempts",
	"retry_delay",
	"retry_for",
	"do_not_retry_for",
	"hashclient_retry_attempts",
	"hashclient_retry_timeout",
	"hashclient_dead_timeout",
}

// connArgs configure the connections; they conflict with "client".
var connArgs = []string{"url", "socket_timeout", "max_idle_conns", "tls_context", "socket_keepalive", "username", "password"}

func newBackend(name string, args dogpile.Arguments) (*Backend, error) {
	p := args.Parser(name)
	bad := func(arg, format string, a ...any) error {
		return fmt.Errorf("dogpile/memcached: %s: argument %q: %s: %w", name, arg, fmt.Sprintf(format, a...), dogpile.ErrInvalidArgument)
	}
	b := &Backend{name: name}

	b.mangleKeys = p.Bool("mangle_invalid_keys", true)
	b.lockEnabled = p.Bool("distributed_lock", false)
	b.lockTimeout = p.Seconds("lock_timeout", 0)
	if b.ttlFixed = p.Has("memcached_expire_time"); b.ttlFixed {
		d := p.Seconds("memcached_expire_time", 0)
		if d < 0 {
			return nil, bad("memcached_expire_time", "negative: %v", d)
		}
		b.ttl.Store(ceilSeconds(d))
	} else {
		b.ttl.Store(-1)
	}
	p.Ignore(pythonOnly...)

	var given *memcache.Client
	if v, ok := p.Value("client"); ok {
		c, isClient := v.(*memcache.Client)
		if !isClient || c == nil {
			return nil, bad("client", "%T, want a *memcache.Client", v)
		}
		given = c
		for _, a := range connArgs {
			if p.Has(a) {
				return nil, bad(a, "set on the *memcache.Client given as \"client\" instead")
			}
		}
	}
	var conn connConfig
	if given == nil {
		var err error
		if conn, err = parseConn(p, bad); err != nil {
			return nil, err
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if b.lockTimeout < 0 {
		return nil, bad("lock_timeout", "negative: %v", b.lockTimeout)
	}
	if b.lockTimeout == 0 {
		b.lockTimeout = DefaultLockTimeout
	}
	b.lockTTL = lockTTL(b.lockTimeout)
	b.lockWait = time.Duration(b.lockTTL)*time.Second + lockPollMax

	if given != nil {
		b.client = given
		return b, nil
	}
	ss := new(memcache.ServerList)
	if err := ss.SetServers(conn.servers...); err != nil {
		return nil, bad("url", "%v", err)
	}
	b.client = memcache.NewFromSelector(ss)
	b.client.Timeout = conn.timeout
	b.client.MaxIdleConns = conn.maxIdle
	b.client.DialContext = conn.dialer()
	b.servers = conn.servers
	b.ownsClient = true
	return b, nil
}

// connConfig is what the connection arguments say.
type connConfig struct {
	servers    []string
	timeout    time.Duration
	maxIdle    int
	tls        *tls.Config
	keepAlive  time.Duration // net.Dialer.KeepAlive: 0 default, < 0 off
	keepAliveG bool          // socket_keepalive was given
	username   string
	password   string
}

func parseConn(p *dogpile.ArgParser, bad func(arg, format string, a ...any) error) (connConfig, error) {
	var c connConfig
	if !p.Has("url") {
		return c, bad("url", "required: a \"host:port\", a list of them, or \"host1:port1, host2:port2\"")
	}
	for _, u := range p.Strings("url") {
		s, err := serverAddr(u)
		if err != nil {
			return c, bad("url", "%v", err)
		}
		c.servers = append(c.servers, s)
	}
	if len(c.servers) == 0 && p.Err() == nil {
		return c, bad("url", "no server given")
	}
	c.timeout = p.Seconds("socket_timeout", memcache.DefaultTimeout)
	if c.timeout <= 0 {
		return c, bad("socket_timeout", "%v; want a positive number of seconds", c.timeout)
	}
	c.maxIdle = p.Int("max_idle_conns", DefaultMaxIdleConns)
	if c.maxIdle < 1 {
		return c, bad("max_idle_conns", "%d; want at least 1", c.maxIdle)
	}
	if v, ok := p.Value("tls_context"); ok {
		cfg, isTLS := v.(*tls.Config)
		if !isTLS || cfg == nil {
			return c, bad("tls_context", "%T, want a *tls.Config", v)
		}
		c.tls = cfg
	}
	if v, ok := p.Value("socket_keepalive"); ok {
		c.keepAliveG = true
		switch on, isBool := boolValue(v); {
		case isBool && on:
			c.keepAlive = 0 // the operating system's probes, at Go's default period
		case isBool:
			c.keepAlive = -1
		default:
			if c.keepAlive = p.Seconds("socket_keepalive", 0); c.keepAlive <= 0 {
				return c, bad("socket_keepalive", "%v; want a boolean or a positive period in seconds", v)
			}
		}
	}
	c.username = p.String("username", "")
	c.password = p.String("password", "")
	if (c.username == "") != (c.password == "") {
		return c, bad("username", "username and password go together")
	}
	if strings.ContainsAny(c.username, " \r\n") || strings.ContainsAny(c.password, "\r\n") {
		return c, bad("username", "no spaces in the username and no line breaks in either")
	}
	return c, nil
}

// serverAddr turns a url entry into an address for the memcache client:
// "host:port", "host" (port 11211), "[v6]:port", a unix socket path, or
// Python's "unix:/path" and "inet:host:port" forms.
func serverAddr(u string) (string, error) {
	u = strings.TrimSpace(u)
	if rest, ok := strings.CutPrefix(u, "unix:"); ok {
		u = rest
	} else if rest, ok := strings.CutPrefix(u, "inet:"); ok {
		u = rest
	}
	switch {
	case u == "":
		return "", fmt.Errorf("empty server address")
	case strings.HasPrefix(u, "/"):
		return u, nil
	}
	if _, _, err := net.SplitHostPort(u); err == nil {
		return u, nil
	}
	if strings.Count(u, ":") > 1 && !strings.HasPrefix(u, "[") { // a bare IPv6 address
		return net.JoinHostPort(u, DefaultPort), nil
	}
	if strings.Contains(u, ":") {
		return "", fmt.Errorf("bad server address %q; want host:port", u)
	}
	return net.JoinHostPort(u, DefaultPort), nil
}

// boolValue reads v as a boolean when it is one (a bool, or a string such
// as "true" or "off").
func boolValue(v any) (on, ok bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "yes", "on":
			return true, true
		case "false", "no", "off":
			return false, true
		}
	}
	return false, false
}
