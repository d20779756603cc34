package memcached_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memcached"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
)

// Valid memcached keys are stored as they are; others under a readable
// prefix and the SHA-256 of the whole key.
func ExampleMangleKey() {
	fmt.Println(memcached.MangleKey("user:42"))
	fmt.Println(memcached.MangleKey("app:profile|user 42"))
	long := memcached.MangleKey(strings.Repeat("x", 300))
	fmt.Println(len(long), long[170:186])
	// Output:
	// user:42
	// app:profile|user_42~sha256:addc67badb3e02239a59ca999d9d60a5d768c7de3c02d98bb725f7c7b50de0e5
	// 250 xxxxxxxx~sha256:
}

func ExampleValidKey() {
	fmt.Println(memcached.ValidKey("user:42"))
	fmt.Println(memcached.ValidKey("ключ:42"))                // UTF-8 is fine: 12 bytes
	fmt.Println(memcached.ValidKey("user 42"))                // a space
	fmt.Println(memcached.ValidKey("a\r\nflush_all"))         // control characters
	fmt.Println(memcached.ValidKey(strings.Repeat("к", 126))) // 252 bytes
	// Output:
	// true
	// true
	// false
	// false
	// false
}

// StoredKey tells where a key lives; New does not connect.
func ExampleBackend_StoredKey() {
	client := memcache.New("127.0.0.1:11211")
	b, err := memcached.New(client, memcached.Options{})
	if err != nil {
		log.Fatal(err)
	}
	k, _ := b.StoredKey("greeting:en")
	fmt.Println(k)

	strict, err := memcached.New(client, memcached.Options{RefuseInvalidKeys: true})
	if err != nil {
		log.Fatal(err)
	}
	_, err = strict.StoredKey("greeting en")
	fmt.Println(errors.Is(err, driver.ErrInvalidArgument))
	// Output:
	// greeting:en
	// true
}

// A region on two memcached servers with the distributed dogpile lock, as
// a dogpile.cache configuration would declare it. The registered backend
// builds its own client, closed with the region.
func Example() {
	region := dogpile.NewRegion(dogpile.WithName("pages"))
	err := pyconfig.ConfigureFromConfig(region, map[string]any{
		"cache.pages.backend":                    "dogpile.cache.memcached",
		"cache.pages.expiration_time":            "600",
		"cache.pages.arguments.url":              "10.0.0.1:11211, 10.0.0.2:11211",
		"cache.pages.arguments.distributed_lock": "true",
		"cache.pages.arguments.lock_timeout":     "30",
	}, "cache.pages.")
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close()

	html, err := dogpile.GetOrCreate(context.Background(), region, "page:/about", func(ctx context.Context) (string, error) {
		return "<h1>About</h1>", nil // rendered once per expiry across every process
	})
	fmt.Println(html, err)
}

// The backend on a client built by the caller, who keeps it: closing the
// region leaves it open. New does not connect.
func ExampleNew() {
	client := memcache.New("10.0.0.1:11211", "10.0.0.2:11211")
	client.Timeout = 250 * time.Millisecond
	client.MaxIdleConns = 16
	defer client.Close()

	b, err := memcached.New(client, memcached.Options{DistributedLock: true, LockTimeout: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	region := dogpile.NewRegion(dogpile.WithName("pages"))
	if err := region.ConfigureBackend(b, dogpile.Config{ExpirationTime: 10 * time.Minute}); err != nil {
		log.Fatal(err)
	}
	defer region.Close()
	fmt.Println("server-side TTL:", b.TTL())
	// Output:
	// server-side TTL: 20m1s
}

// The server-side TTL: derived from the region's expiration by default,
// fixed, or none.
func ExampleOptions() {
	client := memcache.New("127.0.0.1:11211")
	for _, opts := range []memcached.Options{
		{},                                 // derived: twice the region's expiration, plus 1 s
		{ServerTTL: time.Hour},             // memcached_expire_time 3600
		{ServerTTL: memcached.NoServerTTL}, // memcached_expire_time 0
	} {
		b, err := memcached.New(client, opts)
		if err != nil {
			log.Fatal(err)
		}
		region := dogpile.NewRegion()
		if err := region.ConfigureBackend(b, dogpile.Config{ExpirationTime: time.Minute}); err != nil {
			log.Fatal(err)
		}
		fmt.Println(b.TTL())
	}
	_, err := memcached.New(client, memcached.Options{LockTimeout: -time.Second})
	fmt.Println(err)
	// Output:
	// 2m1s
	// 1h0m0s
	// 0s
	// memcached: invalid argument: Options.LockTimeout is -1s, want a positive duration or zero (DefaultLockTimeout)
}

// Keys placed as Python's clients place them (the values printed are
// those the Python clients give): a client built on a Selector, given to
// New with it, shares keys and locks with Python processes using the same
// servers in the same order. A key's lock ("_lock" + key) is placed as a
// key of its own.
func ExampleNewSelector() {
	servers := []string{"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"}
	for _, sel := range []memcached.Selection{memcached.SelectPythonMemcached, memcached.SelectPyMemcache, memcached.SelectPylibmc} {
		s, err := memcached.NewSelector(sel, servers...)
		if err != nil {
			log.Fatal(err)
		}
		addr, _ := s.PickServer("user:42")
		lock, _ := s.PickServer("_lockuser:42")
		fmt.Printf("%-16s user:42 on %s, its lock on %s\n", sel, addr, lock)
	}

	sel, err := memcached.NewSelector(memcached.SelectPyMemcache, servers...)
	if err != nil {
		log.Fatal(err)
	}
	client := memcache.NewFromSelector(sel)
	b, err := memcached.New(client, memcached.Options{Selector: sel, DistributedLock: true})
	if err != nil {
		log.Fatal(err)
	}
	_ = b
	// Output:
	// python-memcached user:42 on 10.0.0.2:11211, its lock on 10.0.0.1:11211
	// pymemcache       user:42 on 10.0.0.1:11211, its lock on 10.0.0.2:11211
	// pylibmc          user:42 on 10.0.0.1:11211, its lock on 10.0.0.2:11211
}
