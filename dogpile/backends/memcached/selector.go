package memcached

import (
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// Selection names a way of spreading keys over several servers: that of
// one of Python's memcached clients, so that Go and Python processes
// sharing the servers find each other's entries and locks, or that of the
// Go client. With a single server every selection picks it.
type Selection string

// The selections. Each places every key on the server the named client
// picks with its default settings.
const (
	// SelectPythonMemcached is python-memcached's Client (dogpile.cache.memcached):
	// the CRC-32 of the key, shifted right by 16 bits and masked to 15
	// bits (1 when that is 0), modulo the number of servers.
	SelectPythonMemcached Selection = "python-memcached"
	// SelectPyMemcache is pymemcache's HashClient (dogpile.cache.pymemcache):
	// rendezvous hashing, the server whose "host:port-key" has the highest
	// MurmurHash3 (x86, 32 bits, seed 0), as pymemcache names the server.
	SelectPyMemcache Selection = "pymemcache"
	// SelectPylibmc is libmemcached's default distribution, which pylibmc
	// uses unless its behaviors change it (dogpile.cache.pylibmc): Jenkins'
	// one-at-a-time hash of the key modulo the number of servers.
	SelectPylibmc Selection = "pylibmc"
	// SelectGomemcache is gomemcache's ServerList: the CRC-32 of the key
	// modulo the number of servers.
	SelectGomemcache Selection = "gomemcache"
)

// selections lists the selections for messages, in the order documented.
var selections = []Selection{SelectPythonMemcached, SelectPyMemcache, SelectPylibmc, SelectGomemcache}

// Selector is a memcache.ServerSelector placing keys as a Selection does.
// Build a client with memcache.NewFromSelector and give the same Selector
// to New in Options.Selector. It is safe for concurrent use.
type Selector struct {
	sel   Selection
	list  memcache.ServerList // resolves the addresses; picks for SelectGomemcache
	addrs []net.Addr
	nodes []string // pymemcache's names of the servers
}

var _ memcache.ServerSelector = (*Selector)(nil)

// NewSelector returns a Selector over servers, in the order given, which
// matters to every selection but pymemcache's. Servers are written as in
// the url argument: "host:port", "host" (port 11211), "[v6]:port", a
// socket path or "unix:/path". Write them as the Python processes do:
// pymemcache hashes the name it is given ("localhost:11211" and
// "127.0.0.1:11211" place keys differently). Host names are resolved
// once, now. An unknown selection, no server or a server that does not
// resolve is an error wrapping driver.ErrInvalidArgument.
func NewSelector(sel Selection, servers ...string) (*Selector, error) {
	s, err := newSelector(sel, servers)
	if err != nil {
		return nil, fmt.Errorf("memcached: %w: %v", driver.ErrInvalidArgument, err)
	}
	return s, nil
}

func newSelector(sel Selection, servers []string) (*Selector, error) {
	if !slices.Contains(selections, sel) {
		return nil, fmt.Errorf("server selection %q, want one of %q", string(sel), selections)
	}
	if len(servers) == 0 {
		return nil, errors.New("no servers")
	}
	s := &Selector{sel: sel}
	addrs := make([]string, len(servers))
	for i, raw := range servers {
		a, err := serverAddr(raw)
		if err != nil {
			return nil, err
		}
		addrs[i] = a
		s.nodes = append(s.nodes, pymemcacheNode(raw))
	}
	if err := s.list.SetServers(addrs...); err != nil {
		return nil, err
	}
	_ = s.list.Each(func(a net.Addr) error {
		s.addrs = append(s.addrs, a)
		return nil
	})
	return s, nil
}

// Selection returns the selection s follows.
func (s *Selector) Selection() Selection { return s.sel }

// PickServer returns the server of key.
func (s *Selector) PickServer(key string) (net.Addr, error) {
	n := len(s.addrs)
	switch {
	case n == 0:
		return nil, memcache.ErrNoServers
	case n == 1:
		return s.addrs[0], nil
	}
	switch s.sel {
	case SelectPythonMemcached:
		return s.addrs[pythonMemcachedHash(key)%uint32(n)], nil
	case SelectPyMemcache:
		return s.addrs[s.rendezvous(key)], nil
	case SelectPylibmc:
		return s.addrs[oneAtATime(key)%uint32(n)], nil
	}
	return s.list.PickServer(key)
}

// Each calls f for every server, in order, until f returns an error.
func (s *Selector) Each(f func(net.Addr) error) error {
	for _, a := range s.addrs {
		if err := f(a); err != nil {
			return err
		}
	}
	return nil
}

// pythonMemcachedHash is python-memcached's cmemcache_hash.
func pythonMemcachedHash(key string) uint32 {
	crc := ^uint32(0) // crc32.ChecksumIEEE over the string, without copying it
	for i := 0; i < len(key); i++ {
		crc = crc32.IEEETable[byte(crc)^key[i]] ^ crc>>8
	}
	if h := (^crc >> 16) & 0x7fff; h != 0 {
		return h
	}
	return 1
}

// oneAtATime is libmemcached's hashkit_one_at_a_time, where each byte is
// a C char, signed on x86 and so sign-extended.
func oneAtATime(key string) uint32 {
	var h uint32
	for i := 0; i < len(key); i++ {
		h += uint32(int32(int8(key[i])))
		h += h << 10
		h ^= h >> 6
	}
	h += h << 3
	h ^= h >> 11
	h += h << 15
	return h
}

// rendezvous is pymemcache's RendezvousHash.get_node: the node with the
// highest score, the greater name on a tie.
func (s *Selector) rendezvous(key string) int {
	best, bestScore := 0, int64(-1)
	for i, node := range s.nodes {
		score := int64(pyMurmur3(node, key))
		if score > bestScore || score == bestScore && node > s.nodes[best] {
			best, bestScore = i, score
		}
	}
	return best
}

// pyMurmur3 is pymemcache's murmur3_32 of the Python string
// "<node>-<key>" with seed 0. It reads one byte per character, the low
// byte of its code point, as that function does with a str.
func pyMurmur3(node, key string) uint32 {
	var stack [512]byte
	data := appendLowBytes(stack[:0], node)
	data = append(data, '-')
	data = appendLowBytes(data, key)
	return murmur3(data)
}

// appendLowBytes appends the low byte of each character of s; a byte
// that is not UTF-8 stands for itself, as Python's surrogateescape does.
func appendLowBytes(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[i])
		} else {
			b = append(b, byte(r))
		}
		i += size
	}
	return b
}

// murmur3 is MurmurHash3 x86_32 with seed 0.
func murmur3(data []byte) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	var h uint32
	n := len(data) &^ 3
	for i := 0; i < n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= c1
		k = k<<15 | k>>17
		k *= c2
		h ^= k
		h = h<<13 | h>>19
		h = h*5 + 0xe6546b64
	}
	var k uint32
	switch len(data) & 3 {
	case 3:
		k = uint32(data[n+2]) << 16
		fallthrough
	case 2:
		k |= uint32(data[n+1]) << 8
		fallthrough
	case 1:
		k |= uint32(data[n])
		k *= c1
		k = k<<15 | k>>17
		k *= c2
		h ^= k
	}
	h ^= uint32(len(data))
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// pymemcacheNode is the name pymemcache's HashClient gives a server
// written as raw (normalize_server_spec, then "host:port"), which its
// rendezvous hashing hashes.
func pymemcacheNode(raw string) string {
	raw = strings.TrimSpace(raw)
	if path, ok := strings.CutPrefix(raw, "unix:"); ok {
		return path
	}
	if strings.HasPrefix(raw, "/") {
		return raw
	}
	host, port := raw, defaultPort
	if i := strings.LastIndexByte(raw, ':'); i >= 0 && !strings.HasSuffix(raw, "]") {
		host, port = raw[:i], raw[i+1:]
		if n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(port), "+")); err == nil {
			port = strconv.Itoa(n) // Python's int(): "011211" is 11211
		}
	}
	if strings.HasPrefix(host, "[") {
		host = strings.Trim(host, "[]")
	}
	return host + ":" + port
}
