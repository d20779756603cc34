//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile/dogpiletest"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// open opens a store in dir (a new temporary directory when empty) and
// closes it when the test ends.
func open(t testing.TB, path string, opts ...Option) *Backend {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "cache.db")
	}
	b, err := Open(path, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func withFlock() Option { return func(c *config) { c.forceFlock = true } }

func TestConformance(t *testing.T) {
	// Every subtest's backend opens the same store: the suite's subtests
	// then also run against a store other Backends wrote.
	shared := filepath.Join(t.TempDir(), "cache.db")
	t.Run("Default", func(t *testing.T) {
		dogpiletest.TestBackend(t, dogpiletest.Options{
			New: func(t *testing.T) driver.Backend { return open(t, shared) },
		})
	})
	t.Run("NoLockFiles", func(t *testing.T) {
		// Without a read-write lock a store belongs to one Backend: each
		// gets its own.
		dogpiletest.TestBackend(t, dogpiletest.Options{
			New: func(t *testing.T) driver.Backend {
				b, err := driver.Open(Name, driver.Arguments{
					"filename":         filepath.Join(t.TempDir(), "cache.db"),
					"rw_lockfile":      false,
					"dogpile_lockfile": false,
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { b.(*Backend).Close() })
				return b
			},
		})
	})
	t.Run("Proxy", func(t *testing.T) {
		dogpiletest.TestBackend(t, dogpiletest.Options{
			New: func(t *testing.T) driver.Backend {
				return &driver.ProxyBackend{Next: open(t, shared)}
			},
		})
	})
	t.Run("FlockFallback", func(t *testing.T) {
		dogpiletest.TestBackend(t, dogpiletest.Options{
			New: func(t *testing.T) driver.Backend { return open(t, shared, withFlock()) },
		})
	})
}

func TestArguments(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	abs := func(name string) string { return filepath.Join(dir, name) }
	for _, tc := range []struct {
		name         string
		args         driver.Arguments
		path, rw, dl string // "" for none
		err          string
	}{
		{"defaults", driver.Arguments{"filename": abs("a.db")}, abs("a.db"), abs("a.db.rw.lock"), abs("a.db.dogpile.lock"), ""},
		{"relative filename", driver.Arguments{"filename": "b.db"}, abs("b.db"), abs("b.db.rw.lock"), abs("b.db.dogpile.lock"), ""},
		{"nil means default", driver.Arguments{"filename": "c.db", "rw_lockfile": nil, "dogpile_lockfile": nil}, abs("c.db"), abs("c.db.rw.lock"), abs("c.db.dogpile.lock"), ""},
		{"false", driver.Arguments{"filename": "d.db", "rw_lockfile": false, "dogpile_lockfile": false}, abs("d.db"), "", "", ""},
		{"string false", driver.Arguments{"filename": "e.db", "rw_lockfile": "False", "dogpile_lockfile": "false"}, abs("e.db"), "", "", ""},
		{"true means default", driver.Arguments{"filename": "f.db", "rw_lockfile": true}, abs("f.db"), abs("f.db.rw.lock"), abs("f.db.dogpile.lock"), ""},
		{"paths", driver.Arguments{"filename": "g.db", "rw_lockfile": "locks/rw", "dogpile_lockfile": abs("locks/dp")}, abs("g.db"), abs("locks/rw"), abs("locks/dp"), ""},
		{"lock_factory ignored", driver.Arguments{"filename": "h.db", "lock_factory": "MutexLock"}, abs("h.db"), abs("h.db.rw.lock"), abs("h.db.dogpile.lock"), ""},
		{"missing filename", driver.Arguments{}, "", "", "", `argument "filename" is required`},
		{"empty filename", driver.Arguments{"filename": " "}, "", "", "", `argument "filename" is required`},
		{"unknown argument", driver.Arguments{"filename": "i.db", "fsync": true}, "", "", "", `unknown arguments ["fsync"]`},
		{"bad lock value", driver.Arguments{"filename": "j.db", "rw_lockfile": 3}, "", "", "", `argument "rw_lockfile" is int 3`},
		{"empty lock path", driver.Arguments{"filename": "k.db", "dogpile_lockfile": ""}, "", "", "", `argument "dogpile_lockfile" is string "", want a path or false`},
		{"same lock files", driver.Arguments{"filename": "l.db", "rw_lockfile": "x.lock", "dogpile_lockfile": "x.lock"}, "", "", "", "must differ"},
		{"lock file is the store", driver.Arguments{"filename": "m.db", "rw_lockfile": "m.db"}, "", "", "", "cannot be the store"},
		{"directory filename", driver.Arguments{"filename": "n/"}, "", "", "", `store file "n/" names a directory`},
		{"directory lock file", driver.Arguments{"filename": "o.db", "rw_lockfile": "locks/.."}, "", "", "", `read-write lock file "locks/.." names a directory`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rw != "" {
				os.MkdirAll(filepath.Dir(tc.rw), 0o700)
			}
			got, err := driver.Open(Name, tc.args)
			if tc.err != "" {
				// driver.Open names the backend; the factory adds nothing.
				const prefix = Name + ": invalid argument: "
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), prefix) ||
					strings.Contains(err.Error(), "file: ") || strings.Contains(err.Error(), "dogpile/") {
					t.Fatalf("err = %v; want %q and a cause saying %q, with no other prefix", err, prefix, tc.err)
				}
				if !errors.Is(err, driver.ErrInvalidArgument) {
					t.Errorf("err = %v; want it to wrap driver.ErrInvalidArgument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b := got.(*Backend)
			defer b.Close()
			if b.path != tc.path || b.rwPath != tc.rw || b.lockPath != tc.dl {
				t.Errorf("paths = %q, %q, %q; want %q, %q, %q", b.path, b.rwPath, b.lockPath, tc.path, tc.rw, tc.dl)
			}
			for _, p := range []string{tc.path, tc.rw, tc.dl} {
				if _, err := os.Stat(p); p != "" && err != nil {
					t.Errorf("%s was not created: %v", p, err)
				}
			}
			if (b.Mutex("k") == nil) != (tc.dl == "") {
				t.Errorf("Mutex = %v with dogpile lock file %q", b.Mutex("k"), tc.dl)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	b := open(t, filepath.Join(dir, "a.db"), WithRWLockFile(filepath.Join(dir, "rw")), WithoutDogpileLockFile(), WithFileMode(0o640))
	if b.rwPath != filepath.Join(dir, "rw") || b.lockPath != "" || b.Mutex("k") != nil {
		t.Errorf("rw %q, dogpile %q", b.rwPath, b.lockPath)
	}
	if fi, err := os.Stat(b.Path()); err != nil || fi.Mode().Perm()&^0o640 != 0 {
		t.Errorf("store mode: %v %v", fi.Mode(), err)
	}
	b2 := open(t, filepath.Join(dir, "b.db"), WithoutRWLockFile(), WithDogpileLockFile("b.lock"), WithCompactionThreshold(0))
	if b2.rwPath != "" || b2.lockPath != filepath.Join(dir, "b.lock") || b2.compactMin != 0 {
		t.Errorf("rw %q, dogpile %q, compaction threshold %d", b2.rwPath, b2.lockPath, b2.compactMin)
	}
	b3 := open(t, filepath.Join(dir, "c.db"), WithoutDogpileLockFile(), WithDogpileLockFile(filepath.Join(dir, "c.lock")), WithCompactionThreshold(math.MaxInt64))
	if b3.lockPath != filepath.Join(dir, "c.lock") || b3.rwPath != filepath.Join(dir, "c.db.rw.lock") || b3.compactMin != math.MaxInt64 {
		t.Errorf("the later option does not win: rw %q, dogpile %q, compaction threshold %d", b3.rwPath, b3.lockPath, b3.compactMin)
	}
}

// TestOptionErrors: options and file names that cannot work are errors
// wrapping driver.ErrInvalidArgument, found before anything is created.
func TestOptionErrors(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "cache.db")
	for _, tc := range []struct {
		name     string
		filename string
		opts     []Option
		want     string
	}{
		{"empty name", "", nil, "empty store file name"},
		{"blank name", "  ", nil, "empty store file name"},
		{"directory", dir + "/", nil, "names a directory"},
		{"dot dot", filepath.Join(dir, "x") + "/..", nil, "names a directory"},
		{"NUL", store + "\x00", nil, "holds a NUL byte"},
		{"nil option", store, []Option{WithSyncWrites(), nil}, "nil Option"},
		{"negative threshold", store, []Option{WithCompactionThreshold(-1)}, "compaction threshold -1, want 0 or more bytes"},
		{"read-only mode", store, []Option{WithFileMode(0o400)}, "file mode 0400, want one that lets the owner read and write"},
		{"group-only mode", store, []Option{WithFileMode(0o060)}, "file mode 060"},
		{"not a permission", store, []Option{WithFileMode(os.ModeDir | 0o600)}, "want permission bits only"},
		{"empty rw lock file", store, []Option{WithRWLockFile("")}, "empty read-write lock file name"},
		{"blank dogpile lock file", store, []Option{WithDogpileLockFile(" ")}, "empty dogpile lock file name"},
		{"directory lock file", store, []Option{WithDogpileLockFile(dir + "/")}, "dogpile lock file"},
		{"lock file is the store", store, []Option{WithDogpileLockFile(store)}, "cannot be the store itself"},
		{"same lock files", store, []Option{WithRWLockFile(store + ".l"), WithDogpileLockFile(store + ".l")}, "must differ"},
	} {
		b, err := Open(tc.filename, tc.opts...)
		if b != nil {
			b.Close()
		}
		const prefix = "file: invalid argument: "
		if !errors.Is(err, driver.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Open = %v; want an error wrapping driver.ErrInvalidArgument, %q and %q", tc.name, err, prefix, tc.want)
		}
	}
	if names := mustReadDir(t, dir); len(names) != 0 {
		t.Errorf("refused options left files behind: %q", names)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	check := func(name string, err error, want string, is error) {
		t.Helper()
		if err == nil || !strings.HasPrefix(err.Error(), "file: ") || !strings.Contains(err.Error(), want) ||
			strings.Contains(err.Error(), "dogpile/") {
			t.Errorf("%s: err = %v; want one prefixed file: saying %q", name, err, want)
		}
		if is != nil && !errors.Is(err, is) {
			t.Errorf("%s: err = %v; want it to wrap %v", name, err, is)
		}
	}
	_, err := Open(filepath.Join(dir, "missing", "cache.db"))
	check("missing directory", err, "no such file or directory", os.ErrNotExist)
	_, err = Open(dir)
	check("a directory", err, "is a directory", nil)

	foreign := filepath.Join(dir, "foreign.db")
	os.WriteFile(foreign, []byte("GDBM file of somebody else"), 0o600)
	_, err = Open(foreign)
	check("foreign file", err, "unknown header", ErrFormat)
	if b, _ := os.ReadFile(foreign); string(b) != "GDBM file of somebody else" {
		t.Errorf("a foreign file was modified: %q", b)
	}
	future := filepath.Join(dir, "future.db")
	h := header()
	h[8] = 9
	os.WriteFile(future, h, 0o600)
	_, err = Open(future)
	check("future version", err, "format version 9", ErrFormat)

	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o500)
		_, err = Open(filepath.Join(ro, "cache.db"))
		check("unwritable directory", err, "permission denied", os.ErrPermission)
	}

	// A store interrupted while its header was written is started again.
	partial := filepath.Join(dir, "partial.db")
	os.WriteFile(partial, []byte(magic[:5]), 0o600)
	b := open(t, partial)
	if err := b.SetBytes(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	b2 := open(t, partial)
	if v, ok, err := b2.GetBytes(t.Context(), "k"); err != nil || !ok || string(v) != "v" {
		t.Errorf("GetBytes = %q, %v, %v", v, ok, err)
	}
}

func TestClosed(t *testing.T) {
	b := open(t, "")
	ctx := t.Context()
	m := b.Mutex("k")
	if ok, err := m.Acquire(ctx, true); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, _, err := b.GetBytes(ctx, "k"); !errors.Is(err, ErrClosed) {
		t.Errorf("GetBytes after Close: %v", err)
	}
	if _, err := b.GetBytesMulti(ctx, []string{"k"}); !errors.Is(err, ErrClosed) {
		t.Errorf("GetBytesMulti after Close: %v", err)
	}
	if err := b.SetBytes(ctx, "k", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("SetBytes after Close: %v", err)
	}
	if err := b.Compact(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Compact after Close: %v", err)
	}
	if err := m.Release(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Release after Close: %v", err)
	}
	if _, err := b.Mutex("j").Acquire(ctx, false); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close: %v", err)
	}
	if _, err := b.Mutex("j").Locked(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Locked after Close: %v", err)
	}
}

// TestPersistence: values, overwrites and deletes survive a reopen, and two
// Backends on one store see each other's writes at once.
func TestPersistence(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cache.db")
	a, b := open(t, path), open(t, path)
	must(t, a.SetBytes(ctx, "k1", []byte("v1")))
	must(t, a.SetBytesMulti(ctx, []driver.BytesItem{{Key: "k2", Value: []byte("v2")}, {Key: "k3", Value: []byte{}}}))
	wantGet(t, b, "k1", "v1")
	wantGet(t, b, "k3", "")
	must(t, b.SetBytes(ctx, "k1", []byte("v1'")))
	must(t, b.Delete(ctx, "k2"))
	wantGet(t, a, "k1", "v1'")
	wantMiss(t, a, "k2")
	a.Close()
	c := open(t, path)
	wantGet(t, c, "k1", "v1'")
	wantMiss(t, c, "k2")
	wantGet(t, c, "k3", "")
	got, err := c.GetBytesMulti(ctx, []string{"k3", "k2", "k1"})
	if err != nil || len(got) != 3 || got[0] == nil || len(got[0]) != 0 || got[1] != nil || string(got[2]) != "v1'" {
		t.Errorf("GetBytesMulti = %q, %v", got, err)
	}
	// Deleting what is not stored writes nothing.
	size := fileSize(t, path)
	must(t, c.DeleteMulti(ctx, []string{"k2", "nope"}))
	if s := fileSize(t, path); s != size {
		t.Errorf("deleting missing keys grew the store from %d to %d bytes", size, s)
	}
}

// TestCompaction: a store mostly of old values is rewritten with its live
// entries only; Backends that had it open go on reading the right values.
func TestCompaction(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cache.db")
	a := open(t, path, WithCompactionThreshold(16<<10))
	other := open(t, path, WithCompactionThreshold(math.MaxInt64))
	value := func(k, r int) []byte { return fmt.Appendf(bytes.Repeat([]byte{'x'}, 500), "%d/%d", k, r) }
	for r := range 20 {
		for k := range 10 {
			must(t, a.SetBytes(ctx, fmt.Sprint(k), value(k, r)))
		}
		if r == 5 {
			must(t, a.Delete(ctx, "9"))
		}
	}
	if a.compactions.Load() == 0 {
		t.Fatalf("no compaction: store of %d bytes, %d live", a.end, a.live)
	}
	if size := fileSize(t, path); size > 2*(16<<10) {
		t.Errorf("store of %d bytes after compaction", size)
	}
	for k := range 10 {
		wantGet(t, other, fmt.Sprint(k), string(value(k, 19)))
	}
	n := a.compactions.Load()
	must(t, a.Compact(ctx))
	if a.compactions.Load() != n+1 {
		t.Error("Compact did not compact")
	}
	live := a.live
	if size := fileSize(t, path); size != headerSize+live {
		t.Errorf("store of %d bytes after Compact; want %d", size, headerSize+live)
	}
	for k := range 10 {
		wantGet(t, other, fmt.Sprint(k), string(value(k, 19)))
	}
	must(t, other.SetBytes(ctx, "new", []byte("value")))
	wantGet(t, a, "new", "value")
	for _, e := range mustReadDir(t, filepath.Dir(path)) {
		if strings.Contains(e, ".compact-") {
			t.Errorf("temporary file %s left behind", e)
		}
	}
}

// TestReplacedStore: a store deleted by hand is created again by the next
// writer, and Backends still reading the old file move over.
func TestReplacedStore(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cache.db")
	a, b := open(t, path), open(t, path)
	must(t, a.SetBytes(ctx, "k", []byte("old")))
	wantGet(t, b, "k", "old")
	must(t, os.Remove(path))
	must(t, a.SetBytes(ctx, "k2", []byte("new")))
	wantMiss(t, b, "k")
	wantGet(t, b, "k2", "new")
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantGet(t testing.TB, b *Backend, key, want string) {
	t.Helper()
	v, ok, err := b.GetBytes(context.Background(), key)
	if err != nil || !ok || string(v) != want {
		t.Errorf("GetBytes(%q) = %.40q, %v, %v; want %.40q", key, v, ok, err, want)
	}
}

func wantMiss(t testing.TB, b *Backend, key string) {
	t.Helper()
	v, ok, err := b.GetBytes(context.Background(), key)
	if err != nil || ok {
		t.Errorf("GetBytes(%q) = %.40q, %v, %v; want a miss", key, v, ok, err)
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func mustReadDir(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestConcurrentBackends: goroutines on two Backends of one store read,
// write, delete and compact at once; every value read is whole, and a
// goroutine's own key never goes back to an older round.
func TestConcurrentBackends(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cache.db")
	backends := []*Backend{open(t, path, WithCompactionThreshold(8<<10)), open(t, path, WithCompactionThreshold(8<<10))}
	const goroutines = 8
	value := func(g, n int) []byte {
		return fmt.Appendf(nil, "%d/%d|%s", g, n, strings.Repeat("v", (g*31+n)%200))
	}
	parse := func(v []byte) (g, n int, err error) {
		if _, err := fmt.Sscanf(string(v), "%d/%d|", &g, &n); err != nil {
			return 0, 0, fmt.Errorf("malformed %.30q", v)
		}
		if !bytes.Equal(v, value(g, n)) {
			return 0, 0, fmt.Errorf("mixed value %.30q", v)
		}
		return g, n, nil
	}
	done := make(chan error, goroutines)
	deadline := time.Now().Add(300 * time.Millisecond)
	for g := range goroutines {
		go func() {
			b := backends[g%2]
			key := fmt.Sprintf("g%d", g)
			var err error
			for n := 1; err == nil && time.Now().Before(deadline); n++ {
				switch n % 7 {
				case 0:
					err = b.SetBytesMulti(ctx, []driver.BytesItem{{Key: key, Value: value(g, n)}, {Key: "shared", Value: value(g, n)}})
				case 3:
					err = b.DeleteMulti(ctx, []string{"scratch" + key, "nope"})
				case 5:
					if g == 0 {
						err = b.Compact(ctx)
					}
				default:
					err = b.SetBytes(ctx, key, value(g, n))
				}
				if err != nil {
					break
				}
				v, ok, gerr := b.GetBytes(ctx, key)
				switch {
				case gerr != nil:
					err = gerr
				case !ok:
					err = fmt.Errorf("goroutine %d: own key missing", g)
				default:
					if _, got, perr := parse(v); perr != nil {
						err = perr
					} else if got != n && n%7 != 3 && n%7 != 5 {
						err = fmt.Errorf("goroutine %d: own key at round %d after writing round %d", g, got, n)
					}
				}
				vs, merr := backends[(g+1)%2].GetBytesMulti(ctx, []string{"shared", "g0", "g1", "missing"})
				if merr != nil {
					err = merr
				}
				for _, v := range vs {
					if v != nil {
						if _, _, perr := parse(v); perr != nil {
							err = perr
						}
					}
				}
				_ = b.SetBytes(ctx, "scratch"+key, value(g, n))
			}
			done <- err
		}()
	}
	for range goroutines {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d compactions", backends[0].compactions.Load()+backends[1].compactions.Load())
}
