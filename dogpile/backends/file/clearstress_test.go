//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package file

import (
	"context"
	"encoding/json"
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

const (
	stressWriters  = 3
	stressReaders  = 2
	stressKeys     = 16
	stressMaxStall = time.Second // longest a child may go without a successful operation
)

// stressKey is writer w's key j.
func stressKey(w, j int) string { return fmt.Sprintf("w%d/k%d", w, j) }

// stressValue is the value written under key with counter n: the key, the
// counter and a filler of varying length that depends on both, so that a
// value read at a wrong offset, a mix of two values or another key's value
// never passes checkStressValue.
func stressValue(key string, n int) []byte {
	v := fmt.Appendf(nil, "%s:%d|", key, n)
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	h ^= uint32(n) * 2654435761
	size := int(h % 400)
	for i := range size {
		v = append(v, 'a'+byte((h>>(i%24)+uint32(i))%26))
	}
	return v
}

// checkStressValue returns the counter of a value of key, or an error when
// the value is not one stressValue makes for key.
func checkStressValue(key string, v []byte) (int, error) {
	rest, ok := strings.CutPrefix(string(v), key+":")
	if !ok {
		return 0, fmt.Errorf("value %.60q (%d bytes) read under %q belongs to another key", v, len(v), key)
	}
	num, _, ok := strings.Cut(rest, "|")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || string(stressValue(key, n)) != string(v) {
		return 0, fmt.Errorf("value %.60q (%d bytes) read under %q is not one that was written", v, len(v), key)
	}
	return n, nil
}

// stressStats is what a child reports.
type stressStats struct {
	Ops, Hits, Misses, Errors, Wrong int
	MaxStall                         time.Duration
	Compactions                      int64
}

// TestOperatorClears: 3 writers and 2 readers in 5 processes while this
// process deletes or truncates the store every 100-300 ms, alternating
// rm, truncation to 0, to a few bytes and to the middle of the records,
// and (in one variant) deletes the lock files too. Every value read is
// checked to be one written under its key; no operation may fail, and no
// process may go a second without a successful operation. When the
// clearing stops, every process reads every key's last value.
func TestOperatorClears(t *testing.T) {
	if i, dir, ok := multiproc.Child(); ok {
		stressChild(t, i, dir)
		return
	}
	for _, v := range []struct {
		name     string
		duration time.Duration
		min, max time.Duration // between two clearings
		locks    bool
	}{
		{"store", 4 * time.Second, 100 * time.Millisecond, 300 * time.Millisecond, false},
		{"lock files", 3 * time.Second, 100 * time.Millisecond, 300 * time.Millisecond, true},
		{"rapid", 2 * time.Second, time.Millisecond, 10 * time.Millisecond, true},
	} {
		t.Run(v.name, func(t *testing.T) {
			g := multiproc.Start(t, "TestOperatorClears", stressWriters+stressReaders)
			dir := g.Dir()
			path := filepath.Join(dir, "cache.db")
			for i := range stressWriters + stressReaders {
				waitFile(t, filepath.Join(dir, fmt.Sprintf("ready-%d", i)), 20*time.Second, g)
			}
			counts := map[string]int{}
			end := time.Now().Add(v.duration)
			for n := 0; time.Now().Before(end); n++ {
				time.Sleep(v.min + rand.N(v.max-v.min))
				var what string
				switch n % 4 {
				case 0:
					what, _ = "rm", os.Remove(path)
				case 1:
					what, _ = "truncate to 0", os.Truncate(path, 0)
				case 2:
					what, _ = "truncate to a few bytes", os.Truncate(path, 1+rand.Int64N(headerSize))
				case 3:
					what = "truncate inside the records"
					if fi, err := os.Stat(path); err == nil && fi.Size() > headerSize {
						_ = os.Truncate(path, headerSize+rand.Int64N(fi.Size()-headerSize))
					}
				}
				counts[what]++
				if v.locks && n%3 == 0 {
					_ = os.Remove(path + ".rw.lock")
					_ = os.Remove(path + ".dogpile.lock")
					counts["rm lock files"]++
				}
			}
			must(t, os.WriteFile(filepath.Join(dir, "stop"), nil, 0o600))
			if err := g.Wait(30 * time.Second); err != nil {
				t.Fatal(err)
			}
			var total stressStats
			clears := 0
			for what, n := range counts {
				if what != "rm lock files" {
					clears += n
				}
			}
			for i := range stressWriters + stressReaders {
				data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("stats-%d", i)))
				must(t, err)
				var s stressStats
				must(t, json.Unmarshal(data, &s))
				total.Ops += s.Ops
				total.Hits += s.Hits
				total.Misses += s.Misses
				total.Errors += s.Errors
				total.Wrong += s.Wrong
				total.Compactions += s.Compactions
				total.MaxStall = max(total.MaxStall, s.MaxStall)
			}
			t.Logf("%d clearings %v; %d operations (%d hits, %d misses), %d compactions; %d wrong values, %d errors; longest stall %v",
				clears, counts, total.Ops, total.Hits, total.Misses, total.Compactions, total.Wrong, total.Errors, total.MaxStall.Round(time.Millisecond))
			if total.Wrong != 0 || total.Errors != 0 || total.MaxStall > stressMaxStall {
				t.Errorf("%d wrong values, %d errors, longest stall %v", total.Wrong, total.Errors, total.MaxStall)
			}
		})
	}
}

// stressChild is one process of TestOperatorClears: children 0 to 2
// write, 3 and 4 read.
func stressChild(t *testing.T, i int, dir string) {
	ctx := context.Background()
	b, err := Open(filepath.Join(dir, "cache.db"), WithCompactionThreshold(32<<10))
	must(t, err)
	defer b.Close()
	must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("ready-%d", i)), nil, 0o600))

	var s stressStats
	writer := i < stressWriters
	written := make([]int, stressKeys) // writers: the last counter of each own key
	lastOK := time.Now()
	stalled := func(err error) {
		now := time.Now()
		if err != nil {
			s.Errors++
			if s.Errors <= 5 {
				t.Errorf("child %d: %v", i, err)
			}
			return
		}
		s.MaxStall = max(s.MaxStall, now.Sub(lastOK))
		lastOK = now
	}
	// check checks a value read under key; own is the highest counter
	// written under it, for a writer's own key (else -1).
	check := func(key string, v []byte, ok bool, own int) {
		s.Ops++
		if !ok {
			s.Misses++
			return
		}
		s.Hits++
		n, err := checkStressValue(key, v)
		if err == nil && own >= 0 && n > own {
			err = fmt.Errorf("%q holds counter %d; its writer wrote up to %d", key, n, own)
		}
		if err != nil {
			s.Wrong++
			if s.Wrong <= 5 {
				t.Errorf("child %d: %v", i, err)
			}
		}
	}
	stop := filepath.Join(dir, "stop")
	counter := 0
	for n := 0; ; n++ {
		if n%32 == 0 {
			if _, err := os.Stat(stop); err == nil {
				break
			}
		}
		w, j := rand.IntN(stressWriters), rand.IntN(stressKeys)
		if writer {
			w = i
			counter++
			key := stressKey(i, j)
			switch {
			case i == 1 && n%11 == 0:
				err = b.Delete(ctx, key)
			case i == 2 && n%3 == 0:
				j2 := (j + 1) % stressKeys
				err = b.SetBytesMulti(ctx, []driver.BytesItem{
					{Key: key, Value: stressValue(key, counter)},
					{Key: stressKey(i, j2), Value: stressValue(stressKey(i, j2), counter)},
				})
				written[j2] = counter
			default:
				err = b.SetBytes(ctx, key, stressValue(key, counter))
			}
			written[j] = counter
			s.Ops++
			stalled(err)
			if n%16 == 0 {
				m := b.Mutex(key)
				got, err := m.Acquire(ctx, false)
				if err == nil && got {
					err = m.Release(ctx)
				}
				stalled(err)
			}
		}
		key := stressKey(w, j)
		own := -1
		if w == i {
			own = written[j]
		}
		if n%5 == 0 {
			keys := []string{key, stressKey(rand.IntN(stressWriters), rand.IntN(stressKeys)), "missing"}
			vs, err := b.GetBytesMulti(ctx, keys)
			stalled(err)
			if err == nil {
				check(keys[0], vs[0], vs[0] != nil, own)
				check(keys[1], vs[1], vs[1] != nil, -1)
				if vs[2] != nil {
					s.Wrong++
					t.Errorf("child %d: %q = %.40q", i, keys[2], vs[2])
				}
			}
		} else {
			v, ok, err := b.GetBytes(ctx, key)
			stalled(err)
			if err == nil {
				check(key, v, ok, own)
			}
		}
	}
	stalled(nil)

	// No more clearings: the writers write a last value under every key,
	// and every process reads them all, at once.
	stopped := time.Now()
	if writer {
		counter++
		for j := range stressKeys {
			must(t, b.SetBytes(ctx, stressKey(i, j), stressValue(stressKey(i, j), counter)))
		}
		final := filepath.Join(dir, fmt.Sprintf("final-%d", i))
		must(t, os.WriteFile(final+".tmp", []byte(strconv.Itoa(counter)), 0o600))
		must(t, os.Rename(final+".tmp", final))
	}
	for w := range stressWriters {
		final := filepath.Join(dir, fmt.Sprintf("final-%d", w))
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(final); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("child %d: writer %d wrote no last values", i, w)
			}
			time.Sleep(time.Millisecond)
		}
		data, err := os.ReadFile(final)
		must(t, err)
		c, _ := strconv.Atoi(string(data))
		for j := range stressKeys {
			key := stressKey(w, j)
			v, ok, err := b.GetBytes(ctx, key)
			if err != nil || !ok || string(v) != string(stressValue(key, c)) {
				t.Errorf("child %d, after the clearings: GetBytes(%q) = %.40q, %v, %v; want counter %d", i, key, v, ok, err, c)
			}
		}
	}
	if d := time.Since(stopped); d > 5*time.Second {
		t.Errorf("child %d: the last values took %v", i, d)
	}
	s.Compactions = b.compactions.Load()
	data, err := json.Marshal(s)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("stats-%d", i)), data, 0o600))
	if s.Wrong > 0 || s.Errors > 0 {
		t.Errorf("child %d: %d operations, %d wrong values, %d errors", i, s.Ops, s.Wrong, s.Errors)
	}
}
