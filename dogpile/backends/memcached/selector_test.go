package memcached

import (
	"errors"
	"hash/crc32"
	"net"
	"strings"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// The expected values come from the Python clients on this machine:
// pymemcache's murmur3_32 and RendezvousHash, python-memcached's
// cmemcache_hash, and libmemcached's memcached_generate_hash_value with
// MEMCACHED_HASH_DEFAULT (through ctypes). python_test.go checks the
// selections against the clients themselves.
func TestHashes(t *testing.T) {
	long := strings.Repeat("x", 250)
	for _, tc := range []struct {
		s              string
		murmur, pyMemc uint32
	}{
		{"", 0, 1},
		{"a", 1009084850, 26807},
		{"ab", 2613040991, 7811},
		{"abc", 3017643002, 13604},
		{"abcd", 1139631978, 28034},
		{"abcde", 3902511862, 1415},
		{"127.0.0.1:11211-user:42", 383303529, 8322},
		{"ключ:🔑", 797871202, 853}, // murmur: one byte per character
		{long, 2082806562, 2408},
	} {
		if got := murmur3(appendLowBytes(nil, tc.s)); got != tc.murmur {
			t.Errorf("pymemcache murmur3_32(%.12q) = %d; want %d", tc.s, got, tc.murmur)
		}
		if got := pythonMemcachedHash(tc.s); got != tc.pyMemc {
			t.Errorf("python-memcached cmemcache_hash(%.12q) = %d; want %d", tc.s, got, tc.pyMemc)
		}
	}
	for s, want := range map[string]uint32{
		"": 0, "a": 3392050242, "user:42": 809463786, long: 51816958,
		"ключ:🔑": 2706086070, // bytes over 0x7f are signed chars
	} {
		if got := oneAtATime(s); got != want {
			t.Errorf("libmemcached one-at-a-time(%.12q) = %d; want %d", s, got, want)
		}
	}
	// A byte that is not UTF-8 counts as itself.
	if got, want := appendLowBytes(nil, "a\xffb"), []byte("a\xffb"); string(got) != string(want) {
		t.Errorf("appendLowBytes(a\\xffb) = %q", got)
	}
}

func TestPymemcacheNode(t *testing.T) {
	for raw, want := range map[string]string{
		"127.0.0.1:11211":    "127.0.0.1:11211",
		" 127.0.0.1:11211 ":  "127.0.0.1:11211",
		"127.0.0.1":          "127.0.0.1:11211",
		"localhost":          "localhost:11211",
		"cache.example:0112": "cache.example:112", // Python's int()
		"[::1]:11300":        "::1:11300",
		"[::1]":              "::1:11211",
		"unix:/run/mc.sock":  "/run/mc.sock",
		"/run/mc.sock":       "/run/mc.sock",
	} {
		if got := pymemcacheNode(raw); got != want {
			t.Errorf("pymemcacheNode(%q) = %q; want %q", raw, got, want)
		}
	}
}

func TestSelector(t *testing.T) {
	servers := []string{"127.0.0.1:11211", "127.0.0.1:11212", "10.0.0.3:11211"}
	t.Run("PyMemcache", func(t *testing.T) {
		s, err := NewSelector(SelectPyMemcache, servers...)
		if err != nil {
			t.Fatal(err)
		}
		// pymemcache's RendezvousHash(servers).get_node(key).
		for key, want := range map[string]string{
			"user:42": "127.0.0.1:11212", "a": "10.0.0.3:11211", "b": "127.0.0.1:11211",
			"c": "10.0.0.3:11211", "page:/about": "127.0.0.1:11212", "ключ": "127.0.0.1:11212",
		} {
			if a, err := s.PickServer(key); err != nil || a.String() != want {
				t.Errorf("PickServer(%q) = %v, %v; want %s", key, a, err, want)
			}
		}
	})
	t.Run("Modulo", func(t *testing.T) {
		for _, tc := range []struct {
			sel  Selection
			hash func(string) uint32
		}{
			{SelectPythonMemcached, pythonMemcachedHash},
			{SelectPylibmc, oneAtATime},
			{SelectGomemcache, func(k string) uint32 { return crc32.ChecksumIEEE([]byte(k)) }},
		} {
			s, err := NewSelector(tc.sel, servers...)
			if err != nil {
				t.Fatal(err)
			}
			if s.Selection() != tc.sel {
				t.Errorf("Selection() = %q; want %q", s.Selection(), tc.sel)
			}
			seen := map[string]bool{}
			for _, k := range strings.Fields("a b c d e f g h i j k l m n o p user:42 page:/about") {
				a, err := s.PickServer(k)
				if want := servers[tc.hash(k)%3]; err != nil || a.String() != want {
					t.Errorf("%s: PickServer(%q) = %v, %v; want %s", tc.sel, k, a, err, want)
				}
				if a != nil {
					seen[a.String()] = true
				}
			}
			if len(seen) != 3 {
				t.Errorf("%s: 18 keys on %d of 3 servers", tc.sel, len(seen))
			}
		}
	})
	t.Run("OneServer", func(t *testing.T) {
		for _, sel := range selections {
			s, err := NewSelector(sel, "127.0.0.1:5")
			if err != nil {
				t.Fatal(err)
			}
			if a, err := s.PickServer("anything"); err != nil || a.String() != "127.0.0.1:5" {
				t.Errorf("%s with one server: PickServer = %v, %v", sel, a, err)
			}
		}
	})
	t.Run("Each", func(t *testing.T) {
		s, err := NewSelector(SelectPyMemcache, "127.0.0.1:3", "unix:/tmp/mc.sock", "[::1]:4")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		stop := errors.New("stop")
		err = s.Each(func(a net.Addr) error {
			got = append(got, a.Network()+" "+a.String())
			if len(got) == 2 {
				return stop
			}
			return nil
		})
		if err != stop || strings.Join(got, ", ") != "tcp 127.0.0.1:3, unix /tmp/mc.sock" {
			t.Errorf("Each = %q, %v; want the servers in order until f fails", got, err)
		}
		var _ memcache.ServerSelector = s
	})
	t.Run("Errors", func(t *testing.T) {
		for _, tc := range []struct {
			sel     Selection
			servers []string
			want    string
		}{
			{"ketama", servers, `memcached: invalid argument: server selection "ketama", want one of ["python-memcached" "pymemcache" "pylibmc" "gomemcache"]`},
			{SelectPyMemcache, nil, "memcached: invalid argument: no servers"},
			{SelectPyMemcache, []string{""}, "memcached: invalid argument: empty server address"},
			{SelectPyMemcache, []string{"a:b:c:"}, "memcached: invalid argument: "},
		} {
			s, err := NewSelector(tc.sel, tc.servers...)
			if s != nil || !errors.Is(err, driver.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("NewSelector(%q, %q) = %v, %v; want an error starting %q", tc.sel, tc.servers, s, err, tc.want)
			}
		}
	})
}

func BenchmarkPickServer(b *testing.B) {
	servers := []string{"127.0.0.1:11211", "127.0.0.1:11212", "127.0.0.1:11213"}
	for _, sel := range selections {
		s, err := NewSelector(sel, servers...)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(sel), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.PickServer("app:pages:render|/about/team?lang=en"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
