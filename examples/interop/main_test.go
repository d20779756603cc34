package main

import (
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/python"
	"github.com/dogpilego/dogpile/internal/testserver"
)

func TestRun(t *testing.T) {
	srv := testserver.StartRedis(t)
	var out strings.Builder
	if err := run(&out, srv.Addr); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	host, port, _ := net.SplitHostPort(srv.Addr)
	for _, want := range []string{
		"wrote two entries to Redis at " + srv.Addr,
		"\ninterop:greeting\n    {\"ct\": ",
		`"v": 2}|{"message":"hello from Go","from":"github.com/dogpilego/dogpile","sides":["go","python"]}`,
		"\n__main__:greet|world\n    {\"ct\": ",
		`|"Hello, world! (computed in Go)"`,
		`greet("world") in Go: Hello, world! (computed in Go)`,
		`arguments={"host": "` + host + `", "port": ` + port + `, "db": 0},`,
		`print(region.get("interop:greeting"))`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(got)
	}

	// The entry is in dogpile.cache's format, read with a plain client.
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	raw, err := client.Get(ctx, greetingKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	md, payload, err := driver.DecodeEntry(raw)
	if err != nil {
		t.Fatal(err)
	}
	var g Greeting
	if err := json.Unmarshal(payload, &g); err != nil || g.Message != "hello from Go" {
		t.Errorf("payload %s: %v", payload, err)
	}
	if md.Version != driver.ValueVersion || time.Since(md.CreatedAt) > time.Minute {
		t.Errorf("metadata %+v", md)
	}

	// The Python program reads both entries (skipped without Python's
	// dogpile.cache, a failure under CI=true).
	t.Run("python", func(t *testing.T) {
		py := python.Interpreter(t, "dogpile.cache", "redis")
		cmd := exec.Command(py, "-")
		cmd.Stdin = strings.NewReader(pythonSnippet(host, port))
		pyOut, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("python: %v\n%s", err, pyOut)
		}
		want := "{'message': 'hello from Go', 'from': 'github.com/dogpilego/dogpile', 'sides': ['go', 'python']}\n" +
			"Hello, world! (computed in Go)\n"
		if string(pyOut) != want {
			t.Errorf("python printed\n%s\nwant\n%s", pyOut, want)
		}
		if !strings.Contains(got, "It prints:\n\n"+want) {
			t.Error("the program's description of Python's output is not what Python prints")
		}
	})
}

func TestRunBadAddress(t *testing.T) {
	for _, addr := range []string{"localhost", "127.0.0.1:port"} {
		if err := run(&strings.Builder{}, addr); err == nil {
			t.Errorf("run(%q) succeeded", addr)
		}
	}
}
