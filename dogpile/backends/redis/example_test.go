package redis_test

import (
	"context"
	"fmt"
	"log"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/redis"
)

// Building a backend from dogpile.cache's arguments does not connect yet,
// so its settings can be inspected at once.
func ExampleNew() {
	b, err := redis.New(dogpile.Arguments{
		"url":              "redis://cache.internal:6380/2",
		"socket_timeout":   0.5,
		"distributed_lock": true,
		"lock_prefix":      "_lok.",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	opts := b.Client().(*goredis.Client).Options()
	fmt.Println(opts.Addr, opts.DB, opts.ReadTimeout)
	fmt.Println(b.LockKey("user:7"))

	// A region with a ten-minute expiration gives entries a server-side
	// TTL twice as long.
	b.SetRegionExpiration(10 * time.Minute)
	fmt.Println(b.ServerTTL())
	// Output:
	// cache.internal:6380 2 500ms
	// _lok.user:7
	// 20m0s
}

// The same configuration file serves Python and Go processes.
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
	if err := users.ConfigureFromConfig(settings, "cache.users."); err != nil {
		log.Fatal(err)
	}
	defer users.Close()

	b, _ := users.ActualBackend()
	rb := b.(*redis.Backend)
	fmt.Println(rb.BackendName(), rb.ServerTTL(), rb.Mutex("k") != nil)
	// Output:
	// dogpile.cache.redis_sentinel 2h0m0s true
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

// A go-redis client built elsewhere can be used as it is; the backend does
// not close it.
func ExampleNew_client() {
	client := goredis.NewClient(&goredis.Options{Addr: "localhost:6379"})
	defer client.Close()

	b, err := redis.New(dogpile.Arguments{"client": client, "redis_expiration_time": 300})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.Client() == client, b.ServerTTL())
	// Output:
	// true 5m0s
}

// GetOrCreate on a Redis region: one GET on a hit; on a miss, one process
// in all creates the value under the distributed lock. It needs a server,
// so it is not run.
func Example_getOrCreate() {
	type user struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	users := dogpile.NewRegion(dogpile.WithName("users"))
	err := users.Configure(redis.Name, dogpile.Config{
		ExpirationTime: 10 * time.Minute,
		Arguments: dogpile.Arguments{
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
