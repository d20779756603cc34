package memcached

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/internal/multiproc"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// The multi-process tests re-run this test binary (internal/multiproc):
// the children find the server, the keys and what to do in the
// environment.
const (
	envAddr  = "DOGPILE_MEMCACHED_TEST_ADDR"
	envMode  = "DOGPILE_MEMCACHED_TEST_MODE"
	envKey   = "DOGPILE_MEMCACHED_TEST_KEY"
	envStart = "DOGPILE_MEMCACHED_TEST_START"
)

const (
	mpExpiration = time.Second             // region expiration in the children
	mpRun        = 4500 * time.Millisecond // how long the children loop
	mpCreate     = 200 * time.Millisecond  // how long a creation takes
)

// generation is the value the children cache: which creation made it.
type generation struct {
	Gen     uint64 // the counter's value after this creation's increment
	Child   int
	Created int64 // unix nanoseconds
}

// creation is what a creator saw: the generation it made, and the one it
// replaced, read from the server under the lock.
type creation struct {
	Gen         uint64
	Child       int
	Start       int64  // unix nanoseconds
	Prev        uint64 // 0: none
	PrevCreated int64
}

// serve is one GetOrCreate call of a child.
type serve struct {
	Start  int64 // unix nanoseconds
	Took   time.Duration
	Gen    uint64
	Maker  int    // the child whose creation made the value
	Age    int64  // nanoseconds between the value's creation and the call
	Result string // as the region's observer reported it: hit, stale, created, waited
	// LockWait reports that the call waited on the distributed lock: the
	// region does so only when it found no value at all.
	LockWait bool
	Reads    []string // what the region's reads of the key found, for messages
}

type childReport struct {
	Creations []creation
	Serves    []serve
}

// TestMultiProcess runs the distributed dogpile lock across processes.
func TestMultiProcess(t *testing.T) {
	if i, dir, ok := multiproc.Child(); ok {
		switch os.Getenv(envMode) {
		case "dogpile":
			childDogpile(t, i, dir)
		case "holder":
			childHolder(t, dir)
		default:
			t.Fatalf("unknown mode %q", os.Getenv(envMode))
		}
		return
	}
	m := testserver.StartMemcached(t)
	t.Run("OneCreatorPerExpiry", func(t *testing.T) { testOneCreatorPerExpiry(t, m) })
	t.Run("KilledHolder", func(t *testing.T) { testKilledHolder(t, m) })
}

// childArgs configure the backends of the multi-process tests. Their
// server-side TTL is fixed and far beyond a run: memcached's clock ticks
// once a second and lags under load, so a TTL derived from the tests'
// one-second expiration (3 s) could drop a value the tests expect to be
// served stale. TestServerTTL checks the derived TTL.
func childArgs(addr string, lockTimeout any) driver.Arguments {
	return driver.Arguments{"url": addr, "distributed_lock": true, "lock_timeout": lockTimeout, "memcached_expire_time": 60}
}

// testOneCreatorPerExpiry: 4 processes call GetOrCreate on one key in a
// loop across several expiries. Each creator counts itself on the server
// and records the generation it replaced: exactly one creation per expiry,
// each replacing an expired value, and the other processes are served the
// expired value while it runs.
func testOneCreatorPerExpiry(t *testing.T, m *testserver.Memcached) {
	const children = 4
	key := keyPrefix(t) + "shared"
	raw := rawClient(t, m.Addr)
	if err := raw.Set(memcacheItem(key+":counter", "0")); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(time.Second) // time for the children to start
	g := multiproc.Start(t, "TestMultiProcess", children,
		envAddr+"="+m.Addr, envMode+"=dogpile", envKey+"="+key, envStart+"="+strconv.FormatInt(start.UnixNano(), 10))
	if err := g.Wait(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	var creations []creation
	reports := make([]childReport, children)
	for i := range children {
		data, err := os.ReadFile(filepath.Join(g.Dir(), fmt.Sprintf("report-%d.json", i)))
		if err != nil {
			t.Fatalf("child %d wrote no report: %v\n%s", i, err, g.Output(i))
		}
		if err := json.Unmarshal(data, &reports[i]); err != nil {
			t.Fatal(err)
		}
		creations = append(creations, reports[i].Creations...)
	}
	slices.SortFunc(creations, func(a, b creation) int { return int(a.Gen) - int(b.Gen) })
	t.Logf("%d creations across %d processes", len(creations), children)
	if len(creations) < 3 {
		t.Errorf("%d creations in %v with values expiring after %v; want at least 3", len(creations), mpRun, mpExpiration)
	}
	for j, c := range creations {
		switch {
		case c.Gen != uint64(j+1):
			t.Errorf("creation %d has generation %d: the counter was incremented outside a recorded creation", j+1, c.Gen)
		case c.Prev != c.Gen-1:
			t.Errorf("generation %d (child %d) replaced generation %d; want %d", c.Gen, c.Child, c.Prev, c.Gen-1)
		case c.Prev != 0 && time.Duration(c.Start-c.PrevCreated) < mpExpiration-50*time.Millisecond:
			t.Errorf("generation %d (child %d) started %v after generation %d was created: two creations for one expiry",
				c.Gen, c.Child, time.Duration(c.Start-c.PrevCreated), c.Prev)
		}
	}
	stale, lockWaits := 0, 0
	for i, rep := range reports {
		last, created := uint64(0), 0
		for _, s := range rep.Serves {
			if s.Gen < last {
				t.Errorf("child %d was served generation %d after generation %d", i, s.Gen, last)
			}
			last = max(last, s.Gen)
			switch s.Result {
			case "stale":
				stale++
				// The region read the value at some point of the call:
				// expired by the call's end at the latest.
				if time.Duration(s.Age)+s.Took <= mpExpiration {
					t.Errorf("child %d: generation %d, %v old when the call began, served as stale by a call of %v", i, s.Gen, time.Duration(s.Age), s.Took)
				}
			case "created":
				created++
				if s.Maker != i {
					t.Errorf("child %d created generation %d, made by child %d", i, s.Gen, s.Maker)
				}
			case "waited":
				// The value another process created: waited for (the first
				// value only), or found on the re-read after taking the
				// lock that process had just released.
			case "hit":
				if time.Duration(s.Age) > mpExpiration+100*time.Millisecond {
					t.Errorf("child %d: generation %d, %v old, served as a fresh hit", i, s.Gen, time.Duration(s.Age))
				}
			default:
				t.Errorf("child %d: GetOrCreate result %q", i, s.Result)
			}
			// Only the first value is waited for: afterwards a caller that
			// finds the expired value creates, or is served it at once.
			if s.LockWait {
				lockWaits++
			}
			if s.LockWait && s.Gen != 1 {
				t.Errorf("child %d waited on the lock for %v, for generation %d (%s; reads: %q); want the expired value at once",
					i, s.Took, s.Gen, s.Result, s.Reads)
			}
		}
		if n := countCreations(creations, i); created != n {
			t.Errorf("child %d: %d calls created a value, %d creations recorded", i, created, n)
		}
	}
	if stale == 0 {
		t.Error("no process was served an expired value while another regenerated it")
	}
	if lockWaits == 0 {
		// The processes start together and find no value: all but the
		// creator wait on the lock. Without this, the check above is void.
		t.Error("no call waited on the lock for the first value; is OpLockWait still observed?")
	}
	t.Logf("%d calls were served an expired value during a regeneration", stale)
}

func childDogpile(t *testing.T, i int, dir string) {
	addr, key := os.Getenv(envAddr), os.Getenv(envKey)
	startNS, _ := strconv.ParseInt(os.Getenv(envStart), 10, 64)
	b := open(t, childArgs(addr, 5))
	spy := &readSpy{ProxyBackend: &driver.ProxyBackend{Next: b}}
	var (
		result   observe.Result // of the last GetOrCreate, set on this goroutine
		lockWait atomic.Bool    // set by the creation's goroutine
	)
	observer := observe.Func(func(_ context.Context, e observe.Event) {
		switch e.Op {
		case observe.OpGetOrCreate:
			result = e.Results[0]
		case observe.OpLockWait:
			if e.Err == nil {
				lockWait.Store(true)
			}
		}
	})
	r := region(t, spy, mpExpiration, dogpile.WithObserver(observer),
		dogpile.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	ctx := t.Context()
	var rep childReport
	creator := func(ctx context.Context) (generation, error) {
		c := creation{Child: i, Start: time.Now().UnixNano()}
		// What the lock protects: the value as the server holds it now.
		if data, ok, err := b.GetBytes(ctx, key); err != nil {
			return generation{}, err
		} else if ok {
			_, payload, err := driver.DecodeEntry(data)
			var prev generation
			if err == nil {
				err = json.Unmarshal(payload, &prev)
			}
			if err != nil {
				return generation{}, err
			}
			c.Prev, c.PrevCreated = prev.Gen, prev.Created
		}
		n, err := b.Client().Increment(key+":counter", 1)
		if err != nil {
			return generation{}, err
		}
		c.Gen = n
		rep.Creations = append(rep.Creations, c)
		time.Sleep(mpCreate)
		return generation{Gen: n, Child: i, Created: time.Now().UnixNano()}, nil
	}
	time.Sleep(time.Until(time.Unix(0, startNS)))
	end := time.Unix(0, startNS).Add(mpRun)
	for time.Now().Before(end) {
		t0 := time.Now()
		spy.mu.Lock()
		spy.reads = nil
		spy.mu.Unlock()
		lockWait.Store(false)
		v, err := dogpile.GetOrCreate(ctx, r, key, creator)
		if err != nil {
			t.Fatalf("child %d: GetOrCreate: %v", i, err)
		}
		rep.Serves = append(rep.Serves, serve{Start: t0.UnixNano(), Took: time.Since(t0), Gen: v.Gen, Maker: v.Child,
			Age: t0.UnixNano() - v.Created, Result: result.String(),
			LockWait: lockWait.Load(), Reads: spy.Reads()})
		time.Sleep(15 * time.Millisecond)
	}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("report-%d.json", i)), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// testKilledHolder: a process holding the lock for two keys in creators
// that never return is killed. Meanwhile another process is served the
// expired value of the first key; after lock_timeout the locks expire and
// it regenerates both keys, the second of which it was waiting for.
func testKilledHolder(t *testing.T, m *testserver.Memcached) {
	key := keyPrefix(t) + "held"
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	b := open(t, childArgs(m.Addr, 1))
	// An expired value of the first key, written by a region whose clock
	// is an hour behind.
	old := region(t, b, mpExpiration, dogpile.WithClock(func() time.Time { return time.Now().Add(-time.Hour) }))
	if err := old.Set(ctx, key+":stale", "old"); err != nil {
		t.Fatal(err)
	}
	g := multiproc.Start(t, "TestMultiProcess", 1, envAddr+"="+m.Addr, envMode+"=holder", envKey+"="+key)
	holding := filepath.Join(g.Dir(), "holding")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n, _ := os.ReadFile(holding); string(n) == "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the holder never started creating\n%s", g.Output(0))
		}
	}
	r := region(t, b, mpExpiration)
	for _, k := range []string{key + ":stale", key + ":absent"} {
		if locked, err := r.KeyIsLocked(ctx, k); !locked || err != nil {
			t.Fatalf("KeyIsLocked(%s) while the holder creates = %v, %v", k, locked, err)
		}
	}
	g.Kill(0)
	killed := time.Now()

	regenerated := func(context.Context) (string, error) { return "regenerated", nil }
	absent := make(chan error, 1)
	go func() {
		v, err := dogpile.GetOrCreate(ctx, r, key+":absent", regenerated)
		if err == nil && v != "regenerated" {
			err = fmt.Errorf("got %q", v)
		}
		absent <- err
	}()
	for {
		t0 := time.Now()
		v, err := dogpile.GetOrCreate(ctx, r, key+":stale", regenerated)
		if err != nil {
			t.Fatal(err)
		}
		within(t, "GetOrCreate of a key whose creator was killed", time.Since(t0), 500*time.Millisecond)
		if v == "regenerated" {
			break
		}
		if v != "old" {
			t.Fatalf("GetOrCreate = %q; want the expired value or a new one", v)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := <-absent; err != nil {
		t.Errorf("GetOrCreate of the key with no value, waiting on the dead holder's lock: %v", err)
	}
	// The lock lives 1 s + 1 s for memcached's clock; waiters poll at most
	// every 500 ms. Without a TTL the lock would never go away.
	within(t, "regenerating after the holder was killed", time.Since(killed), 4*time.Second)
}

func childHolder(t *testing.T, dir string) {
	addr, key := os.Getenv(envAddr), os.Getenv(envKey)
	b := open(t, childArgs(addr, 1))
	r := region(t, b, mpExpiration)
	holding := make(chan struct{}, 2)
	block := func(context.Context) (string, error) {
		holding <- struct{}{}
		select {} // until killed
	}
	for _, k := range []string{key + ":stale", key + ":absent"} {
		go func() { _, _ = dogpile.GetOrCreate(context.Background(), r, k, block) }()
	}
	<-holding
	<-holding
	if err := os.WriteFile(filepath.Join(dir, "holding"), []byte("2"), 0o600); err != nil {
		t.Error(err)
	}
	time.Sleep(time.Minute)
	t.Error(errors.New("the holder was not killed"))
}

func countCreations(cs []creation, child int) int {
	n := 0
	for _, c := range cs {
		if c.Child == child {
			n++
		}
	}
	return n
}

// readSpy records what the region's reads found: the generation and its
// age, or a miss.
type readSpy struct {
	*driver.ProxyBackend
	mu    sync.Mutex
	reads []string
}

func (s *readSpy) GetBytes(ctx context.Context, key string) ([]byte, bool, error) {
	data, ok, err := s.ProxyBackend.GetBytes(ctx, key)
	desc := "miss"
	switch {
	case err != nil:
		desc = "error: " + err.Error()
	case ok:
		var g generation
		md, payload, derr := driver.DecodeEntry(data)
		if derr == nil {
			derr = json.Unmarshal(payload, &g)
		}
		desc = fmt.Sprintf("generation %d, %v old", g.Gen, time.Since(md.CreatedAt).Round(time.Millisecond))
		if derr != nil {
			desc = fmt.Sprintf("undecodable %q: %v", data, derr)
		}
	}
	s.mu.Lock()
	s.reads = append(s.reads, time.Now().Format("15:04:05.000")+" "+desc)
	s.mu.Unlock()
	return data, ok, err
}

// Reads returns what the reads since the last reset found.
func (s *readSpy) Reads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reads)
}
