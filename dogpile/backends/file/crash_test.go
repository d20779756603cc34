//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package file

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/multiproc"
)

// twoVersions writes v1 then v2 under "k" (after another key) and returns
// the store's bytes and the offset where v2's record starts.
func twoVersions(t *testing.T, path string) (data []byte, v2At int) {
	t.Helper()
	ctx := t.Context()
	b, err := Open(path)
	must(t, err)
	must(t, b.SetBytes(ctx, "other", []byte("other value")))
	must(t, b.SetBytes(ctx, "k", []byte("v1: the first value")))
	v2At = int(fileSize(t, path))
	must(t, b.SetBytes(ctx, "k", []byte(`{"ct": 1.5, "v": 2}|"v2: the second value"`)))
	must(t, b.Close())
	data, err = os.ReadFile(path)
	must(t, err)
	return data, v2At
}

// TestTornTail cuts the store at every byte inside its last record, as a
// crash in the middle of the write would: the key keeps its previous
// value, for a new reader, for a reader that had the store open and for a
// writer, and the next write leaves a whole store.
func TestTornTail(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "cache.db")
	data, v2At := twoVersions(t, path)
	for cut := v2At + 1; cut < len(data); cut++ {
		// A new Backend opens the torn store and repairs it.
		must(t, os.WriteFile(path, data[:cut], 0o600))
		b := open(t, path)
		wantGet(t, b, "k", "v1: the first value")
		wantGet(t, b, "other", "other value")
		if s := fileSize(t, path); s != int64(v2At) {
			t.Errorf("cut at %d: store of %d bytes after Open; want the torn record dropped (%d)", cut, s, v2At)
		}
		b.Close()

		// Backends that had the store open when the torn record was
		// written: a reader, and a writer.
		must(t, os.WriteFile(path, data[:v2At], 0o600))
		r, w := open(t, path), open(t, path)
		appendBytes(t, path, data[v2At:cut])
		wantGet(t, r, "k", "v1: the first value")
		if got, err := r.GetBytesMulti(ctx, []string{"other", "k"}); err != nil || string(got[1]) != "v1: the first value" {
			t.Errorf("cut at %d: GetBytesMulti = %q, %v", cut, got, err)
		}
		appendBytes(t, path, data[v2At:cut]) // torn again, for the writer
		must(t, w.SetBytes(ctx, "k2", []byte("after")))
		want := appendRecord(bytes.Clone(data[:v2At]), kindSet, "k2", []byte("after"))
		if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
			t.Errorf("cut at %d: the write after a torn record left %d bytes; want the store and the new record (%d)", cut, len(got), len(want))
		}
		wantGet(t, r, "k2", "after")
		wantGet(t, r, "k", "v1: the first value")
		r.Close()
		w.Close()
	}
}

// TestDamagedRecord flips each byte of the last record in turn: its
// checksum (or its lengths) fail, and the key keeps its previous value. A
// damaged record before the last hides the records after it: a miss,
// never a wrong value.
func TestDamagedRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	data, v2At := twoVersions(t, path)
	for i := v2At; i < len(data); i++ {
		damaged := bytes.Clone(data)
		damaged[i] ^= 0x55
		must(t, os.WriteFile(path, damaged, 0o600))
		b := open(t, path)
		wantGet(t, b, "k", "v1: the first value")
		wantGet(t, b, "other", "other value")
		must(t, b.SetBytes(t.Context(), "k3", []byte("repaired")))
		b.Close()
		b = open(t, path)
		wantGet(t, b, "k", "v1: the first value")
		wantGet(t, b, "k3", "repaired")
		b.Close()
	}
	// Damage in the record of "other", the first.
	damaged := bytes.Clone(data)
	damaged[headerSize+recordHeader+2] ^= 1
	must(t, os.WriteFile(path, damaged, 0o600))
	b := open(t, path)
	wantMiss(t, b, "other")
	wantMiss(t, b, "k")
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = f.Write(b)
	must(t, err)
	must(t, f.Close())
}

// crashValue is the value the crash test writes under key k in round n:
// self-describing, so a reader can tell a whole value from a mixed one.
func crashValue(k, n int) []byte {
	// Large values, cheap to make: the writer spends its time in write
	// calls, where the kills land.
	size := 1 + (k*7919+n*104729)%(256<<10)
	head := fmt.Sprintf("%d/%d/%d|", k, n, size)
	v := make([]byte, len(head)+size)
	copy(v, head)
	for i := len(head); i < len(v); i++ {
		v[i] = byte(i*31+k*7+n*13) ^ byte(i>>8)
	}
	return v
}

// checkCrashValue returns the round of a value written by crashValue, or
// an error when the value is not one of them.
func checkCrashValue(k int, v []byte) (int, error) {
	head, _, ok := bytes.Cut(v, []byte("|"))
	parts := strings.Split(string(head), "/")
	if !ok || len(parts) != 3 {
		return 0, fmt.Errorf("no header in %.30q", v)
	}
	n, _ := strconv.Atoi(parts[1])
	if want := crashValue(k, n); parts[0] != strconv.Itoa(k) || !bytes.Equal(v, want) {
		return 0, fmt.Errorf("key %d: value of %d bytes claiming %q is not the one written", k, len(v), head)
	}
	return n, nil
}

// TestCrash kills a process writing in a loop, over and over: every time,
// the store opens, every key holds a whole value it wrote, and no key goes
// back to an older value.
func TestCrash(t *testing.T) {
	const keys = 8
	if _, _, ok := multiproc.Child(); ok {
		path := os.Getenv("CRASH_STORE")
		dir := filepath.Dir(path)
		b, err := Open(path)
		must(t, err)
		ctx := t.Context()
		start, _ := strconv.Atoi(os.Getenv("CRASH_ROUND"))
		for n := start; ; n++ {
			for k := range keys {
				if (n-start)%3 == 0 { // the first round included
					// Multi writes too: one write call for several records.
					must(t, b.SetBytesMulti(ctx, []driver.BytesItem{
						{Key: strconv.Itoa(k), Value: crashValue(k, n)},
						{Key: "multi", Value: crashValue(keys, n)},
					}))
				} else {
					must(t, b.SetBytes(ctx, strconv.Itoa(k), crashValue(k, n)))
				}
				if k == 0 && n == start+1 {
					os.WriteFile(filepath.Join(dir, "running"), nil, 0o600)
				}
			}
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "cache.db")
	last := map[int]int{}
	round := 1
	torn := 0
	for kill := range 6 {
		os.Remove(filepath.Join(dir, "running"))
		g := multiproc.Start(t, "TestCrash", 1, "CRASH_STORE="+path, "CRASH_ROUND="+strconv.Itoa(round))
		waitFile(t, filepath.Join(dir, "running"), 20*time.Second, g)
		time.Sleep(time.Duration(5+rand.IntN(40)) * time.Millisecond)
		g.Kill(0)

		before := fileSize(t, path)
		b, err := Open(path)
		if err != nil {
			t.Fatalf("kill %d: Open after the crash: %v", kill, err)
		}
		if b.end != before {
			torn++
		}
		for k := range keys + 1 {
			name := strconv.Itoa(k)
			if k == keys {
				name = "multi" // crashValue(keys, n), written with key 0
			}
			v, ok, err := b.GetBytes(t.Context(), name)
			if err != nil || !ok {
				t.Fatalf("kill %d: key %d: %v, found %v", kill, k, err, ok)
			}
			n, err := checkCrashValue(k, v)
			if err != nil {
				t.Fatalf("kill %d: %v", kill, err)
			}
			if n < last[k] {
				t.Errorf("kill %d: key %d went back from round %d to %d", kill, k, last[k], n)
			}
			last[k] = n
			round = max(round, n+1)
		}
		for _, name := range mustReadDir(t, dir) {
			if strings.Contains(name, ".compact-") {
				t.Errorf("kill %d: compaction left %s behind", kill, name)
			}
		}
		b.Close()
	}
	t.Logf("6 kills, reaching round %d; %d left a torn record", round, torn)
}

// waitFile waits until path exists.
func waitFile(t *testing.T, path string, timeout time.Duration, g *multiproc.Group) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v; child output:\n%s", path, timeout, g.Output(0))
		}
		time.Sleep(2 * time.Millisecond)
	}
}
