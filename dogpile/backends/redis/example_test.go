package redis_test

import (
	"context"
	"fmt"
	"log"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/redis"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
)

// The caller builds the go-redis client, owns it and closes it; the
// backend only uses it. Neither connects before the first command, so
// this example runs without a server.
func ExampleNew() {
	client := goredis.NewClient(&goredis.Options{Addr: "cache.internal:6379", DB: 2})
	defer client.Close()

	b, err := redis.New(client, redis.Options{
		DistributedLock: true,
		LockTimeout:     5 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	users := dogpile.NewRegion(dogpile.WithName("users"))
	if err := users.ConfigureBackend(b, dogpile.Config{ExpirationTime: 10 * time.Minute}); err != nil {
		log.Fatal(err)
	}
	defer users.Close() // leaves client open

	// Entries get a server-side TTL of twice the region's expiration.
	fmt.Println(b.ServerTTL())
	// Output:
	// 20m0s
}

// Options.ServerTTL fixes the server-side TTL, or turns it off with
// NoServerTTL; the region's expiration time then does not change it.
func ExampleOptions_serverTTL() {
	client := goredis.NewClient(&goredis.Options{Addr: "localhost:6379"})
	defer client.Close()

	for _, ttl := range []time.Duration{0, time.Hour, redis.NoServerTTL} {
		b, err := redis.New(client, redis.Options{ServerTTL: ttl})
		if err != nil {
			log.Fatal(err)
		}
		b.SetRegionExpiration(5 * time.Minute) // what a region does when it is configured
		fmt.Println(b.ServerTTL())
	}
	// Output:
	// 10m0s
	// 1h0m0s
	// 0s
}

// Options New cannot take are errors naming the field.
func ExampleOptions_invalid() {
	client := goredis.NewClient(&goredis.Options{Addr: "localhost:6379"})
	defer client.Close()

	_, err := redis.New(client, redis.Options{DistributedLock: true, LockPrefix: "lock key"})
	fmt.Println(err)
	// Output:
	// redis: invalid argument: Options.LockPrefix is "lock key", want a match of ^[\w\-\.\:]{2,10}$, or "" for DefaultLockPrefix
}

// The same configuration file serves Python and Go processes. A backend
// opened by name builds its client from dogpile.cache's arguments, and
// closes it with the region.
func Example_configureFromConfig() {
	settings := map[string]any{
		"cache.users.backend":                         "dogpile.cache.redis_sentinel",
		"cache.users.expiration_time":                 "3600",
		"cache.users.arguments.sentinels":             "10.0.0.1:26379, 10.0.0.2:26379",
		"cache.users.arguments.service_name":          "mymaster",
		"cache.users.arguments.db":                    "0",
		"cache.users.arguments.lock_timeout":          "10",
		"cache.users.arguments.redis_expiration_time": "7200",
	}
	users := dogpile.NewRegion(dogpile.WithName("users"))
	if err := pyconfig.ConfigureFromConfig(users, settings, "cache.users."); err != nil {
		log.Fatal(err)
	}
	defer users.Close()

	rb := driver.Unwrap(users.Backend()).(*redis.Backend)
	fmt.Println(rb.ServerTTL(), rb.Mutex("k") != nil)
	// Output:
	// 2h0m0s true
}

// An argument out of range is a configuration error that names it; the
// region stays unconfigured.
func Example_argumentError() {
	r := dogpile.NewRegion(dogpile.WithName("r"))
	err := r.Configure(redis.Name, dogpile.Config{Arguments: map[string]any{
		"url":               "redis://localhost:6379/0",
		"connection_kwargs": map[string]any{"pool_size": -1},
	}})
	fmt.Println(err)
	fmt.Println(r.IsConfigured())
	// Output:
	// dogpile: region "r": configure: dogpile.cache.redis: invalid argument: argument "connection_kwargs.pool_size" is int -1, want a count from 0 to 10000 (MaxPoolSize)
	// false
}

// Keys with one hash tag share a slot, so a cluster serves them with one
// MGET.
func ExampleHashSlot() {
	fmt.Println(redis.HashSlot("{user:7}:profile") == redis.HashSlot("{user:7}:prefs"))
	fmt.Println(redis.HashSlot("foo"), redis.HashSlot("bar"))
	// Output:
	// true
	// 12182 5061
}

// GetOrCreate on a Redis region: one GET on a hit; on a miss, one process
// in all creates the value under the distributed lock. It needs a server,
// so it is compiled but not run.
func Example_getOrCreate() {
	type user struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	users := dogpile.NewRegion(dogpile.WithName("users"))
	err := users.Configure(redis.Name, dogpile.Config{
		ExpirationTime: 10 * time.Minute,
		Arguments: map[string]any{
			"url":              "redis://localhost:6379/0",
			"distributed_lock": true,
			"lock_timeout":     5,
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()

	u, err := dogpile.GetOrCreate(context.Background(), users, "user:7", func(ctx context.Context) (user, error) {
		return user{ID: 7, Name: "Ada"}, nil // load from the database
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.Name)
}

// A near cache is given to the client when it is built, and to the
// backend: hits are then served from process memory, kept coherent by the
// server's invalidations. Nothing connects before the first command, so
// this example runs without a server.
func ExampleNewNearCache() {
	nc, err := redis.NewNearCache(redis.NearCacheOptions{MaxEntries: 50_000, TTL: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	client := goredis.NewClient(&goredis.Options{
		Addr:                  "cache.internal:6379",
		ClientSideCache:       nc,
		ClientSideCacheConfig: &goredis.ClientSideCacheConfig{DrainInterval: redis.NearCacheDrainInterval},
	})
	defer client.Close()

	b, err := redis.New(client, redis.Options{NearCache: nc, DistributedLock: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.NearCache() == nc)
	// Output:
	// true
}
