//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package file

// An operator deleting or truncating the store (or its lock files) while
// processes have it open: a read returns the value written under its key
// or a miss, never another value, and the store is never refused.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// clearings are the ways an operator empties a store by hand; recs holds
// the offsets of the records of "k0" and "k1", written first.
var clearings = []struct {
	name  string
	clear func(t *testing.T, path string, recs []int64)
	keeps bool // "k0" survives
}{
	{"rm", func(t *testing.T, path string, _ []int64) { must(t, os.Remove(path)) }, false},
	{"truncate to 0", func(t *testing.T, path string, _ []int64) { must(t, os.Truncate(path, 0)) }, false},
	{"truncate to 5", func(t *testing.T, path string, _ []int64) { must(t, os.Truncate(path, 5)) }, false},
	{"truncate to 12", func(t *testing.T, path string, _ []int64) { must(t, os.Truncate(path, 12)) }, false},
	{"truncate to the header", func(t *testing.T, path string, _ []int64) { must(t, os.Truncate(path, headerSize)) }, false},
	{"truncate inside k0", func(t *testing.T, path string, recs []int64) { must(t, os.Truncate(path, recs[0]+7)) }, false},
	{"truncate after k0", func(t *testing.T, path string, recs []int64) { must(t, os.Truncate(path, recs[1])) }, true},
	{"truncate inside k1", func(t *testing.T, path string, recs []int64) { must(t, os.Truncate(path, recs[1]+3)) }, true},
}

// TestClearedStore: after each kind of clearing, the next write is read
// back right by its writer and by a reader, and survives the writes after
// it; the values the clearing removed are misses.
func TestClearedStore(t *testing.T) {
	ctx := t.Context()
	for _, c := range clearings {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cache.db")
			w, r := open(t, path), open(t, path)
			recs := []int64{fileSize(t, path)}
			must(t, w.SetBytes(ctx, "k0", []byte("value zero")))
			recs = append(recs, fileSize(t, path))
			must(t, w.SetBytes(ctx, "k1", []byte("first")))
			wantGet(t, r, "k0", "value zero")
			wantGet(t, r, "k1", "first")

			c.clear(t, path, recs)
			if c.name != "rm" {
				// A truncation is seen at once, before any write.
				wantMissOr(t, r, "k0", c.keeps, "value zero")
				wantMiss(t, r, "k1")
			}
			must(t, w.SetBytes(ctx, "k1", []byte("v1")))
			wantGet(t, w, "k1", "v1")
			wantGet(t, r, "k1", "v1")
			wantMissOr(t, w, "k0", c.keeps, "value zero")
			wantMissOr(t, r, "k0", c.keeps, "value zero")
			must(t, w.SetBytes(ctx, "k2", []byte("v2")))
			wantGet(t, w, "k1", "v1")
			wantGet(t, r, "k2", "v2")
			wantGet(t, r, "k1", "v1")
			must(t, r.SetBytes(ctx, "k3", []byte("v3")))
			wantGet(t, w, "k3", "v3")
			wantGet(t, w, "k1", "v1")

			n := open(t, path)
			wantGet(t, n, "k1", "v1")
			wantGet(t, n, "k2", "v2")
			wantMissOr(t, n, "k0", c.keeps, "value zero")
			checkWhole(t, path)
		})
	}
}

// TestTruncateRacingAppend: the store is truncated after the writer
// checked it and before its record is written, so the record lands where
// the truncation left the end of the file: at offset 0, inside the header,
// or inside another record. No Backend takes it for a value it is not,
// and the store is not refused.
func TestTruncateRacingAppend(t *testing.T) {
	ctx := t.Context()
	for _, c := range clearings {
		if c.name == "rm" {
			continue // the record goes to the deleted file
		}
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cache.db")
			w, r := open(t, path), open(t, path)
			recs := []int64{fileSize(t, path)}
			must(t, w.SetBytes(ctx, "k0", []byte("value zero")))
			recs = append(recs, fileSize(t, path))
			must(t, w.SetBytes(ctx, "k1", []byte("first")))
			wantGet(t, r, "k1", "first")
			v := []byte("the value written while the store was truncated")
			cleared := false
			err := w.modify(ctx, func(buf []byte) ([]byte, []record) {
				if !cleared { // once, should the write be tried again
					c.clear(t, path, recs)
					cleared = true
				}
				return appendRecord(buf, kindSet, "k", v), []record{{kind: kindSet, key: "k", vlen: len(v)}}
			})
			must(t, err)
			for _, b := range []*Backend{w, r} {
				wantOneOf(t, b, "k", string(v))
				wantOneOf(t, b, "k1", "first")
				wantMissOr(t, b, "k0", c.keeps, "value zero")
			}
			n, err := Open(path)
			if err != nil {
				t.Fatalf("Open after the race: %v", err)
			}
			defer n.Close()
			wantOneOf(t, n, "k", string(v))
			must(t, n.SetBytes(ctx, "after", []byte("after the race")))
			for _, b := range []*Backend{w, r, n} {
				wantGet(t, b, "after", "after the race")
				wantOneOf(t, b, "k", string(v))
			}
			must(t, w.SetBytes(ctx, "k4", []byte("v4")))
			wantGet(t, r, "k4", "v4")
			wantGet(t, n, "k4", "v4")
			checkWhole(t, path)
		})
	}
}

// TestLostHeader: a store whose header a truncation cut, possibly
// lengthened again with zeros by another truncation (truncate -s), and
// maybe followed by a record appended after the cut (by a writer killed
// before it could mend the store), is emptied and used, not refused; the
// record is not taken for a value. A Backend that had the store open reads
// misses.
func TestLostHeader(t *testing.T) {
	ctx := t.Context()
	rec := appendRecord(nil, kindSet, "k", []byte("a record without its header"))
	zeros := func(n int) []byte { return make([]byte, n) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"record at 0", rec},
		{"record after 1 byte", cat(header()[:1], rec)},
		{"record after 5 bytes", cat(header()[:5], rec)},
		{"record after 8 bytes", cat(header()[:8], rec)},
		{"record after 11 bytes", cat(header()[:11], rec)},
		{"zeros", zeros(13)},
		{"many zeros", zeros(4096)},
		{"5 bytes then zeros", cat(header()[:5], zeros(11))},
		{"13 bytes then zeros", cat(header()[:13], zeros(20))},
		{"zeros then a record", cat(zeros(7), rec)},
		{"5 bytes, zeros, a record", cat(header()[:5], zeros(3), rec)},
	} {
		path := filepath.Join(t.TempDir(), "cache.db")
		old := open(t, path)
		must(t, old.SetBytes(ctx, "k", []byte("old value")))
		wantGet(t, old, "k", "old value")
		must(t, os.WriteFile(path, tc.data, 0o600))
		wantMiss(t, old, "k")

		b, err := Open(path)
		if err != nil {
			t.Fatalf("%s: Open = %v", tc.name, err)
		}
		wantMiss(t, b, "k")
		must(t, b.SetBytes(ctx, "k2", []byte("v2")))
		b.Close()
		b = open(t, path)
		wantGet(t, b, "k2", "v2")
		wantMiss(t, b, "k")
		wantGet(t, old, "k2", "v2")
		wantMiss(t, old, "k")
		checkWhole(t, path)
	}

	// A foreign file that merely begins like a store is still refused.
	path := filepath.Join(t.TempDir(), "cache.db")
	foreign := append([]byte(magic[:5]), "some other program's data, long enough"...)
	must(t, os.WriteFile(path, foreign, 0o600))
	if _, err := Open(path); !errors.Is(err, ErrFormat) {
		t.Errorf("Open of a foreign file = %v; want ErrFormat", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, foreign) {
		t.Errorf("a foreign file was modified: %q", got)
	}

	// The part of a header, then a torn record, cannot be told from a
	// foreign file: Open refuses it, but a Backend that has the file open
	// as its store begins it again.
	path = filepath.Join(t.TempDir(), "cache.db")
	b := open(t, path)
	must(t, b.SetBytes(ctx, "k", []byte("old value")))
	torn := cat(header()[:5], rec[:len(rec)-3])
	must(t, os.WriteFile(path, torn, 0o600))
	if _, err := Open(path); !errors.Is(err, ErrFormat) {
		t.Errorf("Open of a cut header and a torn record = %v; want ErrFormat", err)
	}
	wantMiss(t, b, "k")
	must(t, b.SetBytes(ctx, "k2", []byte("v2")))
	checkWhole(t, path)
	wantGet(t, open(t, path), "k2", "v2")
}

// TestSameSizeRewrite: the store is truncated and written again by hand to
// the size a reader knows, with the records in other places: the reader's
// index points at the wrong records, and it must notice.
func TestSameSizeRewrite(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cache.db")
	w, r := open(t, path), open(t, path)
	must(t, w.SetBytes(ctx, "k1", []byte("value one")))
	must(t, w.SetBytes(ctx, "k2", []byte("value two")))
	wantGet(t, r, "k1", "value one")
	wantGet(t, r, "k2", "value two")
	size := fileSize(t, path)

	data := header()
	data = appendRecord(data, kindSet, "k2", []byte("value TWO"))
	data = appendRecord(data, kindSet, "k1", []byte("value ONE"))
	if int64(len(data)) != size {
		t.Fatalf("rewrite of %d bytes; want %d", len(data), size)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	must(t, err)
	_, err = f.Write(data)
	must(t, err)
	must(t, f.Close())
	for _, b := range []*Backend{r, w} {
		wantGet(t, b, "k1", "value ONE")
		wantGet(t, b, "k2", "value TWO")
		got, err := b.GetBytesMulti(ctx, []string{"k2", "k1"})
		if err != nil || string(got[0]) != "value TWO" || string(got[1]) != "value ONE" {
			t.Errorf("GetBytesMulti = %q, %v", got, err)
		}
	}
}

// TestLockFileReplaced: lock files deleted by hand and created again by
// another process: a Backend that had the old ones open locks the new
// ones, so it still excludes that process, for the read-write lock and for
// the dogpile lock (both kinds); keys held in a deleted file are released
// there.
func TestLockFileReplaced(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cache.db")
	a := open(t, path)
	must(t, a.SetBytes(ctx, "k", []byte("v")))
	must(t, os.Remove(path+".rw.lock"))
	must(t, os.Remove(path+".dogpile.lock"))
	c := open(t, path) // creates both lock files again

	lf, err := os.OpenFile(path+".rw.lock", os.O_RDWR, 0)
	must(t, err)
	defer lf.Close()
	must(t, syscall.Flock(int(lf.Fd()), syscall.LOCK_EX))
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := a.SetBytes(short, "k", []byte("written while another process holds the lock")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SetBytes while another process holds the new lock file = %v; want it to wait", err)
	}
	must(t, syscall.Flock(int(lf.Fd()), syscall.LOCK_UN))
	must(t, a.SetBytes(ctx, "k", []byte("v2")))
	wantGet(t, c, "k", "v2")

	for _, mode := range lockModes(t) {
		t.Run(mode.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cache.db")
			a := open(t, path, mode.opts...)
			held := a.Mutex("held")
			acquire(t, held, false, true, "a key held while the lock file is deleted")
			must(t, os.Remove(path+".dogpile.lock"))
			c := open(t, path, mode.opts...)

			m := c.Mutex("key")
			acquire(t, m, false, true, "the key, by the Backend that made the new lock file")
			acquire(t, a.Mutex("key"), false, false, "the key, by the Backend that had the deleted lock file")
			wantLocked(t, a.Mutex("key"), true, "the key, held in the new lock file")
			must(t, m.Release(ctx))
			wantLocked(t, a.Mutex("key"), false, "the key, released")
			ma := a.Mutex("key")
			acquire(t, ma, false, true, "the key, once released")
			acquire(t, c.Mutex("key"), false, false, "the key, held by the other Backend")
			must(t, ma.Release(ctx))
			// The key held in the deleted file is released there.
			must(t, held.Release(ctx))
			acquire(t, held, false, true, "the key held before, again")
			acquire(t, c.Mutex("held"), false, false, "the key held before, now in the new lock file")
			must(t, held.Release(ctx))
			if n := len(a.locks.handles); n != 1 {
				t.Errorf("%d lock files open; want the one at the path", n)
			}
		})
	}
}

// wantMissOr wants a miss, or value when keeps.
func wantMissOr(t *testing.T, b *Backend, key string, keeps bool, value string) {
	t.Helper()
	if keeps {
		wantGet(t, b, key, value)
	} else {
		wantMiss(t, b, key)
	}
}

// wantOneOf wants value or a miss, and no error.
func wantOneOf(t *testing.T, b *Backend, key, value string) {
	t.Helper()
	v, ok, err := b.GetBytes(context.Background(), key)
	if err != nil || ok && string(v) != value {
		t.Errorf("GetBytes(%q) = %.40q, %v, %v; want %.40q or a miss", key, v, ok, err, value)
	}
}

// checkWhole checks that the store is a header and whole records.
func checkWhole(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	fi, err := f.Stat()
	must(t, err)
	h := make([]byte, headerSize)
	if _, err := f.ReadAt(h, 0); err != nil || string(h[:len(magic)]) != magic {
		t.Fatalf("store without a header: %q, %v", h, err)
	}
	end, err := scan(f, headerSize, fi.Size(), func(record) bool { return true })
	must(t, err)
	if end != fi.Size() {
		t.Errorf("store of %d bytes, valid up to %d", fi.Size(), end)
	}
}
