package driver_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

func ExampleEncodeEntry() {
	md := driver.Metadata{CreatedAt: time.UnixMicro(1795235815192588), Version: driver.ValueVersion}
	fmt.Printf("%s\n", driver.EncodeEntry(md, []byte(`{"x": 1}`)))
	// Output:
	// {"ct": 1795235815.192588, "v": 2}|{"x": 1}
}

func ExampleDecodeEntry() {
	md, payload, err := driver.DecodeEntry([]byte(`{"ct": 1795235815.192588, "v": 2}|{"x": 1}`))
	fmt.Println(md.CreatedAt.UTC().Format(time.RFC3339Nano), md.Version, string(payload), err)

	// A pickled entry, as dogpile.cache writes it without a serializer, is
	// undecodable: regions treat it as a miss.
	_, _, err = driver.DecodeEntry([]byte("\x80\x04\x95\x1b\x00\x00\x00\x00\x00\x00\x00}"))
	fmt.Println(errors.Is(err, driver.ErrUndecodable), err)
	// Output:
	// 2026-11-21T04:36:55.192588Z 2 {"x": 1} <nil>
	// true undecodable entry: no metadata header
}

// exampleHost is the backend ExampleRegister registers.
type exampleHost struct {
	*memory.Backend
	host string
	port int
}

func ExampleRegister() {
	// A backend package registers its names from init; regions configured
	// by name open it with driver.Open.
	driver.Register("example.host", func(args driver.Arguments) (driver.Backend, error) {
		p := args.Parser("example.host")
		b := &exampleHost{Backend: must(memory.New(memory.Options{})), host: p.String("host", "localhost"), port: p.Int("port", 6379)}
		if b.port < 1 || b.port > 65535 {
			p.Reject("port", "a port number, 1 to 65535")
		}
		if err := p.Err(); err != nil {
			return nil, err // no backend name: Open adds it
		}
		return b, nil
	})

	b, err := driver.Open("example.host", driver.Arguments{"host": "cache.internal", "port": "6380"})
	fmt.Println(b.(*exampleHost).host, b.(*exampleHost).port, err)
	_, err = driver.Open("example.host", driver.Arguments{"port": 0})
	fmt.Println(err)
	_, err = driver.Open("example.host", driver.Arguments{"hots": "typo"})
	fmt.Println(err)

	// Regions prefix the error once more.
	err = dogpile.NewRegion(dogpile.WithName("users")).Configure("example.host", dogpile.Config{Arguments: map[string]any{"port": -1}})
	fmt.Println(err)
	// Output:
	// cache.internal 6380 <nil>
	// example.host: invalid argument: argument "port" is int 0, want a port number, 1 to 65535
	// example.host: invalid argument: unknown arguments ["hots"]
	// dogpile: region "users": configure: example.host: invalid argument: argument "port" is int -1, want a port number, 1 to 65535
}

func ExampleOpen() {
	_, err := driver.Open("dogpile.cache.no_such_backend", nil)
	fmt.Println(errors.Is(err, driver.ErrUnknownBackend))
	msg := err.Error()
	fmt.Println(msg[:strings.Index(msg, " (registered")])
	// Output:
	// true
	// unknown backend "dogpile.cache.no_such_backend": a backend's names are registered when its package is imported, as in import _ "github.com/dogpilego/dogpile/dogpile/backends/<package>"
}

func ExampleArguments_Parser() {
	args := driver.Arguments{
		"url":               "redis://127.0.0.1:6379/0",
		"socket_timeout":    0.5,
		"lock_timeout":      "90s",
		"startup_nodes":     "10.0.0.1:7000, 10.0.0.2:7000",
		"thread_local_lock": false, // Python-only
	}
	p := args.Parser("dogpile.cache.redis")
	fmt.Println(p.String("url", ""))
	fmt.Println(p.Seconds("socket_timeout", 0), p.Seconds("lock_timeout", 0))
	fmt.Println(p.Strings("startup_nodes"))
	fmt.Println(p.Int("db", 0), p.Bool("ssl", false)) // absent: the defaults
	fmt.Println(p.Err())                              // thread_local_lock: unknown
	p.Ignore("thread_local_lock")
	fmt.Println(p.Err())
	// Output:
	// redis://127.0.0.1:6379/0
	// 500ms 1m30s
	// [10.0.0.1:7000 10.0.0.2:7000]
	// 0 false
	// invalid argument: unknown arguments ["thread_local_lock"]
	// <nil>
}

// exampleCounting counts the Sets that reach the backend.
type exampleCounting struct {
	driver.ProxyBackend
	sets *atomic.Int64
}

// Set counts, then forwards.
func (c *exampleCounting) Set(ctx context.Context, key string, v driver.CachedValue) error {
	c.sets.Add(1)
	return c.ProxyBackend.Set(ctx, key, v)
}

func ExampleProxyBackend() {
	var sets atomic.Int64
	counting := func(next driver.Backend) driver.Backend {
		return &exampleCounting{ProxyBackend: driver.ProxyBackend{Next: next}, sets: &sets}
	}
	r := dogpile.NewRegion()
	if err := r.Configure("dogpile.cache.memory", dogpile.Config{Wrap: []driver.Proxy{counting}}); err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = r.Set(ctx, "a", 1)
	_ = r.Set(ctx, "b", 2)
	v, _, _ := dogpile.Get[int](ctx, r, "b")
	fmt.Println(v, sets.Load())
	fmt.Printf("%T %T\n", r.Backend(), driver.Unwrap(r.Backend()))
	// Output:
	// 2 2
	// *driver_test.exampleCounting *memory.Backend
}
