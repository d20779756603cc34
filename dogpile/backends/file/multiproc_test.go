//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package file

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/internal/multiproc"
)

const children = 4

// barrier waits until every child has reached the barrier name.
func barrier(t *testing.T, dir, name string, child int) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("barrier-%s-%d", name, child)), nil, 0o600))
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := 0
		for i := range children {
			if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("barrier-%s-%d", name, i))); err == nil {
				n++
			}
		}
		if n == children {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d: only %d children reached %q", child, n, name)
		}
		time.Sleep(time.Millisecond)
	}
}

// procValue is the value child c writes under its key j in round n.
func procValue(c, j, n int) string {
	return fmt.Sprintf("%d/%d/%d|%s", c, j, n, strings.Repeat("x", 200+(j*37+n)%300))
}

// parseProcValue checks a value written by procValue and returns its round.
func parseProcValue(c, j int, v []byte) (int, error) {
	parts := strings.SplitN(strings.SplitN(string(v), "|", 2)[0], "/", 3)
	if len(parts) != 3 {
		return 0, fmt.Errorf("malformed value %.40q", v)
	}
	n, _ := strconv.Atoi(parts[2])
	if string(v) != procValue(c, j, n) {
		return 0, fmt.Errorf("value %.40q (%d bytes) is not child %d's key %d", v, len(v), c, j)
	}
	return n, nil
}

func procKey(c, j int) string { return fmt.Sprintf("child%d/key%d", c, j) }

// TestProcesses: 4 processes write their own keys and a shared one, and
// read everyone's: each sees the others' writes; one of them compacts the
// store, and the others keep reading the right values; then all of them
// write and read at once while one compacts again and again.
func TestProcesses(t *testing.T) {
	const keys = 10
	if i, dir, ok := multiproc.Child(); ok {
		ctx := t.Context()
		b, err := Open(filepath.Join(dir, "cache.db"), WithCompactionThreshold(32<<10))
		must(t, err)
		defer b.Close()
		barrier(t, dir, "open", i)

		for j := range keys {
			must(t, b.SetBytes(ctx, procKey(i, j), []byte(procValue(i, j, 1))))
		}
		must(t, b.SetBytes(ctx, "shared", []byte(strconv.Itoa(i))))
		barrier(t, dir, "written", i)
		for c := range children {
			for j := range keys {
				wantGet(t, b, procKey(c, j), procValue(c, j, 1))
			}
		}
		if v, ok, err := b.GetBytes(ctx, "shared"); err != nil || !ok || len(v) != 1 || v[0] < '0' || v[0] > '3' {
			t.Errorf("shared = %q, %v, %v", v, ok, err)
		}
		barrier(t, dir, "read", i)

		// Child 0 overwrites its keys until a write compacts the store.
		if i == 0 {
			n := 1
			for b.compactions.Load() == 0 {
				n++
				for j := range keys {
					must(t, b.SetBytes(ctx, procKey(0, j), []byte(procValue(0, j, n))))
				}
			}
			must(t, os.WriteFile(filepath.Join(dir, "round0"), []byte(strconv.Itoa(n)), 0o600))
		}
		barrier(t, dir, "compacted", i)
		round0, err := os.ReadFile(filepath.Join(dir, "round0"))
		must(t, err)
		n0, _ := strconv.Atoi(string(round0))
		for c := range children {
			for j := range keys {
				want := procValue(c, j, 1)
				if c == 0 {
					want = procValue(0, j, n0)
				}
				wantGet(t, b, procKey(c, j), want)
			}
		}
		barrier(t, dir, "checked", i)

		// Everyone at once: rounds only move forward.
		last := make([]int, keys) // the round each of this child's keys holds
		for j := range last {
			last[j] = 1
			if i == 0 {
				last[j] = n0
			}
		}
		seen := map[string]int{}
		n := n0 + 1
		for end := time.Now().Add(700 * time.Millisecond); time.Now().Before(end); n++ {
			j := n % keys
			must(t, b.SetBytes(ctx, procKey(i, j), []byte(procValue(i, j, n))))
			last[j] = n
			c, k := rand.IntN(children), rand.IntN(keys)
			v, ok, err := b.GetBytes(ctx, procKey(c, k))
			if err != nil || !ok {
				t.Fatalf("GetBytes(%s) = %v, %v", procKey(c, k), ok, err)
			}
			got, err := parseProcValue(c, k, v)
			if err != nil {
				t.Fatal(err)
			}
			if got < seen[procKey(c, k)] {
				t.Errorf("%s went back from round %d to %d", procKey(c, k), seen[procKey(c, k)], got)
			}
			seen[procKey(c, k)] = got
			if i == 0 && n%50 == 0 {
				must(t, b.Compact(ctx))
			}
		}
		for j, r := range last {
			must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("last-%d-%d", i, j)), []byte(strconv.Itoa(r)), 0o600))
		}
		barrier(t, dir, "done", i)
		for c := range children {
			for j := range keys {
				last, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("last-%d-%d", c, j)))
				must(t, err)
				r, _ := strconv.Atoi(string(last))
				wantGet(t, b, procKey(c, j), procValue(c, j, r))
			}
		}
		t.Logf("child %d: %d rounds, %d compactions", i, n-n0, b.compactions.Load())
		return
	}
	g := multiproc.Start(t, "TestProcesses", children)
	if err := g.Wait(45 * time.Second); err != nil {
		t.Fatal(err)
	}
	b := open(t, filepath.Join(g.Dir(), "cache.db"))
	for c := range children {
		for j := range keys {
			last, err := os.ReadFile(filepath.Join(g.Dir(), fmt.Sprintf("last-%d-%d", c, j)))
			must(t, err)
			r, _ := strconv.Atoi(string(last))
			wantGet(t, b, procKey(c, j), procValue(c, j, r))
		}
	}
	for i := range children {
		for _, line := range strings.Split(g.Output(i), "\n") {
			if strings.Contains(line, "rounds,") {
				t.Log(strings.TrimSpace(line))
			}
		}
	}
}
