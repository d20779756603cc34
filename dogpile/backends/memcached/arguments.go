package memcached

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile/driver"
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

// defaultMaxIdleConns is the number of idle connections the factories'
// clients keep per server when max_idle_conns is not set. The memcache
// client's own default (2) makes concurrent callers dial a new connection
// for most operations.
const defaultMaxIdleConns = 16

// defaultPort is the port of a url entry that names none.
const defaultPort = "11211"

func init() {
	for _, name := range []string{Name, NamePylibmc, NameBMemcached, NamePyMemcache} {
		driver.Register(name, func(args driver.Arguments) (driver.Backend, error) {
			return openArgs(name, args)
		})
	}
}

// defaultSelection is the server selection of each registered name when
// server_selection is not given: that of the Python client dogpile.cache
// uses under the name, so that Go and Python processes configured alike
// share keys and locks. python-binary-memcached's Client writes every key
// to every server, which no selection does: its name keeps the Go
// client's.
var defaultSelection = map[string]Selection{
	Name:           SelectPythonMemcached,
	NamePyMemcache: SelectPyMemcache,
	NamePylibmc:    SelectPylibmc,
	NameBMemcached: SelectGomemcache,
}

// pylibmcPlacement are the pylibmc behaviors that move keys away from
// libmemcached's default distribution, which SelectPylibmc follows.
var pylibmcPlacement = []string{"ketama", "ketama_weighted", "ketama_hash", "distribution", "hash"}

// pythonOnly are the arguments dogpile.cache's memcached backends take
// that mean nothing with this client: accepted, and logged once when set.
var pythonOnly = []string{
	"dead_retry",       // python-memcached: no dead-server bookkeeping here
	"min_compress_len", // no compression: values are the wire format
	"binary",           // pylibmc: the text protocol is used
	"behaviors",        // pylibmc; those that move keys are refused (pylibmcPlacement)
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

// openArgs is the registered factories' constructor: a backend on a client
// it builds from args, and closes on Close.
func openArgs(name string, args driver.Arguments) (*Backend, error) {
	conn, opts, err := parseArgs(name, args)
	if err != nil {
		return nil, err
	}
	opts.Selector = conn.selector
	b, err := newBackend(conn.client(), opts)
	if err != nil {
		return nil, err
	}
	b.ownsClient = true
	return b, nil
}

// parseArgs converts dogpile.cache's arguments into the client's settings
// and the backend's Options.
func parseArgs(name string, args driver.Arguments) (connConfig, Options, error) {
	p := args.Parser(name)
	var o Options
	o.RefuseInvalidKeys = !p.Bool("mangle_invalid_keys", true)
	o.DistributedLock = p.Bool("distributed_lock", false)
	if o.LockTimeout = p.Seconds("lock_timeout", 0); o.LockTimeout < 0 {
		p.Reject("lock_timeout", "a number of seconds, 0 or more (0: 30 s)")
	}
	if p.Has("memcached_expire_time") {
		switch d := p.Seconds("memcached_expire_time", 0); {
		case d < 0:
			p.Reject("memcached_expire_time", "a number of seconds, 0 or more (0: no server-side TTL)")
		case d == 0:
			o.ServerTTL = NoServerTTL
		default:
			o.ServerTTL = d
		}
	}
	p.Ignore(pythonOnly...)
	conn, err := parseConn(p, defaultSelection[name])
	if err != nil {
		return conn, o, err
	}
	if err := p.Err(); err != nil {
		return conn, o, err
	}
	return conn, o, nil
}

// connConfig is what the connection arguments say.
type connConfig struct {
	servers    []string
	selector   *Selector // servers, resolved
	timeout    time.Duration
	maxIdle    int
	tls        *tls.Config
	keepAlive  time.Duration // net.Dialer.KeepAlive: 0 default, < 0 off
	keepAliveG bool          // socket_keepalive was given
	username   string
	password   string
}

// client builds the memcache client the connection arguments describe.
func (c connConfig) client() *memcache.Client {
	mc := memcache.NewFromSelector(c.selector)
	mc.Timeout = c.timeout
	mc.MaxIdleConns = c.maxIdle
	mc.DialContext = c.dialer()
	return mc
}

func parseConn(p *driver.ArgParser, def Selection) (connConfig, error) {
	var c connConfig
	if !p.Has("url") {
		return c, fmt.Errorf("%w: argument \"url\" is required: a \"host:port\", a list of them, or \"host1:port1, host2:port2\"",
			driver.ErrInvalidArgument)
	}
	urls := p.Strings("url")
	for _, u := range urls {
		s, err := serverAddr(u)
		if err != nil {
			p.Reject("url", fmt.Sprintf("\"host:port\" entries, socket paths or \"unix:/path\" (%v)", err))
			break
		}
		c.servers = append(c.servers, s)
	}
	sel := Selection(p.String("server_selection", string(def)))
	if !slices.Contains(selections, sel) {
		p.Reject("server_selection", fmt.Sprintf("one of %q", selections))
	}
	if sel == SelectPylibmc && len(urls) > 1 && !p.Has("server_selection") {
		if v, ok := p.Value("behaviors"); ok {
			if k := placementBehavior(v); k != "" {
				p.Reject("behaviors", fmt.Sprintf("no %q: pylibmc would place keys other than by libmemcached's default, "+
					"which this backend follows; set server_selection to place them otherwise", k))
			}
		}
	}
	if len(c.servers) == 0 {
		p.Reject("url", "at least one server")
	} else if len(c.servers) == len(urls) && slices.Contains(selections, sel) {
		var err error
		if c.selector, err = newSelector(sel, urls); err != nil {
			p.Reject("url", fmt.Sprintf("servers that resolve (%v)", err))
		}
	}
	if c.timeout = p.Seconds("socket_timeout", memcache.DefaultTimeout); c.timeout <= 0 {
		p.Reject("socket_timeout", "a positive number of seconds")
	}
	if c.maxIdle = p.Int("max_idle_conns", defaultMaxIdleConns); c.maxIdle < 1 {
		p.Reject("max_idle_conns", "at least 1")
	}
	if v, ok := p.Value("tls_context"); ok {
		if cfg, isTLS := v.(*tls.Config); isTLS && cfg != nil {
			c.tls = cfg
		} else {
			p.Reject("tls_context", "a *tls.Config")
		}
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
				p.Reject("socket_keepalive", "a boolean or a positive period in seconds")
			}
		}
	}
	c.username = p.String("username", "")
	c.password = p.String("password", "")
	switch {
	case (c.username == "") != (c.password == ""):
		p.Reject("username", "a username and a password together")
	case strings.ContainsAny(c.username, " \r\n"):
		p.Reject("username", "a name without spaces or line breaks")
	case strings.ContainsAny(c.password, "\r\n"):
		return c, fmt.Errorf("%w: argument \"password\" holds a line break", driver.ErrInvalidArgument)
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
		return "", errors.New("empty server address")
	case strings.HasPrefix(u, "/"):
		return u, nil
	}
	if _, _, err := net.SplitHostPort(u); err == nil {
		return u, nil
	}
	if strings.Count(u, ":") > 1 && !strings.HasPrefix(u, "[") { // a bare IPv6 address
		return net.JoinHostPort(u, defaultPort), nil
	}
	if strings.Contains(u, ":") {
		return "", fmt.Errorf("bad server address %q; want host:port", u)
	}
	return net.JoinHostPort(u, defaultPort), nil
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

// placementBehavior returns the first of pylibmcPlacement that behaviors,
// a map with string keys, sets, or "".
func placementBehavior(behaviors any) string {
	m := reflect.ValueOf(behaviors)
	if m.Kind() != reflect.Map || m.Type().Key().Kind() != reflect.String {
		return ""
	}
	for _, k := range pylibmcPlacement {
		if m.MapIndex(reflect.ValueOf(k).Convert(m.Type().Key())).IsValid() {
			return k
		}
	}
	return ""
}
