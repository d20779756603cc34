package redis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// Connection defaults of the clients the registered names build, shorter
// than go-redis's own: a cache that cannot answer quickly is better
// treated as failing. An operation on a server that refuses connections
// fails at once; on one that does not answer it fails after one socket
// timeout, the backend's call budget (Options.CallTimeout), retries
// included.
const (
	// DefaultDialTimeout bounds establishing a connection
	// (socket_connect_timeout).
	DefaultDialTimeout = 5 * time.Second
	// DefaultSocketTimeout bounds every socket read and write
	// (socket_timeout).
	DefaultSocketTimeout = 3 * time.Second
	// DefaultMaxRetries is how many times a command that failed on a
	// network error is retried: once, enough to replace a connection the
	// server closed (connection_kwargs max_retries changes it). Retries
	// happen within the call budget: a command that timed out is not
	// tried again.
	DefaultMaxRetries = 1
	// DefaultSentinelPort is the port of a sentinel given without one.
	DefaultSentinelPort = 26379
)

// MaxPoolSize bounds every connection count of the arguments (pool_size,
// max_connections, min_idle_conns, max_idle_conns, max_active_conns, and
// the pool counts of a URL's query): 10000 is Redis's default maxclients,
// so a larger pool in one process is a configuration mistake, not a
// need. Negative counts are errors too; go-redis would panic on them.
const MaxPoolSize = 10000

// pythonOnly are arguments dogpile.cache takes that mean nothing here.
var pythonOnly = []string{"thread_local_lock", "connection_pool", "socket_keepalive_options"}

// connectionArgs are the arguments that describe a connection, which the
// client argument replaces.
var connectionArgs = []string{
	"url", "host", "port", "db", "username", "password", "ssl",
	"socket_timeout", "socket_connect_timeout", "socket_keepalive", "socket_keepalive_options",
	"connection_kwargs", "sentinels", "service_name", "sentinel_kwargs", "startup_nodes",
}

// The map arguments. Their entries are read under their full names,
// "connection_kwargs.pool_size", the names errors report.
const (
	kwArg         = "connection_kwargs"
	sentinelKwArg = "sentinel_kwargs"
)

// config is what the arguments describe: the backend's Options, and either
// the client argument or the options of the client to build (exactly one
// of options, failover and cluster).
type config struct {
	opts     Options
	client   goredis.UniversalClient
	options  *goredis.Options
	failover *goredis.FailoverOptions
	cluster  *goredis.ClusterOptions

	// near is the near cache to build (near_cache true), nil otherwise;
	// nearOff says why the client cannot have one, when near_cache is
	// true and it cannot.
	near    *NearCacheOptions
	nearOff string
}

func parseArguments(f flavor, args driver.Arguments) (*config, error) {
	p := args.Parser(f.name)
	p.Ignore(pythonOnly...)
	cfg := &config{}
	readOptions(f, p, &cfg.opts)

	// The connection.
	var err error
	if v, ok := p.Value("client"); ok {
		c, isClient := v.(goredis.UniversalClient)
		if !isClient || isNil(c) {
			p.Reject("client", "a non-nil go-redis UniversalClient")
			return nil, p.Err()
		}
		for name := range args {
			if isConnectionArg(name) {
				return nil, fmt.Errorf("%w: argument %q: the client argument replaces the connection arguments",
					driver.ErrInvalidArgument, name)
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
	readNearCache(f, p, cfg)
	if err := p.Err(); err != nil {
		return nil, err
	}
	// The call budget is one socket timeout.
	var socketTimeout time.Duration
	switch {
	case cfg.options != nil:
		socketTimeout = cfg.options.ReadTimeout
	case cfg.failover != nil:
		socketTimeout = cfg.failover.ReadTimeout
	case cfg.cluster != nil:
		socketTimeout = cfg.cluster.ReadTimeout
	}
	if socketTimeout > 0 {
		cfg.opts.CallTimeout = max(socketTimeout, time.Millisecond)
	}
	// readOptions checked the arguments by their own rules; New checks
	// the Options again, by the fields' names.
	if err := cfg.opts.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// isConnectionArg reports whether name describes a connection.
func isConnectionArg(name string) bool {
	return slices.Contains(connectionArgs, name) ||
		strings.HasPrefix(name, kwArg+".") || strings.HasPrefix(name, sentinelKwArg+".")
}

// readOptions reads the Options' arguments into o; p reports bad values.
// They are checked even without distributed_lock.
func readOptions(f flavor, p *driver.ArgParser, o *Options) {
	// Server-side TTL: absent derives it from the region; 0 is none, as
	// in dogpile.cache.
	if p.Has(f.ttlArg) {
		switch d := p.Seconds(f.ttlArg, 0); {
		case d == 0:
			o.ServerTTL = NoServerTTL
		case d < time.Millisecond:
			p.Reject(f.ttlArg, "seconds, at least 0.001, or 0 for no TTL")
		default:
			o.ServerTTL = d
		}
	}

	o.DistributedLock = p.Bool("distributed_lock", f.topology == sentinel)
	if p.Has("lock_prefix") {
		o.LockPrefix = p.String("lock_prefix", "")
		if !lockPrefixPattern.MatchString(o.LockPrefix) {
			p.Reject("lock_prefix", `a match of ^[\w\-\.\:]{2,10}$`)
		}
	}
	// lock_timeout 0 is Python's lock without a TTL, which a killed
	// holder never frees: the default TTL applies instead.
	if d := p.Seconds("lock_timeout", 0); d < 0 || d > 0 && d < time.Millisecond {
		p.Reject("lock_timeout", "seconds, at least 0.001, or 0 for the default")
	} else {
		o.LockTimeout = d
	}
	if p.Has("lock_sleep") {
		if d := p.Seconds("lock_sleep", 0); d < time.Millisecond {
			p.Reject("lock_sleep", "seconds, at least 0.001")
		} else {
			o.LockSleep = d
		}
	}
	blocking := p.Bool("lock_blocking", true)
	o.LockNonBlocking = !blocking
	if p.Has("lock_blocking_timeout") {
		switch d := p.Seconds("lock_blocking_timeout", 0); {
		case d < 0:
			p.Reject("lock_blocking_timeout", "seconds, 0 for a single attempt")
		case d == 0: // redis-py: one attempt, then give up
			o.LockNonBlocking = true
		case blocking:
			o.LockBlockingTimeout = d
		}
	}
}

// readNearCache reads the near cache arguments into cfg: they are
// checked even without near_cache.
func readNearCache(f flavor, p *driver.ArgParser, cfg *config) {
	on := p.Bool("near_cache", false)
	var o NearCacheOptions
	if p.Has("near_cache_max_entries") {
		if n := p.Int("near_cache_max_entries", 0); n <= 0 {
			p.Reject("near_cache_max_entries", "a positive count")
		} else {
			o.MaxEntries = n
		}
	}
	if p.Has("near_cache_max_bytes") {
		if n := p.Int("near_cache_max_bytes", 0); n <= 0 {
			p.Reject("near_cache_max_bytes", "a positive number of bytes")
		} else {
			o.MaxBytes = int64(n)
		}
	}
	if p.Has("near_cache_ttl") {
		if d := p.Seconds("near_cache_ttl", 0); d < time.Millisecond {
			p.Reject("near_cache_ttl", "seconds, at least 0.001")
		} else {
			o.TTL = d
		}
	}
	if !on {
		return
	}
	switch {
	case cfg.client != nil:
		p.Reject("near_cache", "false with the client argument (build the client with a NearCache and give it to New)")
	case f.topology == cluster:
		cfg.nearOff = "a Redis Cluster: go-redis's client-side caching serves standalone clients only"
	case f.topology == sentinel:
		cfg.nearOff = "Redis Sentinel: go-redis has no client-side caching for its failover clients"
	case cfg.options.Protocol == 2:
		cfg.nearOff = "RESP2 (protocol 2): invalidations need RESP3"
	case cfg.options.DB != 0:
		cfg.nearOff = fmt.Sprintf("database %d: go-redis's client-side caching tracks database 0 only", cfg.options.DB)
	default:
		cfg.near = &o
	}
}

// invalid reports a value of argument name, v as it may be shown (a URL
// without its password), that the backend does not take.
func invalid(name string, v any, why string) error {
	return fmt.Errorf("%w: argument %q is %v: %s", driver.ErrInvalidArgument, name, v, why)
}

// settings reads connection settings from the top-level arguments first,
// then from connection_kwargs, whose names are redis-py's.
type settings struct {
	top *driver.ArgParser
	kw  *driver.ArgParser // over connection_kwargs, under "connection_kwargs.<name>"
}

func newSettings(f flavor, args driver.Arguments, p *driver.ArgParser) (*settings, error) {
	kw, err := subArguments(args, p, kwArg)
	if err != nil {
		return nil, err
	}
	s := &settings{top: p, kw: kw.Parser(f.name)}
	// Accepted for Python configurations; go-redis has no such knobs or
	// does the same on its own (it retries timeouts, health-checks idle
	// connections, and returns bytes).
	for _, name := range []string{"encoding", "encoding_errors", "decode_responses", "retry_on_timeout",
		"retry_on_error", "retry", "health_check_interval", "socket_keepalive_options",
		"single_connection_client", "lib_name", "lib_version"} {
		s.kw.Ignore(kwArg + "." + name)
	}
	return s, nil
}

// subArguments returns the map argument name (connection_kwargs,
// sentinel_kwargs) with every entry under "name.<entry>": a map, a JSON
// object in a string (from a config file), and "name.<entry>" arguments,
// which win.
func subArguments(args driver.Arguments, p *driver.ArgParser, name string) (driver.Arguments, error) {
	out := driver.Arguments{}
	prefix := name + "."
	if v, ok := p.Value(name); ok {
		switch m := v.(type) {
		case driver.Arguments:
			for k, x := range m {
				out[prefix+k] = x
			}
		case map[string]any:
			for k, x := range m {
				out[prefix+k] = x
			}
		case map[string]string:
			for k, x := range m {
				out[prefix+k] = x
			}
		case string:
			if strings.TrimSpace(m) != "" {
				var obj map[string]any
				if err := json.Unmarshal([]byte(m), &obj); err != nil {
					p.Reject(name, "a map or a JSON object")
					return nil, p.Err()
				}
				for k, x := range obj {
					out[prefix+k] = jsonValue(x)
				}
			}
		default:
			p.Reject(name, "a map")
			return nil, p.Err()
		}
	}
	for k := range args {
		if sub, ok := strings.CutPrefix(k, prefix); ok && sub != "" {
			v, _ := p.Value(k)
			out[k] = v
		}
	}
	return out, nil
}

// jsonValue turns whole JSON numbers into ints, as Python's json would.
func jsonValue(v any) any {
	if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int(f)
	}
	return v
}

// lookup returns the parser that holds the connection setting name and
// the name it has there: the top level wins over connection_kwargs. Both
// accept it either way.
func (s *settings) lookup(name string) (*driver.ArgParser, string) {
	kwName := kwArg + "." + name
	inKw := s.kw.Has(kwName)
	if s.top.Has(name) || !inKw {
		return s.top, name
	}
	return s.kw, kwName
}

// has reports whether name is given at the top level or in
// connection_kwargs; either way, both accept the name.
func (s *settings) has(name string) bool {
	top, kw := s.top.Has(name), s.kw.Has(kwArg+"."+name)
	return top || kw
}

func (s *settings) str(name, def string) string {
	p, n := s.lookup(name)
	return p.String(n, def)
}

func (s *settings) integer(name string, def int) int {
	p, n := s.lookup(name)
	return p.Int(n, def)
}

func (s *settings) boolean(name string, def bool) bool {
	p, n := s.lookup(name)
	return p.Bool(n, def)
}

// positive reads a duration that must be positive when given.
func (s *settings) positive(name string) (time.Duration, bool) {
	p, n := s.lookup(name)
	if !p.Has(n) {
		return 0, false
	}
	d := p.Seconds(n, 0)
	if d <= 0 {
		p.Reject(n, "positive seconds (leave it out for the default)")
	}
	return d, true
}

// count reads connection_kwargs' count name, from 0 to MaxPoolSize, into
// *dst when it is given.
func (s *settings) count(name string, dst *int) {
	n := kwArg + "." + name
	if !s.kw.Has(n) {
		return
	}
	v := s.kw.Int(n, 0)
	if v < 0 || v > MaxPoolSize {
		s.kw.Reject(n, fmt.Sprintf("a count from 0 to %d (MaxPoolSize)", MaxPoolSize))
		return
	}
	*dst = v
}

// duration reads connection_kwargs' duration name, not negative, into
// *dst when it is given.
func (s *settings) duration(name string, dst *time.Duration) {
	n := kwArg + "." + name
	if !s.kw.Has(n) {
		return
	}
	d := s.kw.Seconds(n, 0)
	if d < 0 {
		s.kw.Reject(n, "seconds, not negative (0 or absent: go-redis's default)")
		return
	}
	*dst = d
}

// fields points into one of go-redis's option structs, so that the
// settings apply to all three the same way.
type fields struct {
	username, password, clientName                              *string
	db                                                          *int // nil on a cluster
	dialTimeout, readTimeout, writeTimeout                      *time.Duration
	poolTimeout, connMaxIdleTime, connMaxLifetime               *time.Duration
	poolSize, minIdle, maxIdle, maxActive, maxRetries, protocol *int
	maxDials, pipelinePoolSize, dialerRetries                   *int
	contextTimeout                                              *bool
	tlsConfig                                                   **tls.Config
	dialer                                                      *func(ctx context.Context, network, addr string) (net.Conn, error)
}

func standaloneFields(o *goredis.Options) fields {
	return fields{&o.Username, &o.Password, &o.ClientName, &o.DB,
		&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.ConnMaxIdleTime, &o.ConnMaxLifetime,
		&o.PoolSize, &o.MinIdleConns, &o.MaxIdleConns, &o.MaxActiveConns, &o.MaxRetries, &o.Protocol,
		&o.MaxConcurrentDials, &o.PipelinePoolSize, &o.DialerRetries, &o.ContextTimeoutEnabled, &o.TLSConfig, &o.Dialer}
}

func failoverFields(o *goredis.FailoverOptions) fields {
	return fields{&o.Username, &o.Password, &o.ClientName, &o.DB,
		&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.ConnMaxIdleTime, &o.ConnMaxLifetime,
		&o.PoolSize, &o.MinIdleConns, &o.MaxIdleConns, &o.MaxActiveConns, &o.MaxRetries, &o.Protocol,
		&o.MaxConcurrentDials, &o.PipelinePoolSize, &o.DialerRetries, &o.ContextTimeoutEnabled, &o.TLSConfig, &o.Dialer}
}

func clusterFields(o *goredis.ClusterOptions) fields {
	return fields{&o.Username, &o.Password, &o.ClientName, nil,
		&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.ConnMaxIdleTime, &o.ConnMaxLifetime,
		&o.PoolSize, &o.MinIdleConns, &o.MaxIdleConns, &o.MaxActiveConns, &o.MaxRetries, &o.Protocol,
		&o.MaxConcurrentDials, &o.PipelinePoolSize, &o.DialerRetries, &o.ContextTimeoutEnabled, &o.TLSConfig, &o.Dialer}
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
// query, then from this package's defaults. rawURL is the url argument,
// or "".
func (s *settings) apply(o fields, fromURL urlInfo, rawURL string) error {
	if !fromURL.credentials {
		*o.username = s.str("username", *o.username)
		*o.password = s.str("password", *o.password)
	} else {
		s.has("username") // accepted; the URL's win
		s.has("password")
	}
	if o.db != nil && !fromURL.db {
		*o.db = s.integer("db", *o.db)
		if *o.db < 0 {
			p, n := s.lookup("db")
			p.Reject(n, "a database number, not negative")
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
	*o.clientName = s.kw.String(kwArg+".client_name", *o.clientName)
	maxConns := -1
	if s.count("max_connections", &maxConns); maxConns >= 0 { // redis-py's hard cap
		*o.poolSize, *o.maxActive = maxConns, maxConns
	}
	s.count("pool_size", o.poolSize)
	s.count("min_idle_conns", o.minIdle)
	s.count("max_idle_conns", o.maxIdle)
	s.count("max_active_conns", o.maxActive)
	if n := kwArg + ".max_retries"; s.kw.Has(n) {
		if v := s.kw.Int(n, 0); v < -1 {
			s.kw.Reject(n, "a count of retries, or -1 for none")
		} else {
			*o.maxRetries = v
		}
	}
	if n := kwArg + ".protocol"; s.kw.Has(n) {
		if v := s.kw.Int(n, 0); v != 2 && v != 3 {
			s.kw.Reject(n, "2 or 3 (the RESP version)")
		} else {
			*o.protocol = v
		}
	}
	if *o.maxRetries == 0 {
		*o.maxRetries = DefaultMaxRetries
	}
	*o.dialerRetries = max(*o.dialerRetries, 1) // the command retries; one dial each
	s.duration("pool_timeout", o.poolTimeout)
	s.duration("conn_max_idle_time", o.connMaxIdleTime)
	s.duration("conn_max_lifetime", o.connMaxLifetime)

	// Counts from the URL's query, which go-redis takes as they are: a
	// negative or huge one would make it panic building its pools.
	for _, c := range []struct {
		name string
		v    int
	}{
		{"pool_size", *o.poolSize}, {"min_idle_conns", *o.minIdle}, {"max_idle_conns", *o.maxIdle},
		{"max_active_conns", *o.maxActive}, {"max_concurrent_dials", *o.maxDials},
	} {
		if c.v < 0 || c.v > MaxPoolSize {
			return invalid("url", redactURL(rawURL), fmt.Sprintf("its %s %d is not a count from 0 to %d (MaxPoolSize)", c.name, c.v, MaxPoolSize))
		}
	}
	if *o.pipelinePoolSize > MaxPoolSize { // negative: no pipeline pool
		return invalid("url", redactURL(rawURL), fmt.Sprintf("its pipeline_pool_size %d is over %d (MaxPoolSize)", *o.pipelinePoolSize, MaxPoolSize))
	}

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
	s.applyTLS(*o.tlsConfig)

	// TCP keep-alive: go-redis enables it; socket_keepalive false turns
	// it off.
	if s.has("socket_keepalive") && !s.boolean("socket_keepalive", true) {
		*o.dialer = plainDialer(*o.dialTimeout, *o.tlsConfig)
	}
	return nil
}

// applyTLS applies redis-py's ssl_* connection arguments to c (they do
// nothing without TLS, as in redis-py).
func (s *settings) applyTLS(c *tls.Config) {
	const (
		caArg    = kwArg + ".ssl_ca_certs"
		certArg  = kwArg + ".ssl_certfile"
		keyArg   = kwArg + ".ssl_keyfile"
		reqsArg  = kwArg + ".ssl_cert_reqs"
		checkArg = kwArg + ".ssl_check_hostname"
	)
	caFile := s.kw.String(caArg, "")
	certFile := s.kw.String(certArg, "")
	keyFile := s.kw.String(keyArg, "")
	reqs := strings.ToLower(s.kw.String(reqsArg, "required"))
	checkHost := s.kw.Bool(checkArg, true)
	if c == nil {
		return
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			s.kw.Reject(caArg, "a readable PEM file ("+err.Error()+")")
			return
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			s.kw.Reject(caArg, "a PEM file of certificates")
			return
		}
		c.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		if keyFile == "" {
			keyFile = certFile // redis-py: the key may be in the certificate file
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			s.kw.Reject(certArg, "a certificate and key go-redis can load ("+err.Error()+")")
			return
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
		s.kw.Reject(reqsArg, `"none", "optional" or "required"`)
	}
}

// verifyWithoutHostname makes c check the server's certificate chain but
// not its name (redis-py's ssl_check_hostname false).
func verifyWithoutHostname(c *tls.Config) {
	roots := c.RootCAs
	c.InsecureSkipVerify = true
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server sent no certificate")
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

// parseURL parses the url argument with parse, and reports errors
// without the URL's password.
func parseURL[T any](parse func(string) (T, error), raw string) (T, error) {
	o, err := parse(raw)
	if err != nil {
		return o, invalid("url", redactURL(raw), err.Error())
	}
	return o, nil
}

func standaloneOptions(f flavor, args driver.Arguments, p *driver.ArgParser) (*goredis.Options, error) {
	s, err := newSettings(f, args, p)
	if err != nil {
		return nil, err
	}
	var fromURL urlInfo
	o := &goredis.Options{}
	raw := p.String("url", "")
	if raw != "" {
		if o, err = parseURL(goredis.ParseURL, raw); err != nil {
			return nil, err
		}
		fromURL = inspectURL(raw)
		s.has("host") // the URL's address wins, as in dogpile.cache
		s.has("port")
	} else if path := s.kw.String(kwArg+".unix_socket_path", ""); path != "" {
		o.Network, o.Addr = "unix", path
		s.has("host")
		s.has("port")
	} else {
		o.Addr = s.hostPort()
	}
	if err := s.apply(standaloneFields(o), fromURL, raw); err != nil {
		return nil, err
	}
	return o, s.kw.Err()
}

// hostPort returns the host and port arguments as an address.
func (s *settings) hostPort() string {
	host := s.str("host", "localhost")
	port := s.integer("port", 6379)
	if port <= 0 || port > 65535 {
		p, n := s.lookup("port")
		p.Reject(n, "a TCP port, from 1 to 65535")
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func clusterOptions(f flavor, args driver.Arguments, p *driver.ArgParser) (*goredis.ClusterOptions, error) {
	s, err := newSettings(f, args, p)
	if err != nil {
		return nil, err
	}
	var fromURL urlInfo
	o := &goredis.ClusterOptions{}
	nodes := addresses(p, "startup_nodes", 6379)
	raw := p.String("url", "")
	if raw != "" {
		if o, err = parseURL(goredis.ParseClusterURL, raw); err != nil {
			return nil, err
		}
		fromURL = inspectURL(raw)
	}
	o.Addrs = append(o.Addrs, nodes...)
	if len(o.Addrs) == 0 { // seed from host and port
		o.Addrs = []string{s.hostPort()}
	} else {
		s.has("host")
		s.has("port")
	}
	if s.has("db") && s.integer("db", 0) != 0 {
		p, n := s.lookup("db")
		p.Reject(n, "0: a cluster has database 0 only")
	}
	if err := s.apply(clusterFields(o), fromURL, raw); err != nil {
		return nil, err
	}
	return o, s.kw.Err()
}

func sentinelOptions(f flavor, args driver.Arguments, p *driver.ArgParser) (*goredis.FailoverOptions, error) {
	s, err := newSettings(f, args, p)
	if err != nil {
		return nil, err
	}
	p.Ignore("host", "port") // dogpile.cache's sentinel backend ignores them too
	var fromURL urlInfo
	o := &goredis.FailoverOptions{}
	sentinels := addresses(p, "sentinels", DefaultSentinelPort)
	raw := p.String("url", "")
	if raw != "" {
		if o, err = parseURL(goredis.ParseFailoverURL, raw); err != nil {
			return nil, err
		}
		// The URL's user info is the sentinels' (go-redis's reading);
		// the master's credentials come from the arguments.
		fromURL = urlInfo{db: inspectURL(raw).db}
	}
	o.SentinelAddrs = append(o.SentinelAddrs, sentinels...)
	if len(o.SentinelAddrs) == 0 && !p.Has("sentinels") {
		return nil, fmt.Errorf("%w: argument \"sentinels\" is required", driver.ErrInvalidArgument)
	}
	if o.MasterName == "" || p.Has("service_name") {
		o.MasterName = p.String("service_name", "mymaster")
	}
	if err := s.apply(failoverFields(o), fromURL, raw); err != nil {
		return nil, err
	}

	// The sentinels' credentials: sentinel_kwargs, else the master's, as
	// dogpile.cache copies them into both.
	skw, err := subArguments(args, p, sentinelKwArg)
	if err != nil {
		return nil, err
	}
	sp := skw.Parser(f.name)
	const userArg, passwordArg = sentinelKwArg + ".username", sentinelKwArg + ".password"
	if o.SentinelUsername == "" && o.SentinelPassword == "" {
		o.SentinelUsername = sp.String(userArg, o.Username)
		o.SentinelPassword = sp.String(passwordArg, o.Password)
	} else {
		sp.Has(userArg)
		sp.Has(passwordArg)
	}
	// go-redis uses the master's timeouts and database for the sentinels.
	for _, name := range []string{"db", "socket_timeout", "socket_connect_timeout", "socket_keepalive",
		"socket_keepalive_options", "ssl", "encoding", "decode_responses"} {
		sp.Ignore(sentinelKwArg + "." + name)
	}
	if err := sp.Err(); err != nil {
		return nil, err
	}
	return o, s.kw.Err()
}

// addresses reads a list of servers: "host:port" strings (a list, or one
// string as driver.SplitList reads it), [host, port] pairs, or {"host": ..,
// "port": ..} maps. A host without a port gets defPort. A bad list is
// reported through p.
func addresses(p *driver.ArgParser, name string, defPort int) []string {
	v, ok := p.Value(name)
	if !ok {
		return nil
	}
	bad := func() []string {
		p.Reject(name, `"host:port" strings, [host, port] pairs or {"host": .., "port": ..} maps`)
		return nil
	}
	var elems []any
	switch l := v.(type) {
	case string:
		for _, part := range driver.SplitList(l) {
			elems = append(elems, part)
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
		return bad()
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
				return bad()
			}
			host, port = scalar(x[0]), scalar(x[1])
		case []string:
			if len(x) != 2 {
				return bad()
			}
			host, port = x[0], x[1]
		case map[string]any:
			host, port = scalar(x["host"]), scalar(x["port"])
			if port == "" {
				port = strconv.Itoa(defPort)
			}
		default:
			return bad()
		}
		if n, err := strconv.Atoi(port); host == "" || err != nil || n <= 0 || n > 65535 {
			return bad()
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	if len(out) == 0 {
		return bad()
	}
	return slices.Compact(out)
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
