// Command interop shows a Go process and Python's dogpile.cache sharing one
// Redis server: it writes two entries that a Python region configured with
// a JSON serializer reads as its own, prints the bytes it stored, and
// prints the Python program to run against the same server.
//
//	go run ./examples/interop -redis 127.0.0.1:6379
//
// The two entries:
//
//   - "interop:greeting", stored with Region.Set: Python's region.get reads
//     it.
//   - the result of a cached function, greet("world"), under the key
//     dogpile.cache's cache_on_arguments gives a function greet of the
//     module __main__ (a Python script): "__main__:greet|world". The Python
//     program defines such a function, whose body would say "computed in
//     Python"; it prints "computed in Go", because the value is in the
//     cache.
//
// Both sides store dogpile.cache's own format, {"ct": <created>, "v": 2}|
// followed by the payload, which is JSON here on both sides. Python is not
// needed to run this program; to run the snippet, install dogpile.cache and
// redis for Python (pip install dogpile.cache redis, or on Debian apt install
// python3-dogpile.cache python3-redis).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/redis" // registers dogpile.cache.redis
	"github.com/dogpilego/dogpile/dogpile/driver"
)

func main() {
	flags := flag.NewFlagSet("interop", flag.ExitOnError)
	addr := flags.String("redis", "", "`host:port` of a Redis server Python can reach too (required)")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: interop -redis host:port")
		flags.PrintDefaults()
	}
	_ = flags.Parse(os.Args[1:])
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "interop: -redis host:port is required: the address of a Redis server, such as -redis 127.0.0.1:6379")
		os.Exit(2)
	}
	if err := run(os.Stdout, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(1)
	}
}

// greetingKey is the key of the entry stored with Region.Set.
const greetingKey = "interop:greeting"

// expiration is the regions' expiration time, on both sides.
const expiration = time.Hour

// Greeting is the value stored under greetingKey. JSON field names are
// what Python sees as the dict's keys.
type Greeting struct {
	Message string   `json:"message"`
	From    string   `json:"from"`
	Sides   []string `json:"sides"`
}

// greet is the function cached under the same key as a Python function
// greet of a script.
func greet(_ context.Context, name string) (string, error) {
	return "Hello, " + name + "! (computed in Go)", nil
}

// run writes the entries to the Redis server at addr and prints what it
// stored and the Python program that reads it.
func run(w io.Writer, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-redis %q: %w", addr, err)
	}
	if _, err := strconv.Atoi(port); err != nil {
		return fmt.Errorf("-redis %q: the port is not a number", addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The region, as Python's would be configured: same backend, same
	// arguments, same expiration time. JSON is the default codec.
	region := dogpile.NewRegion(dogpile.WithName("interop"))
	err = region.Configure("dogpile.cache.redis", dogpile.Config{
		ExpirationTime: expiration,
		Arguments:      map[string]any{"host": host, "port": port, "db": 0},
	})
	if err != nil {
		return err
	}
	defer region.Close()

	g := Greeting{Message: "hello from Go", From: "github.com/dogpilego/dogpile", Sides: []string{"go", "python"}}
	if err := region.Set(ctx, greetingKey, g); err != nil {
		return fmt.Errorf("writing to Redis at %s: %w", addr, err)
	}
	// FuncName gives the function the module and name Python's key
	// generator uses for a function greet in a script: "__main__".
	cachedGreet := dogpile.Cache1(region, greet, dogpile.FuncName("__main__", "greet"))
	msg, err := cachedGreet.Call(ctx, "world")
	if err != nil {
		return err
	}

	greetKey, err := cachedGreet.Key("world")
	if err != nil {
		return err
	}

	fmt.Fprintf(w, "wrote two entries to Redis at %s\n\n", addr)
	for _, key := range []string{greetingKey, greetKey} {
		raw, err := rawEntry(ctx, region, key)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\n    %s\n", key, raw)
	}
	fmt.Fprintf(w, "\ngreet(\"world\") in Go: %s\n", msg)
	fmt.Fprintf(w, "\nRead them from Python: save this as interop.py and run python3 interop.py\n(needs: pip install dogpile.cache redis)\n\n")
	fmt.Fprint(w, pythonSnippet(host, port))
	fmt.Fprintf(w, "\nIt prints:\n\n%s\n%s\n", `{'message': 'hello from Go', 'from': 'github.com/dogpilego/dogpile', 'sides': ['go', 'python']}`, msg)
	return nil
}

// rawEntry returns the bytes the backend holds under key: the wire format
// both sides read.
func rawEntry(ctx context.Context, region *dogpile.Region, key string) (string, error) {
	b := driver.Unwrap(region.Backend())
	bb, ok := b.(driver.BytesBackend)
	if !ok {
		return "", fmt.Errorf("%T does not store bytes", b)
	}
	raw, found, err := bb.GetBytes(ctx, key)
	if err != nil {
		return "", err
	}
	if !found {
		return "", errors.New(key + " is not in Redis")
	}
	return string(raw), nil
}

// pythonSnippet is the Python program that reads the entries from the
// Redis server at host:port.
func pythonSnippet(host, port string) string {
	return fmt.Sprintf(`import json

from dogpile.cache import make_region

# dogpile.cache's own format with a JSON payload, as the Go side writes.
region = make_region(
    serializer=lambda value: json.dumps(value).encode(),
    deserializer=json.loads,
).configure(
    "dogpile.cache.redis",
    expiration_time=%d,
    arguments={"host": %q, "port": %s, "db": 0},
)

print(region.get(%q))


@region.cache_on_arguments()
def greet(name):
    return "Hello, %%s! (computed in Python)" %% name


# The key is "__main__:greet|world": the value Go cached.
print(greet("world"))
`, int(expiration/time.Second), host, port, greetingKey)
}
