package redis_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/redis"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/multiproc"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// The environment the multi-process tests give their children.
const (
	envAddr  = "DOGPILE_REDIS_TEST_ADDR"
	envStart = "DOGPILE_REDIS_TEST_START" // unix nanoseconds
	envStop  = "DOGPILE_REDIS_TEST_STOP"
	envNear  = "DOGPILE_REDIS_TEST_NEAR" // "1": the children read through a near cache
)

const (
	mpChildren   = 4
	mpExpiration = time.Second
	mpCreateTime = 200 * time.Millisecond
	mpRun        = 4500 * time.Millisecond
	mpKey        = "mp:value"
	mpGenKey     = "mp:generation"
	mpCreations  = "mp:creations"
)

// generation is the cached value of the multi-process test: which
// creation made it.
type generation struct {
	Gen int64 `json:"gen"`
}

// creation is what a creator records in Redis: the generation it made,
// the one it replaced (0: none) and when that one was created, and when
// it ran.
type creation struct {
	Child   int   `json:"child"`
	Gen     int64 `json:"gen"`
	Prev    int64 `json:"prev"`
	PrevCT  int64 `json:"prev_ct"` // unix nanoseconds; 0 without a previous value
	StartNS int64 `json:"start"`
	EndNS   int64 `json:"end"`
}

// served is one value a child was given.
type served struct {
	Gen int64 `json:"gen"`
	At  int64 `json:"at"` // unix nanoseconds
}

func envTime(t *testing.T, name string) time.Time {
	t.Helper()
	n, err := strconv.ParseInt(os.Getenv(name), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return time.Unix(0, n)
}

// TestMultiProcessOneCreationPerExpiry: four processes loop GetOrCreate
// on one key with the distributed lock and a one-second expiration, for
// about four expiries. Each creation records which generation it replaced
// and how old it was: the generations form one chain (creations across all
// processes ran one at a time, each replacing the one before), every
// creation after the first replaced an expired value (one creation per
// expiry), and while one process created, the
// others were served the stale generation.
func TestMultiProcessOneCreationPerExpiry(t *testing.T) {
	oneCreationPerExpiry(t, "TestMultiProcessOneCreationPerExpiry", false)
}

// TestMultiProcessOneCreationPerExpiryNearCache is
// TestMultiProcessOneCreationPerExpiry with every process reading
// through a near cache: a value another process replaced may still be
// served from memory for a few milliseconds, but the region's re-read
// under the distributed lock goes to the server, so the count of
// creations is exact still.
func TestMultiProcessOneCreationPerExpiryNearCache(t *testing.T) {
	oneCreationPerExpiry(t, "TestMultiProcessOneCreationPerExpiryNearCache", true)
}

func oneCreationPerExpiry(t *testing.T, test string, near bool) {
	if i, dir, ok := multiproc.Child(); ok {
		oneCreationChild(t, i, dir)
		return
	}
	t.Parallel()
	srv := testserver.StartRedis(t)
	start := time.Now().Add(time.Second) // the children need a moment to start
	stop := start.Add(mpRun)
	nearEnv := "0"
	if near {
		nearEnv = "1"
	}
	g := multiproc.Start(t, test, mpChildren,
		envAddr+"="+srv.Addr,
		envStart+"="+strconv.FormatInt(start.UnixNano(), 10),
		envStop+"="+strconv.FormatInt(stop.UnixNano(), 10),
		envNear+"="+nearEnv)
	if err := g.Wait(time.Until(stop) + 30*time.Second); err != nil {
		t.Fatal(err)
	}

	raw := rawClient(t, srv.Addr)
	ctx := context.Background()
	records, err := raw.LRange(ctx, mpCreations, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	var creations []creation
	for _, r := range records {
		var c creation
		if err := json.Unmarshal([]byte(r), &c); err != nil {
			t.Fatal(err)
		}
		creations = append(creations, c)
	}
	slices.SortFunc(creations, func(a, b creation) int { return int(a.Gen - b.Gen) })
	gens, _ := raw.Get(ctx, mpGenKey).Int64()
	t.Logf("%d creations (generation counter %d): %+v", len(creations), gens, creations)

	// Expected: one creation at the start, then one per expiry.
	if n := len(creations); n < 3 || int64(n) != gens {
		t.Fatalf("%d creations recorded, %d generations counted; want them equal and at least 3 in %v", n, gens, mpRun)
	}
	expiries, early := 0, 0
	for k, c := range creations {
		if c.Gen != int64(k+1) || c.Prev != int64(k) {
			t.Errorf("creation %d made generation %d replacing %d; want %d replacing %d: an expiry was served twice or not at all",
				k, c.Gen, c.Prev, k+1, k)
		}
		if k > 0 {
			if c.StartNS < creations[k-1].EndNS {
				t.Errorf("creation %d (child %d) began before creation %d (child %d) ended: two processes created at once",
					k, c.Child, k-1, creations[k-1].Child)
			}
			if age := time.Duration(c.StartNS - c.PrevCT); age >= mpExpiration {
				expiries++
			} else {
				early++
				t.Errorf("creation %d (child %d) replaced generation %d at the age of %v, before it expired: a second creation for one expiry",
					k, c.Child, c.Prev, age)
			}
		}
	}
	if expiries != len(creations)-1 || early > 0 {
		t.Errorf("%d creations for %d expiries; want one creation per expiry and one at the start", len(creations), expiries)
	}

	// Stale values were served while a creation ran.
	var all [][]served
	served := 0
	for i := range mpChildren {
		all = append(all, readServed(t, filepath.Join(g.Dir(), fmt.Sprintf("served-%d.jsonl", i))))
		served += len(all[i])
	}
	// With a near cache, most values come from process memory.
	gets := calls(t, raw, "get")
	t.Logf("%d values served, %d GETs on the server (near cache %v)", served, gets, near)
	if near && 4*gets > served || !near && gets < served {
		t.Errorf("%d GETs for %d values served; want most of them from the near cache (%v), and each from the server without one", gets, served, near)
	}
	for k, c := range creations[1:] {
		stale := 0
		for i, list := range all {
			if i == c.Child {
				continue
			}
			for _, s := range list {
				if s.Gen == c.Prev && s.At >= c.StartNS && s.At <= c.EndNS {
					stale++
				}
			}
		}
		if stale == 0 {
			t.Errorf("creation %d (child %d): no other process was served the stale generation %d while it ran", k+1, c.Child, c.Prev)
		}
	}
}

func readServed(t *testing.T, path string) []served {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []served
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s served
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		t.Fatalf("%s: the child was served nothing", path)
	}
	return out
}

func oneCreationChild(t *testing.T, child int, dir string) {
	addr := os.Getenv(envAddr)
	start, stop := envTime(t, envStart), envTime(t, envStop)
	raw := rawClient(t, addr)
	near := os.Getenv(envNear) == "1"
	r := region(t, mpExpiration, redis.Name, with(hostPort(t, addr), "distributed_lock", true, "lock_timeout", 10, "near_cache", near))
	if b := driver.Unwrap(r.Backend()).(*redis.Backend); (b.NearCache() != nil) != near {
		t.Fatalf("child %d: near cache %v; want %v", child, b.NearCache() != nil, near)
	}
	ctx := context.Background()

	creator := func(ctx context.Context) (generation, error) {
		c := creation{Child: child, StartNS: time.Now().UnixNano()}
		// Under the distributed lock, the stored value is the one this
		// creation replaces.
		if entry, err := raw.Get(ctx, mpKey).Bytes(); err == nil {
			md, payload, err := driver.DecodeEntry(entry)
			if err != nil {
				return generation{}, err
			}
			var prev generation
			if err := json.Unmarshal(payload, &prev); err != nil {
				return generation{}, err
			}
			c.Prev, c.PrevCT = prev.Gen, md.CreatedAt.UnixNano()
		} else if err != goredis.Nil {
			return generation{}, err
		}
		gen, err := raw.Incr(ctx, mpGenKey).Result()
		if err != nil {
			return generation{}, err
		}
		c.Gen = gen
		time.Sleep(mpCreateTime)
		c.EndNS = time.Now().UnixNano()
		rec, _ := json.Marshal(c)
		if err := raw.RPush(ctx, mpCreations, rec).Err(); err != nil {
			return generation{}, err
		}
		return generation{Gen: gen}, nil
	}

	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("served-%d.jsonl", child)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	defer w.Flush()
	enc := json.NewEncoder(w)

	time.Sleep(time.Until(start))
	for time.Now().Before(stop) {
		v, err := dogpile.GetOrCreate(ctx, r, mpKey, creator)
		if err != nil {
			t.Fatalf("child %d: GetOrCreate: %v", child, err)
		}
		if err := enc.Encode(served{Gen: v.Gen, At: time.Now().UnixNano()}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const (
	killKey     = "mp:killed"
	killEntered = "mp:killed:entered"
	killTimeout = time.Second
)

// TestMultiProcessKilledHolder: a process that holds the distributed lock
// while creating is killed; another process regenerates the key once the
// lock's TTL has passed, and nothing hangs.
func TestMultiProcessKilledHolder(t *testing.T) {
	if _, _, ok := multiproc.Child(); ok {
		killedHolderChild(t)
		return
	}
	t.Parallel()
	srv := testserver.StartRedis(t)
	raw := rawClient(t, srv.Addr)
	ctx := context.Background()
	g := multiproc.Start(t, "TestMultiProcessKilledHolder", 1, envAddr+"="+srv.Addr)

	deadline := time.Now().Add(30 * time.Second)
	for raw.Exists(ctx, killEntered).Val() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the child never started creating:\n%s", g.Output(0))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pttl := raw.PTTL(ctx, "_lock"+killKey).Val(); pttl <= 0 || pttl > killTimeout {
		t.Fatalf("the creating child's lock has PTTL %v; want one within lock_timeout %v", pttl, killTimeout)
	}
	g.Kill(0)
	killed := time.Now()

	r := region(t, time.Minute, redis.Name, with(hostPort(t, srv.Addr), "distributed_lock", true, "lock_timeout", killTimeout.Seconds()))
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := dogpile.GetOrCreate(cctx, r, killKey, func(context.Context) (string, error) { return "regenerated", nil })
	took := time.Since(killed)
	if err != nil || v != "regenerated" {
		t.Fatalf("GetOrCreate after the holder was killed = %q, %v (after %v); want it regenerated", v, err, took)
	}
	if took > killTimeout+3*time.Second {
		t.Errorf("regenerating took %v after the kill; want about lock_timeout (%v)", took, killTimeout)
	}
	if n := raw.Exists(ctx, "_lock"+killKey).Val(); n != 0 {
		t.Errorf("the lock key is left after the regeneration")
	}
	t.Logf("regenerated %v after the holder was killed", took)
}

func killedHolderChild(t *testing.T) {
	addr := os.Getenv(envAddr)
	raw := rawClient(t, addr)
	r := region(t, time.Minute, redis.Name, with(hostPort(t, addr), "distributed_lock", true, "lock_timeout", killTimeout.Seconds()))
	_, err := dogpile.GetOrCreate(context.Background(), r, killKey, func(ctx context.Context) (string, error) {
		if err := raw.Set(ctx, killEntered, "1", 0).Err(); err != nil {
			return "", err
		}
		select {} // until killed
	})
	t.Fatalf("GetOrCreate returned (%v) in the child that should be killed", err)
}
