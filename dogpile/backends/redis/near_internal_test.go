package redis

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// The namespace go-redis puts in front of its cache keys and Redis keys
// (database 0, no user), and its cache key of GET key.
const testNS = "0\x000:\x00"

func getKey(key string) string {
	return testNS + getArgs + strconv.Itoa(len(key)) + "\r\n" + key + "\r\n"
}

func bulk(v string) []byte { return []byte("$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n") }

// fill reserves and fulfils key with v, read on connection conn, as
// go-redis does on a miss.
func fill(t *testing.T, c *NearCache, key, v string, conn uint64) {
	t.Helper()
	token, ok := c.Reserve(getKey(key), []string{testNS + key})
	if !ok {
		t.Fatalf("Reserve(%s) refused", key)
	}
	if !c.FulfillOwned(getKey(key), token, conn, bulk(v)) {
		t.Fatalf("FulfillOwned(%s) refused", key)
	}
}

func wantHeld(t *testing.T, c *NearCache, key, v string) {
	t.Helper()
	e := c.lookup(key)
	if e == nil || !e.found || string(e.value) != v {
		t.Fatalf("lookup(%s) = %+v; want %q", key, e, v)
	}
	if raw, ok := c.Get(context.Background(), getKey(key)); !ok || string(raw) != string(bulk(v)) {
		t.Fatalf("Get(%s) = %q, %v; want the reply of %q", key, raw, ok, v)
	}
}

func wantGone(t *testing.T, c *NearCache, key string) {
	t.Helper()
	if e := c.lookup(key); e != nil {
		t.Fatalf("lookup(%s) = %q; want nothing", key, e.value)
	}
	if _, ok := c.Get(context.Background(), getKey(key)); ok {
		t.Fatalf("Get(%s) found it", key)
	}
}

// TestNearCacheContract: go-redis's Cache contract as the near cache
// keeps it: one reservation per key, replies kept only with their token,
// and a reservation dropped by an invalidation, a write of this process,
// a flush or a cancel keeps nothing, so that a reply read before a write
// is never published after it.
func TestNearCacheContract(t *testing.T) {
	c := newNearCache(NearCacheOptions{})
	fill(t, c, "k", "v1", 1)
	wantHeld(t, c, "k", "v1")
	if _, ok := c.Reserve(getKey("k"), []string{testNS + "k"}); ok {
		t.Fatal("Reserve of a held key granted; want go-redis to read it with Get")
	}

	// Only GET replies of the namespace learned are kept.
	for _, ck := range []string{
		testNS + "*2\r\n$6\r\nexists\r\n$1\r\nk\r\n",
		testNS + "*3\r\n$4\r\nmget\r\n$1\r\na\r\n$1\r\nb\r\n",
		"1\x000:\x00" + getArgs + "1\r\nk\r\n", // database 1
		testNS + getArgs + "2\r\nk\r\n",        // a broken length
	} {
		if _, ok := c.Reserve(ck, []string{testNS + "k"}); ok {
			t.Errorf("Reserve(%q) granted", ck)
		}
	}

	// One reservation per key; a second caller reads uncached.
	token, ok := c.Reserve(getKey("r"), []string{testNS + "r"})
	if !ok {
		t.Fatal("Reserve refused")
	}
	if _, ok := c.Reserve(getKey("r"), []string{testNS + "r"}); ok {
		t.Fatal("a second Reserve of a key being read granted")
	}
	if c.FulfillOwned(getKey("r"), token+1, 1, bulk("x")) {
		t.Fatal("FulfillOwned with another token kept the reply")
	}
	// An invalidation while the read is in flight: its reply may predate
	// the write, and is not kept.
	if n := c.DeleteByRedisKey(testNS + "r"); n != 0 {
		t.Errorf("DeleteByRedisKey of a key only reserved = %d; want 0 entries", n)
	}
	if c.FulfillOwned(getKey("r"), token, 1, bulk("old")) {
		t.Fatal("a reply whose key was invalidated in flight was kept")
	}
	wantGone(t, c, "r")

	// The same for this process's own write, a flush and a cancel.
	for _, drop := range []func(){
		func() { c.forget("r") },
		func() { c.Flush() },
		func() { c.Cancel(getKey("r"), token) },
	} {
		token, ok = c.Reserve(getKey("r"), []string{testNS + "r"})
		if !ok {
			t.Fatal("Reserve refused")
		}
		drop()
		if c.FulfillOwned(getKey("r"), token, 1, bulk("old")) {
			t.Fatal("a reply whose reservation was dropped was kept")
		}
	}

	// A miss is kept as a miss.
	token, _ = c.Reserve(getKey("none"), []string{testNS + "none"})
	if !c.FulfillOwned(getKey("none"), token, 2, []byte("_\r\n")) {
		t.Fatal("a null reply was not kept")
	}
	if e := c.lookup("none"); e == nil || e.found {
		t.Fatalf("lookup of a key held as missing = %+v", e)
	}
	// Replies other than bulk strings are not.
	token, _ = c.Reserve(getKey("odd"), []string{testNS + "odd"})
	if c.FulfillOwned(getKey("odd"), token, 2, []byte(":1\r\n")) {
		t.Fatal("an integer reply was kept")
	}

	// Invalidation, eviction by connection, flush.
	fill(t, c, "a", "1", 7)
	fill(t, c, "b", "2", 7)
	fill(t, c, "c", "3", 8)
	if n := c.DeleteByRedisKey(testNS + "a"); n != 1 {
		t.Errorf("DeleteByRedisKey = %d; want 1", n)
	}
	wantGone(t, c, "a")
	if n := c.DeleteByRedisKey("1\x000:\x00b"); n != 0 {
		t.Errorf("DeleteByRedisKey of another namespace = %d; want 0", n)
	}
	if n := c.EvictByConn(7); n != 1 {
		t.Errorf("EvictByConn(7) = %d; want 1 (b)", n)
	}
	wantGone(t, c, "b")
	wantHeld(t, c, "c", "3")
	if !c.DeleteByCacheKey(getKey("c")) {
		t.Error("DeleteByCacheKey found nothing")
	}
	wantGone(t, c, "c")
	fill(t, c, "d", "4", 9)
	if n := c.Flush(); n < 1 || c.Len() != 0 || c.Bytes() != 0 {
		t.Errorf("Flush = %d, then Len %d, Bytes %d; want everything gone", n, c.Len(), c.Bytes())
	}
}

// TestNearCacheTTLFromRequest: the TTL runs from the reservation, before
// the read was sent, not from the reply: a reply slower than the TTL is
// not kept at all.
func TestNearCacheTTLFromRequest(t *testing.T) {
	c := newNearCache(NearCacheOptions{TTL: 20 * time.Millisecond})
	token, _ := c.Reserve(getKey("slow"), []string{testNS + "slow"})
	time.Sleep(25 * time.Millisecond) // a read slower than the TTL
	if c.FulfillOwned(getKey("slow"), token, 1, bulk("v")) {
		t.Error("a reply that came after the TTL was kept")
	}
	fill(t, c, "k", "v", 1)
	if e := c.lookup("k"); e == nil || e.expires-mono() > int64(20*time.Millisecond) {
		t.Errorf("entry %+v expires later than the TTL after its reservation", e)
	}
}

// TestNearCacheClock: the clock algorithm keeps the ring and the byte
// count consistent through inserts, hits and removals.
func TestNearCacheClock(t *testing.T) {
	c := newNearCache(NearCacheOptions{MaxEntries: 5})
	for i := range 40 {
		k := "k" + strconv.Itoa(i%9)
		if c.lookup(k) == nil {
			fill(t, c, k, k, uint64(i%3+1))
		}
		if i%4 == 0 {
			c.forget("k" + strconv.Itoa((i+3)%9))
		}
		if i%7 == 0 {
			c.EvictByConn(uint64(i%3 + 1))
		}
		checkRing(t, c)
	}
}

// checkRing checks that the ring holds exactly the entries of the map,
// and that the sizes add up.
func checkRing(t *testing.T, c *NearCache) {
	t.Helper()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.entries) > c.maxEntries {
		t.Fatalf("%d entries; bound %d", len(c.entries), c.maxEntries)
	}
	if c.hand == nil {
		if len(c.entries) != 0 || c.size != 0 {
			t.Fatalf("empty ring, %d entries, %d bytes", len(c.entries), c.size)
		}
		return
	}
	n, size := 0, int64(0)
	for e := c.hand; ; e = e.next {
		if c.entries[e.key] != e || e.next.prev != e {
			t.Fatalf("ring entry %s is not the map's, or badly linked", e.key)
		}
		if _, ok := c.byConn[e.conn][e]; !ok {
			t.Fatalf("entry %s is not indexed by its connection %d", e.key, e.conn)
		}
		n, size = n+1, size+e.size
		if e.next == c.hand {
			break
		}
	}
	if n != len(c.entries) || size != c.size {
		t.Fatalf("ring of %d entries, %d bytes; map %d, size %d", n, size, len(c.entries), c.size)
	}
}

// TestNearCacheNamespace: go-redis's cache keys and Redis keys are the
// ones the tests above make, with the namespace learned from the first
// GET.
func TestNearCacheNamespace(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	b := open(t, Name, driver.Arguments{"url": srv.URL(), "near_cache": true})
	if _, _, err := b.GetBytes(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	nc := b.NearCache()
	nc.mu.RLock()
	defer nc.mu.RUnlock()
	if nc.ns != testNS {
		t.Errorf("namespace %q; want %q", nc.ns, testNS)
	}
	if e := nc.entries["k"]; e == nil || e.found {
		t.Errorf("entry of k = %+v; want it held as missing", e)
	}
}

// TestNearCacheZero: the zero NearCache works, with the default bounds.
func TestNearCacheZero(t *testing.T) {
	var c NearCache
	wantGone(t, &c, "k")
	c.DeleteByRedisKey(testNS + "k")
	c.EvictByConn(1)
	c.forget("k")
	fill(t, &c, "k", "v", 1)
	wantHeld(t, &c, "k", "v")
	if c.maxEntries != DefaultNearCacheMaxEntries || c.maxBytes != DefaultNearCacheMaxBytes || c.ttl != DefaultNearCacheTTL {
		t.Errorf("bounds %d, %d, %v; want the defaults", c.maxEntries, c.maxBytes, c.ttl)
	}
	if c.Flush() != 1 || c.Len() != 0 {
		t.Error("Flush did not empty it")
	}
}
