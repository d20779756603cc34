package memcached_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memcached"
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
	b, err := memcached.New(dogpile.Arguments{"url": "127.0.0.1:11211"})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	k, _ := b.StoredKey("greeting:en")
	fmt.Println(k)

	strict, err := memcached.New(dogpile.Arguments{"url": "127.0.0.1:11211", "mangle_invalid_keys": false})
	if err != nil {
		log.Fatal(err)
	}
	defer strict.Close()
	_, err = strict.StoredKey("greeting en")
	fmt.Println(err != nil)
	// Output:
	// greeting:en
	// true
}

// A region on two memcached servers with the distributed dogpile lock, as
// a dogpile.cache configuration would declare it.
func Example() {
	region := dogpile.NewRegion(dogpile.WithName("pages"))
	err := region.ConfigureFromConfig(map[string]any{
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

// The backend built by hand, with a server-side TTL of its own.
func ExampleNew() {
	b, err := memcached.New(dogpile.Arguments{
		"url":                   []string{"127.0.0.1:11211"},
		"memcached_expire_time": 3600,
		"socket_timeout":        0.25,
	})
	if err != nil {
		log.Fatal(err)
	}
	region := dogpile.NewRegion()
	if err := region.ConfigureBackend(b, dogpile.Config{ExpirationTime: 10 * time.Minute}); err != nil {
		log.Fatal(err)
	}
	defer region.Close()
	fmt.Println(b.TTL())
}
