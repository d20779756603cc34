package redis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile"
)

// Connection defaults, shorter than go-redis's own: a cache that cannot
// answer quickly is better treated as failing. An operation on a server
// that refuses connections fails at once; on one that does not answer it
// fails after about (DefaultMaxRetries+1) times the timeout that applies.
const (
	// DefaultDialTimeout bounds establishing a connection
	// (socket_connect_timeout).
	DefaultDialTimeout = 5 * time.Second
	// DefaultSocketTimeout bounds every socket read and write
	// (socket_timeout).
	DefaultSocketTimeout = 3 * time.Second
	// DefaultMaxRetries is how many times a command that failed on a
	// network error is retried: once, enough to replace a connection the
	// server closed (connection_kwargs max_retries changes it).
	DefaultMaxRetries = 1
	// DefaultSentinelPort is the port of a sentinel given without one.
	DefaultSentinelPort = 26379
)

// lockPrefixPattern is dogpile.cache's check of lock_prefix; \w there is
// Unicode-aware.
var lockPrefixPattern = regexp.MustCompile(`^[\p{L}\p{N}_\-.:]{2,10}$`)

// pythonOnly are arguments dogpile.cache takes that mean nothing here.
var pythonOnly = []string{"thread_local_lock", "connection_pool", "socket_keepalive_options"}

// connectionArgs are the arguments that describe a connection, which the
// client argument replaces.
var connectionArgs = []string{
	"url", "host", "port", "db", "username", "password", "ssl",
	"socket_timeout", "socket_connect_timeout", "socket_keepalive", "socket_keepalive_options",
	"connection_kwargs", "sentinels", "service_name", "sentinel_kwargs", "startup_nodes",
}

// config is what the arguments describe. Exactly one of client, options,
// failover and cluster is set.
type config struct {
	client   goredis.UniversalClient
	options  *goredis.Options
	failover *goredis.FailoverOptions
	cluster  *goredis.ClusterOptions
	ttl      time.Duration
	ttlSet   bool
	lock     *lockConfig
}

func parseArguments(f flavor, args dogpile.Arguments) (*config, error) {
	p := args.Parser(f.name)
	p.Ignore(pythonOnly...)
	cfg := &config{}

	// Server-side TTL.
	if p.Has(f.ttlArg) {
		cfg.ttlSet = true
		cfg.ttl = p.Seconds(f.ttlArg, 0)
		if cfg.ttl < 0 {
			return nil, invalid(f, f.ttlArg, cfg.ttl, "must not be negative (0: no TTL)")
		}
		if cfg.ttl > 0 {
			cfg.ttl = max(cfg.ttl, time.Millisecond)
		}
	}

	// The lock. Its arguments are checked even when it is off.
	lc := &lockConfig{
		prefix:   p.String("lock_prefix", DefaultLockPrefix),
		timeout:  p.Seconds("lock_timeout", 0),
		sleep:    p.Seconds("lock_sleep", DefaultLockSleep),
		blocking: p.Bool("lock_blocking", true),
	}
	if !lockPrefixPattern.MatchString(lc.prefix) {
		return nil, invalid(f, "lock_prefix", lc.prefix, `must match ^[\w\-\.\:]{2,10}$`)
	}
	switch {
	case lc.timeout < 0:
		return nil, invalid(f, "lock_timeout", lc.timeout, "must not be negative")
	case lc.timeout == 0: // not given, or Python's "no TTL": never here
		lc.timeout = DefaultLockTimeout
	}
	if lc.sleep < 0 {
		return nil, invalid(f, "lock_sleep", lc.sleep, "must not be negative")
	}
	lc.sleep = max(lc.sleep, time.Millisecond)
	// By default a waiter outlasts a held lock by one polling pause, so its
	// last attempt comes after the lock's TTL ran out.
	lc.blockingTimeout = p.Seconds("lock_blocking_timeout", lc.timeout+max(MaxLockSleep, lc.sleep))
	if lc.blockingTimeout < 0 {
		return nil, invalid(f, "lock_blocking_timeout", lc.blockingTimeout, "must not be negative")
	}
	if p.Bool("distributed_lock", f.topology == sentinel) {
		cfg.lock = lc
	}

	// The connection.
	var err error
	if v, ok := p.Value("client"); ok {
		c, isClient := v.(goredis.UniversalClient)
		if !isClient {
			return nil, invalid(f, "client", v, "want a go-redis UniversalClient")
		}
		for _, name := range connectionArgs {
			if _, set := args[name]; set {
				return nil, fmt.Errorf("%w: %s: argument %q: the client argument replaces the connection arguments",
					dogpile.ErrInvalidArgument, f.name, name)
			}
		}
		cfg.client = c
	} else {
		switch f.topology {
		case standalone:
			cfg.options, err = standaloneOptions(f, args, p)
		case sentinel:
			cfg.failover, err = sentinelOptions(f, args, p)
		case cluster:
			cfg.cluster, err = clusterOptions(f, args, p)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func invalid(f flavor, name string, v any, why string) error {
	return fmt.Errorf("%w: %s: argument %q is %v: %s", dogpile.ErrInvalidArgument, f.name, name, v, why)
}

// settings reads connection settings from the top-level arguments first,
// then from connection_kwargs, whose names are redis-py's.
type settings struct {
	f   flavor
	top *dogpile.ArgParser
	kw  *dogpile.ArgParser
	err error
}

func newSettings(f flavor, args dogpile.Arguments, p *dogpile.ArgParser) (*settings, error) {
	kw, err := subArguments(f, args, p, "connection_kwargs")
	if err != nil {
		return nil, err
	}
	s := &settings{f: f, top: p, kw: kw.Parser(f.name + " connection_kwargs")}
	// Accepted for Python configurations; go-redis has no such knobs or
	// does the same on its own (it retries timeouts, health-checks idle
	// connections, and returns bytes).
	s.kw.Ignore("encoding", "encoding_errors", "decode_responses", "retry_on_timeout",
		"retry_on_error", "retry", "health_check_interval", "socket_keepalive_options",
		"single_connection_client", "lib_name", "lib_version")
	return s, nil
}

// subArguments returns the map argument name (connection_kwargs,
// sentinel_kwargs): a map, a JSON object in a string (from a config file),
// and "name.key" arguments, which win.
func subArguments(f flavor, args dogpile.Arguments, p *dogpile.ArgParser, name string) (dogpile.Arguments, error) {
	out := dogpile.Arguments{}
	if v, ok := p.Value(name); ok {
		switch m := v.(type) {
		case dogpile.Arguments:
			for k, x := range m {
				out[k] = x
			}
		case map[string]any:
			for k, x := range m {
				out[k] = x
			}
		case map[string]string:
			for k, x := range m {
				out[k] = dogpile.CoerceString(x)
			}
		case string:
			if strings.TrimSpace(m) != "" {
				var obj map[string]any
				if err := json.Unmarshal([]byte(m), &obj); err != nil {
					return nil, invalid(f, name, m, "want a map or a JSON object")
				}
				for k, x := range obj {
					out[k] = jsonValue(x)
				}
			}
		default:
			return nil, invalid(f, name, v, "want a map")
		}
	}
	prefix := name + "."
	for k := range args {
		if sub, ok := strings.CutPrefix(k, prefix); ok && sub != "" {
			v, _ := p.Value(k)
			out[sub] = v
		}
	}
	return out, nil
}

// jsonValue turns whole JSON numbers into ints, as Python's json would.
func jsonValue(v any) any {
	if f, ok := v.(float64); ok && f == float64(int(f)) {
		return int(f)
	}
	return v
}

// has reports whether name is given at the top level or in
// connection_kwargs; either way, both accept the name.
func (s *settings) has(name string) bool {
	top, kw := s.top.Has(name), s.kw.Has(name)
	return top || kw
}

// parser returns the parser that holds name: the top level wins.
func (s *settings) parser(name string) *dogpile.ArgParser {
	s.kw.Has(name) // accepted there even when the top level wins
	if s.top.Has(name) {
		return s.top
	}
	return s.kw
}

func (s *settings) str(name, def string) string { return s.parser(name).String(name, def) }
func (s *settings) integer(name string, def int) int {
	return s.parser(name).Int(name, def)
}
func (s *settings) boolean(name string, def bool) bool { return s.parser(name).Bool(name, def) }

// positive reads a duration that must be positive when given.
func (s *settings) positive(name string) (time.Duration, bool) {
	if !s.has(name) {
		return 0, false
	}
	d := s.parser(name).Seconds(name, 0)
	if d <= 0 && s.err == nil {
		s.err = invalid(s.f, name, d, "must be positive (leave it out for the default)")
	}
	return d, true
}

// fields points into one of go-redis's option structs, so that the
// settings apply to all three the same way.
type fields struct {
	username, password, clientName                              *string
	db                                                          *int // nil on a cluster
	dialTimeout, readTimeout, writeTimeout                      *time.Duration
	poolTimeout, connMaxIdleTime, connMaxLifetime               *time.Duration
	poolSize, minIdle, maxIdle, maxActive, maxRetries, protocol *int
	dialerRetries                                               *int
	contextTimeout                                              *bool
	tlsConfig                                                   **tls.Config
	dialer                                                      *func(ctx context.Context, network, addr string) (net.Conn, error)
}

func standaloneFields(o *goredis.Options) fields {
	return fields{&o.Username, &o.Password, &o.ClientName, &o.DB,
		&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.ConnMaxIdleTime, &o.ConnMaxLifetime,
		&o.PoolSize, &o.MinIdleConns, &o.MaxIdleConns, &o.MaxActiveConns, &o.MaxRetries, &o.Protocol,
		&o.DialerRetries, &o.ContextTimeoutEnabled, &o.TLSConfig, &o.Dialer}
}

func failoverFields(o *goredis.FailoverOptions) fields {
	return fields{&o.Username, &o.Password, &o.ClientName, &o.DB,
		&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.ConnMaxIdleTime, &o.ConnMaxLifetime,
		&o.PoolSize, &o.MinIdleConns, &o.MaxIdleConns, &o.MaxActiveConns, &o.MaxRetries, &o.Protocol,
		&o.DialerRetries, &o.ContextTimeoutEnabled, &o.TLSConfig, &o.Dialer}
}

func clusterFields(o *goredis.ClusterOptions) fields {
	return fields{&o.Username, &o.Password, &o.ClientName, nil,
		&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.ConnMaxIdleTime, &o.ConnMaxLifetime,
		&o.PoolSize, &o.MinIdleConns, &o.MaxIdleConns, &o.MaxActiveConns, &o.MaxRetries, &o.Protocol,
		&o.DialerRetries, &o.ContextTimeoutEnabled, &o.TLSConfig, &o.Dialer}
}

// urlInfo says what a URL decided, which the arguments do not override.
type urlInfo struct {
	credentials bool // user info
	db          bool // a path or a db query parameter
}

func inspectURL(raw string) urlInfo {
	u, err := url.Parse(raw)
	if err != nil {
		return urlInfo{}
	}
	return urlInfo{
		credentials: u.User != nil,
		db:          strings.Trim(u.Path, "/") != "" || u.Query().Has("db"),
	}
}

// apply sets the connection settings on the option struct behind o. The
// URL decides the address, and the credentials and database when it holds
// them; every other setting comes from the arguments, then from the URL's
// query, then from this package's defaults.
func (s *settings) apply(o fields, fromURL urlInfo) {
	if !fromURL.credentials {
		*o.username = s.str("username", *o.username)
		*o.password = s.str("password", *o.password)
	} else {
		s.has("username") // accepted; the URL's win
		s.has("password")
	}
	if o.db != nil && !fromURL.db {
		*o.db = s.integer("db", *o.db)
		if *o.db < 0 && s.err == nil {
			s.err = invalid(s.f, "db", *o.db, "must not be negative")
		}
	} else if o.db != nil {
		s.has("db")
	}
	if d, ok := s.positive("socket_connect_timeout"); ok {
		*o.dialTimeout = d
	}
	if d, ok := s.positive("socket_timeout"); ok {
		*o.readTimeout, *o.writeTimeout = d, d
	}
	if *o.dialTimeout == 0 {
		*o.dialTimeout = DefaultDialTimeout
	}
	if *o.readTimeout == 0 {
		*o.readTimeout = DefaultSocketTimeout
	}
	if *o.writeTimeout == 0 {
		*o.writeTimeout = *o.readTimeout
	}
	*o.contextTimeout = true // a caller's deadline bounds its commands

	// go-redis's own names, for tuning from a configuration.
	*o.clientName = s.kw.String("client_name", *o.clientName)
	if s.kw.Has("max_connections") { // redis-py's hard cap
		n := s.kw.Int("max_connections", 0)
		*o.poolSize, *o.maxActive = n, n
	}
	*o.poolSize = s.kw.Int("pool_size", *o.poolSize)
	*o.minIdle = s.kw.Int("min_idle_conns", *o.minIdle)
	*o.maxIdle = s.kw.Int("max_idle_conns", *o.maxIdle)
	*o.maxActive = s.kw.Int("max_active_conns", *o.maxActive)
	*o.maxRetries = s.kw.Int("max_retries", *o.maxRetries)
	*o.protocol = s.kw.Int("protocol", *o.protocol)
	if *o.maxRetries == 0 {
		*o.maxRetries = DefaultMaxRetries
	}
	*o.dialerRetries = max(*o.dialerRetries, 1) // the command retries; one dial each
	*o.poolTimeout = s.kw.Seconds("pool_timeout", *o.poolTimeout)
	*o.connMaxIdleTime = s.kw.Seconds("conn_max_idle_time", *o.connMaxIdleTime)
	*o.connMaxLifetime = s.kw.Seconds("conn_max_lifetime", *o.connMaxLifetime)

	// TLS.
	if s.has("ssl") {
		if s.boolean("ssl", false) {
			if *o.tlsConfig == nil {
				*o.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			}
		} else {
			*o.tlsConfig = nil
		}
	}
	if err := s.applyTLS(*o.tlsConfig); err != nil && s.err == nil {
		s.err = err
	}

	// TCP keep-alive: go-redis enables it; socket_keepalive false turns
	// it off.
	if s.has("socket_keepalive") && !s.boolean("socket_keepalive", true) {
		*o.dialer = plainDialer(*o.dialTimeout, *o.tlsConfig)
	}
}

// applyTLS applies redis-py's ssl_* connection arguments to c (they do
// nothing without TLS, as in redis-py).
func (s *settings) applyTLS(c *tls.Config) error {
	caFile := s.kw.String("ssl_ca_certs", "")
	certFile := s.kw.String("ssl_certfile", "")
	keyFile := s.kw.String("ssl_keyfile", "")
	reqs := strings.ToLower(s.kw.String("ssl_cert_reqs", "required"))
	checkHost := s.kw.Bool("ssl_check_hostname", true)
	if c == nil {
		return nil
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return invalid(s.f, "ssl_ca_certs", caFile, err.Error())
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return invalid(s.f, "ssl_ca_certs", caFile, "holds no PEM certificate")
		}
		c.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		if keyFile == "" {
			keyFile = certFile // redis-py: the key may be in the certificate file
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return invalid(s.f, "ssl_certfile", certFile, err.Error())
		}
		c.Certificates = []tls.Certificate{cert}
	}
	switch strings.TrimPrefix(reqs, "cert_") {
	case "none":
		c.InsecureSkipVerify = true
	case "required", "optional":
		if !checkHost {
			verifyWithoutHostname(c)
		}
	default:
		return invalid(s.f, "ssl_cert_reqs", reqs, `want "none", "optional" or "required"`)
	}
	return nil
}

// verifyWithoutHostname makes c check the server's certificate chain but
// not its name (redis-py's ssl_check_hostname false).
func verifyWithoutHostname(c *tls.Config) {
	roots := c.RootCAs
	c.InsecureSkipVerify = true
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("dogpile/redis: the server sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, ic := range cs.PeerCertificates[1:] {
			inter.AddCert(ic)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
		return err
	}
}

// plainDialer dials without TCP keep-alive.
func plainDialer(timeout time.Duration, tc *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := &net.Dialer{Timeout: timeout, KeepAlive: -1}
	if tc == nil {
		return nd.DialContext
	}
	td := &tls.Dialer{NetDialer: nd, Config: tc}
	return td.DialContext
}

func standaloneOptions(f flavor, args dogpile.Arguments, p *dogpile.ArgParser) (*goredis.Options, error) {
	s, err := newSettings(f, args, p)
	if err != nil {
		return nil, err
	}
	var fromURL urlInfo
	o := &goredis.Options{}
	if raw := p.String("url", ""); raw != "" {
		if o, err = goredis.ParseURL(raw); err != nil {
			return nil, invalid(f, "url", redactURL(raw), err.Error())
		}
		fromURL = inspectURL(raw)
		s.has("host") // the URL's address wins, as in dogpile.cache
		s.has("port")
	} else if path := s.kw.String("unix_socket_path", ""); path != "" {
		o.Network, o.Addr = "unix", path
		s.has("host")
		s.has("port")
	} else {
		host := s.str("host", "localhost")
		port := s.integer("port", 6379)
		if port <= 0 || port > 65535 {
			return nil, invalid(f, "port", port, "want a TCP port")
		}
		o.Addr = net.JoinHostPort(host, strconv.Itoa(port))
	}
	s.apply(standaloneFields(o), fromURL)
	if s.err != nil {
		return nil, s.err
	}
	return o, s.kw.Err()
}

func clusterOptions(f flavor, args dogpile.Arguments, p *dogpile.ArgParser) (*goredis.ClusterOptions, error) {
	s, err := newSettings(f, args, p)
	if err != nil {
		return nil, err
	}
	var fromURL urlInfo
	o := &goredis.ClusterOptions{}
	nodes, err := addresses(f, p, "startup_nodes", 6379)
	if err != nil {
		return nil, err
	}
	if raw := p.String("url", ""); raw != "" {
		if o, err = goredis.ParseClusterURL(raw); err != nil {
			return nil, invalid(f, "url", redactURL(raw), err.Error())
		}
		fromURL = inspectURL(raw)
	}
	o.Addrs = append(o.Addrs, nodes...)
	if len(o.Addrs) == 0 { // seed from host and port
		host := s.str("host", "localhost")
		port := s.integer("port", 6379)
		o.Addrs = []string{net.JoinHostPort(host, strconv.Itoa(port))}
	} else {
		s.has("host")
		s.has("port")
	}
	if s.has("db") && s.integer("db", 0) != 0 {
		return nil, invalid(f, "db", s.integer("db", 0), "a cluster has database 0 only")
	}
	s.apply(clusterFields(o), fromURL)
	if s.err != nil {
		return nil, s.err
	}
	return o, s.kw.Err()
}

func sentinelOptions(f flavor, args dogpile.Arguments, p *dogpile.ArgParser) (*goredis.FailoverOptions, error) {
	s, err := newSettings(f, args, p)
	if err != nil {
		return nil, err
	}
	p.Ignore("host", "port") // dogpile.cache's sentinel backend ignores them too
	var fromURL urlInfo
	o := &goredis.FailoverOptions{}
	sentinels, err := addresses(f, p, "sentinels", DefaultSentinelPort)
	if err != nil {
		return nil, err
	}
	if raw := p.String("url", ""); raw != "" {
		if o, err = goredis.ParseFailoverURL(raw); err != nil {
			return nil, invalid(f, "url", redactURL(raw), err.Error())
		}
		// The URL's user info is the sentinels' (go-redis's reading);
		// the master's credentials come from the arguments.
		fromURL = urlInfo{db: inspectURL(raw).db}
	}
	o.SentinelAddrs = append(o.SentinelAddrs, sentinels...)
	if len(o.SentinelAddrs) == 0 {
		return nil, fmt.Errorf("%w: %s: argument \"sentinels\" is required", dogpile.ErrInvalidArgument, f.name)
	}
	if o.MasterName == "" || p.Has("service_name") {
		o.MasterName = p.String("service_name", "mymaster")
	}
	s.apply(failoverFields(o), fromURL)
	if s.err != nil {
		return nil, s.err
	}

	// The sentinels' credentials: sentinel_kwargs, else the master's, as
	// dogpile.cache copies them into both.
	skw, err := subArguments(f, args, p, "sentinel_kwargs")
	if err != nil {
		return nil, err
	}
	sp := skw.Parser(f.name + " sentinel_kwargs")
	if o.SentinelUsername == "" && o.SentinelPassword == "" {
		o.SentinelUsername = sp.String("username", o.Username)
		o.SentinelPassword = sp.String("password", o.Password)
	} else {
		sp.Has("username")
		sp.Has("password")
	}
	// go-redis uses the master's timeouts and database for the sentinels.
	sp.Ignore("db", "socket_timeout", "socket_connect_timeout", "socket_keepalive",
		"socket_keepalive_options", "ssl", "encoding", "decode_responses")
	if err := sp.Err(); err != nil {
		return nil, err
	}
	return o, s.kw.Err()
}

// addresses reads a list of servers: "host:port" strings (a list, or one
// string separated by commas), [host, port] pairs, or {"host": ..,
// "port": ..} maps. A host without a port gets defPort.
func addresses(f flavor, p *dogpile.ArgParser, name string, defPort int) ([]string, error) {
	v, ok := p.Value(name)
	if !ok {
		return nil, nil
	}
	bad := func() error {
		return invalid(f, name, v, `want "host:port" strings, [host, port] pairs or {"host": .., "port": ..} maps`)
	}
	var elems []any
	switch l := v.(type) {
	case string:
		for part := range strings.SplitSeq(l, ",") {
			if part = strings.TrimSpace(part); part != "" {
				elems = append(elems, part)
			}
		}
	case []string:
		for _, e := range l {
			elems = append(elems, e)
		}
	case [][]any:
		for _, e := range l {
			elems = append(elems, e)
		}
	case [][]string:
		for _, e := range l {
			elems = append(elems, e)
		}
	case []map[string]any:
		for _, e := range l {
			elems = append(elems, e)
		}
	case []any:
		elems = l
	default:
		return nil, bad()
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		var host, port string
		switch x := e.(type) {
		case string:
			h, pt, err := net.SplitHostPort(strings.TrimSpace(x))
			if err != nil { // no port
				h, pt = strings.Trim(strings.TrimSpace(x), "[]"), strconv.Itoa(defPort)
			}
			host, port = h, pt
		case []any:
			if len(x) != 2 {
				return nil, bad()
			}
			host, port = scalar(x[0]), scalar(x[1])
		case []string:
			if len(x) != 2 {
				return nil, bad()
			}
			host, port = x[0], x[1]
		case map[string]any:
			host, port = scalar(x["host"]), scalar(x["port"])
			if port == "" {
				port = strconv.Itoa(defPort)
			}
		default:
			return nil, bad()
		}
		if n, err := strconv.Atoi(port); host == "" || err != nil || n <= 0 || n > 65535 {
			return nil, bad()
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	if len(out) == 0 {
		return nil, bad()
	}
	return slices.Compact(out), nil
}

// scalar renders a host or a port given as a string or a number.
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if x == float64(int(x)) {
			return strconv.Itoa(int(x))
		}
	}
	return ""
}

// redactURL hides a URL's password in messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}
