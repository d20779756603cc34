package redis_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile/backends/redis"
	"github.com/dogpilego/dogpile/internal/multiproc"
	"github.com/dogpilego/dogpile/internal/testserver"
)

const (
	coherentKey   = "mp:coherent"
	coherentReady = "mp:coherent:ready"
	coherentStop  = "stop"
	// coherentWrites is how many writes the test times.
	coherentWrites = 200
	// coherentP99 is the bound on the 99th percentile of the delay
	// between a write returning in one process and another process's
	// near cache serving it.
	coherentP99 = 10 * time.Millisecond
)

// seen is when a child first read a value.
type seen struct {
	V  string `json:"v"`
	At int64  `json:"at"` // unix nanoseconds
}

// TestMultiProcessNearCacheCoherence: process A writes a key 200 times,
// once every 20 ms, through a backend with a near cache; process B reads
// it through its own near cache in a loop. B sees every write, and the
// delay from A's write returning to B's first read of the value is under
// 10 ms at the 99th percentile. Not parallel: it times deliveries of a
// few milliseconds.
func TestMultiProcessNearCacheCoherence(t *testing.T) {
	if _, dir, ok := multiproc.Child(); ok {
		coherentChild(t, dir)
		return
	}
	srv := testserver.StartRedis(t)
	raw := rawClient(t, srv.Addr)
	ctx := context.Background()
	a := openBackend(t, redis.Name, with(hostPort(t, srv.Addr), "near_cache", true))
	if err := a.SetBytes(ctx, coherentKey, []byte("0")); err != nil {
		t.Fatal(err)
	}
	g := multiproc.Start(t, "TestMultiProcessNearCacheCoherence", 1, envAddr+"="+srv.Addr)
	deadline := time.Now().Add(30 * time.Second)
	for raw.Exists(ctx, coherentReady).Val() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the child never became ready:\n%s", g.Output(0))
		}
		time.Sleep(10 * time.Millisecond)
	}

	written := make(map[string]int64, coherentWrites)
	for i := 1; i <= coherentWrites; i++ {
		v := strconv.Itoa(i)
		a.GetBytes(ctx, coherentKey) // A reads through its near cache too
		if err := a.SetBytes(ctx, coherentKey, []byte(v)); err != nil {
			t.Fatal(err)
		}
		written[v] = time.Now().UnixNano()
		time.Sleep(20 * time.Millisecond) // the pace of the writes
	}
	if err := a.SetBytes(ctx, coherentKey, []byte(coherentStop)); err != nil {
		t.Fatal(err)
	}
	if err := g.Wait(30 * time.Second); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(filepath.Join(g.Dir(), "seen.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var delays []time.Duration
	got := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s seen
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		if at, ok := written[s.V]; ok {
			got[s.V] = true
			delays = append(delays, time.Duration(max(s.At-at, 0)))
		}
	}
	if len(got) != coherentWrites {
		t.Errorf("the other process saw %d of the %d writes", len(got), coherentWrites)
	}
	p50, p99, worst := percentile(delays, 50), percentile(delays, 99), percentile(delays, 100)
	t.Logf("write in A to read from B's near cache, %d writes: p50 %v, p99 %v, max %v",
		len(delays), p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), worst.Round(10*time.Microsecond))
	if p99 > coherentP99 {
		t.Errorf("p99 %v; want at most %v", p99, coherentP99)
	}
}

// coherentChild reads the key through a near cache until it reads
// coherentStop, and records when it first read each value.
func coherentChild(t *testing.T, dir string) {
	addr := os.Getenv(envAddr)
	b := openBackend(t, redis.Name, with(hostPort(t, addr), "near_cache", true))
	raw := rawClient(t, addr)
	ctx := context.Background()
	for {
		if _, m, _, err := b.GetBytesMemo(ctx, coherentKey); err != nil {
			t.Fatal(err)
		} else if m != nil {
			break // held in memory
		}
	}
	if err := raw.Set(ctx, coherentReady, "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "seen.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	defer w.Flush()
	enc := json.NewEncoder(w)
	last := ""
	for last != coherentStop {
		v, _, _, err := b.GetBytesMemo(ctx, coherentKey)
		if err != nil {
			t.Fatal(err)
		}
		if string(v) != last {
			last = string(v)
			if err := enc.Encode(seen{V: last, At: time.Now().UnixNano()}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(50 * time.Microsecond) // the pace of the reads
	}
}
