//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package file

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/multiproc"
)

// lockModes are the two kinds of dogpile lock: per key (open file
// description locks, Linux) and the whole-file flock fallback.
func lockModes(t *testing.T) []struct {
	name string
	opts []Option
} {
	b := open(t, "")
	modes := []struct {
		name string
		opts []Option
	}{{"flock", []Option{withFlock()}}}
	if b.locks.cur.os.perKey() {
		modes = append([]struct {
			name string
			opts []Option
		}{{"ofd", nil}}, modes...)
	}
	return modes
}

func childOpts() []Option {
	if os.Getenv("LOCK_MODE") == "flock" {
		return []Option{withFlock()}
	}
	return nil
}

func acquire(t *testing.T, m driver.Mutex, wait, want bool, what string) {
	t.Helper()
	got, err := m.Acquire(t.Context(), wait)
	if err != nil || got != want {
		t.Fatalf("%s: Acquire(wait=%v) = %v, %v; want %v", what, wait, got, err, want)
	}
}

func wantLocked(t *testing.T, m driver.Mutex, want bool, what string) {
	t.Helper()
	got, err := m.Locked(t.Context())
	if err != nil || got != want {
		t.Errorf("%s: Locked = %v, %v; want %v", what, got, err, want)
	}
}

// TestLockExclusion: 4 processes take one key's lock in turns and log
// their entering and leaving: no two are ever inside at once.
func TestLockExclusion(t *testing.T) {
	const rounds = 15
	if i, dir, ok := multiproc.Child(); ok {
		b, err := Open(filepath.Join(dir, "cache.db"), childOpts()...)
		must(t, err)
		defer b.Close()
		log, err := os.OpenFile(filepath.Join(dir, "log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		must(t, err)
		defer log.Close()
		barrier(t, dir, "open", i)
		for range rounds {
			m := b.Mutex("shared key")
			acquire(t, m, true, true, "the shared key")
			fmt.Fprintf(log, "in %d\n", i)
			time.Sleep(time.Millisecond)
			fmt.Fprintf(log, "out %d\n", i)
			must(t, m.Release(t.Context()))
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		}
		return
	}
	for _, mode := range lockModes(t) {
		t.Run(mode.name, func(t *testing.T) {
			g := multiproc.Start(t, "TestLockExclusion", children, "LOCK_MODE="+mode.name)
			if err := g.Wait(30 * time.Second); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(filepath.Join(g.Dir(), "log"))
			must(t, err)
			defer f.Close()
			var lines, switches int
			inside, previous := "", ""
			for s := bufio.NewScanner(f); s.Scan(); lines++ {
				what, who, _ := strings.Cut(s.Text(), " ")
				switch {
				case what == "in" && inside == "":
					inside = who
					if who != previous {
						switches++
					}
				case what == "out" && inside == who:
					inside, previous = "", who
				default:
					t.Fatalf("line %d: %q while %q holds the lock", lines+1, s.Text(), inside)
				}
			}
			if lines != 2*children*rounds {
				t.Errorf("%d log lines; want %d", lines, 2*children*rounds)
			}
			t.Logf("%d turns, the holder changed %d times", children*rounds, switches)
		})
	}
}

// TestLockKeys: keys are independent across Backends (two descriptors of
// the lock file stand for two processes), but for keys whose slots
// collide; with the flock fallback, a Backend holding any key blocks the
// other Backends' keys, not its own.
func TestLockKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	a, b := open(t, path), open(t, path)
	if !a.locks.cur.os.perKey() {
		t.Skip("no open file description locks here")
	}
	ma := a.Mutex("foo")
	acquire(t, ma, true, true, "foo in a")
	acquire(t, b.Mutex("bar"), false, true, "bar in b while a holds foo")
	acquire(t, b.Mutex("foo"), false, false, "foo in b while a holds it")
	wantLocked(t, b.Mutex("foo"), true, "foo seen from b")
	wantLocked(t, a.Mutex("bar"), true, "bar seen from a")
	wantLocked(t, a.Mutex("baz"), false, "baz")

	// Two keys of one slot share a lock.
	k1, k2 := "key477", "key110310"
	if slotOf(k1) != slotOf(k2) {
		t.Fatalf("slots %d and %d: the slot hash changed; find two keys of one slot again", slotOf(k1), slotOf(k2))
	}
	acquire(t, a.Mutex(k1), false, true, "k1 in a")
	acquire(t, b.Mutex(k2), false, false, fmt.Sprintf("%q in b, whose slot is that of %q, held by a", k2, k1))
	acquire(t, a.Mutex(k2), false, false, fmt.Sprintf("%q in a, whose slot is that of %q, held by a", k2, k1))

	must(t, ma.Release(t.Context()))
	acquire(t, b.Mutex("foo"), false, true, "foo in b after a's release")
	if err := ma.Release(t.Context()); err == nil {
		t.Error("a second Release succeeded")
	}

	// The fallback: the whole file per process.
	fa, fb := open(t, path, withFlock(), WithDogpileLockFile(path+".other")), open(t, path, withFlock(), WithDogpileLockFile(path+".other"))
	acquire(t, fa.Mutex("foo"), false, true, "foo in a (flock)")
	acquire(t, fa.Mutex("bar"), false, true, "bar in a while a holds foo (flock)")
	acquire(t, fb.Mutex("baz"), false, false, "baz in b while a holds keys (flock)")
	wantLocked(t, fb.Mutex("baz"), true, "baz in b while a holds keys (flock)")
	wantLocked(t, fa.Mutex("baz"), false, "baz in a (flock)")
}

// TestLockKilledHolder: a process killed while it holds a key's lock
// leaves it free at once.
func TestLockKilledHolder(t *testing.T) {
	if _, dir, ok := multiproc.Child(); ok {
		b, err := Open(filepath.Join(dir, "cache.db"), childOpts()...)
		must(t, err)
		acquire(t, b.Mutex("key"), true, true, "the key")
		must(t, os.WriteFile(filepath.Join(dir, "held"), nil, 0o600))
		time.Sleep(time.Hour)
	}
	for _, mode := range lockModes(t) {
		t.Run(mode.name, func(t *testing.T) {
			g := multiproc.Start(t, "TestLockKilledHolder", 1, "LOCK_MODE="+mode.name)
			waitFile(t, filepath.Join(g.Dir(), "held"), 20*time.Second, g)
			b := open(t, filepath.Join(g.Dir(), "cache.db"), mode.opts...)
			m := b.Mutex("key")
			wantLocked(t, m, true, "held by the child")
			acquire(t, m, false, false, "held by the child")
			r := dogpile.NewRegion()
			must(t, r.ConfigureBackend(b, dogpile.Config{}))
			if locked, err := r.KeyIsLocked(t.Context(), "key"); err != nil || !locked {
				t.Errorf("KeyIsLocked = %v, %v; want true", locked, err)
			}
			g.Kill(0)
			wantLocked(t, m, false, "after the holder was killed")
			acquire(t, m, false, true, "after the holder was killed")
			must(t, m.Release(t.Context()))
		})
	}
}

// TestLockContext: a waiting Acquire returns as soon as its context ends,
// whether it waits for another process or for a goroutine of its own.
func TestLockContext(t *testing.T) {
	for _, mode := range lockModes(t) {
		t.Run(mode.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cache.db")
			a, b := open(t, path, mode.opts...), open(t, path, mode.opts...)
			acquire(t, a.Mutex("key"), true, true, "the holder")
			for _, tc := range []struct {
				name string
				m    driver.Mutex
			}{{"other Backend", b.Mutex("key")}, {"same Backend", a.Mutex("key")}} {
				for _, cancelled := range []bool{false, true} {
					ctx, cancel := context.WithTimeout(t.Context(), 60*time.Millisecond)
					want := context.DeadlineExceeded
					if cancelled {
						time.AfterFunc(30*time.Millisecond, cancel)
						want = context.Canceled
					}
					start := time.Now()
					ok, err := tc.m.Acquire(ctx, true)
					elapsed := time.Since(start)
					cancel()
					if ok || !errors.Is(err, want) {
						t.Errorf("%s: Acquire = %v, %v; want false, %v", tc.name, ok, err, want)
					}
					// The slack covers a loaded machine's scheduling; the
					// holder never releases, so a wait that ignored its
					// context would never return.
					if limit := 60*time.Millisecond + 250*time.Millisecond; elapsed > limit {
						t.Errorf("%s: Acquire returned %v after its context's %v", tc.name, elapsed, 60*time.Millisecond)
					}
				}
			}
			wantLocked(t, b.Mutex("key"), true, "the holder after the others gave up")
		})
	}
}

// TestOneCreationPerExpiry: regions in 4 processes share one store and
// regenerate one key that expires every 300 ms, each calling it in a loop:
// every value is created once, by one process, after the previous one
// expired.
func TestOneCreationPerExpiry(t *testing.T) {
	const (
		expiry   = 300 * time.Millisecond
		creation = 100 * time.Millisecond
		run      = 2 * time.Second
	)
	if i, dir, ok := multiproc.Child(); ok {
		b, err := Open(filepath.Join(dir, "cache.db"))
		must(t, err)
		r := dogpile.NewRegion()
		must(t, r.ConfigureBackend(b, dogpile.Config{ExpirationTime: expiry}))
		defer r.Close()
		log, err := os.OpenFile(filepath.Join(dir, "creations"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		must(t, err)
		defer log.Close()
		barrier(t, dir, "start", i)
		creator := func(context.Context) (string, error) {
			start := time.Now()
			time.Sleep(creation)
			end := time.Now()
			fmt.Fprintf(log, "%d %d %d\n", start.UnixNano(), end.UnixNano(), i)
			return fmt.Sprintf("%d by %d", start.UnixNano(), i), nil
		}
		for end := time.Now().Add(run); time.Now().Before(end); {
			if _, err := dogpile.GetOrCreate(t.Context(), r, "key", creator); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		return
	}
	g := multiproc.Start(t, "TestOneCreationPerExpiry", children)
	if err := g.Wait(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(g.Dir(), "creations"))
	must(t, err)
	type creationLog struct {
		start, end int64
		child      string
	}
	var cs []creationLog
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var c creationLog
		if _, err := fmt.Sscan(line, &c.start, &c.end, &c.child); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b creationLog) int { return cmp.Compare(a.start, b.start) })
	by := map[string]int{}
	generations := 0
	for i, c := range cs {
		by[c.child]++
		if i == 0 {
			generations++
			continue
		}
		// The value stored at the end of the previous creation was fresh
		// for expiry; a tolerance covers the wire format's microseconds.
		gap := time.Duration(c.start - cs[i-1].end)
		switch {
		case gap < 0:
			t.Errorf("creation %d by child %s began %v before creation %d by child %s ended: two creators at once",
				i, c.child, -gap, i-1, cs[i-1].child)
		case gap >= expiry-2*time.Millisecond:
			generations++
		default:
			t.Errorf("creation %d by child %s began %v after creation %d by child %s ended; want one creation per expiry (%v)",
				i, c.child, gap, i-1, cs[i-1].child, expiry)
		}
	}
	if min := int(run / (expiry + creation + 100*time.Millisecond)); generations < min {
		t.Errorf("%d generations in %v; want at least %d", generations, run, min)
	}
	t.Logf("%d generations, %d creations, by child: %v", generations, len(cs), by)
}
