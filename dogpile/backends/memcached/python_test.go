package memcached

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/python"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// pythonClients are the Python modules of the interoperability tests:
// dogpile.cache and the three memcached clients it uses.
var pythonClients = []string{"dogpile.cache", "pymemcache", "memcache", "pylibmc"}

// TestPythonClients shares two and then three servers between Go and each
// of Python's memcached clients, as dogpile.cache configures them: what
// one side writes the other reads, and each side's dogpile lock keeps
// the other out, because both place every key, "_lock" keys included,
// on the same server.
func TestPythonClients(t *testing.T) {
	py := python.Interpreter(t, pythonClients...)
	t.Parallel()
	servers := []*testserver.Memcached{testserver.StartMemcached(t), testserver.StartMemcached(t), testserver.StartMemcached(t)}
	for _, n := range []int{2, 3} {
		var urls []string
		for _, m := range servers[:n] {
			urls = append(urls, m.Addr)
		}
		lockArgs := func(name string, extra ...any) func(t *testing.T) *Backend {
			return func(t *testing.T) *Backend {
				args := driver.Arguments{"url": urls, "distributed_lock": true, "lock_timeout": 30}
				for i := 0; i < len(extra); i += 2 {
					args[extra[i].(string)] = extra[i+1]
				}
				b, err := driver.Open(name, args)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = b.(*Backend).Close() })
				return b.(*Backend)
			}
		}
		for _, tc := range []struct {
			name, client string
			backend      func(t *testing.T) *Backend
		}{
			// Each registered name places keys as its Python client by default.
			{"pymemcache", "pymemcache", lockArgs(NamePyMemcache)},
			{"python-memcached", "python-memcached", lockArgs(Name)},
			{"pylibmc", "pylibmc", lockArgs(NamePylibmc)},
			// The argument, and the typed option.
			{"ArgumentPylibmc", "pylibmc", lockArgs(NameBMemcached, "server_selection", "pylibmc")},
			{"SelectorPyMemcache", "pymemcache", func(t *testing.T) *Backend {
				sel, err := NewSelector(SelectPyMemcache, urls...)
				if err != nil {
					t.Fatal(err)
				}
				c := memcache.NewFromSelector(sel)
				c.Timeout = testTimeout
				return openClient(t, c, Options{Selector: sel, DistributedLock: true, LockTimeout: 30 * time.Second})
			}},
		} {
			t.Run(fmt.Sprintf("%dServers/%s", n, tc.name), func(t *testing.T) {
				t.Parallel()
				testPythonClient(t, py, tc.client, urls, tc.backend(t))
			})
		}
	}
}

func testPythonClient(t *testing.T, py, client string, urls []string, b *Backend) {
	ctx := context.Background()
	p := keyPrefix(t)
	var keys []string
	for i := range 60 {
		keys = append(keys, p+"k"+strconv.Itoa(i))
	}
	if client != "pymemcache" { // pymemcache refuses keys that are not ASCII
		for i := range 6 {
			keys = append(keys, p+"ключ"+strconv.Itoa(i))
		}
	}
	// The test means something only if the keys land on every server.
	on := map[string]bool{}
	for _, k := range keys {
		a, err := b.servers.PickServer(k)
		if err != nil {
			t.Fatal(err)
		}
		on[a.String()] = true
	}
	if len(on) != len(urls) {
		t.Fatalf("%d keys on %d of %d servers", len(keys), len(on), len(urls))
	}
	value := func(side, k string) []byte { return []byte(side + ":" + k + ":\x00\xff") }

	// Go writes, Python reads.
	half := len(keys) / 2
	goKeys, pyKeys := keys[:half], keys[half:]
	items := make([]driver.BytesItem, len(goKeys))
	for i, k := range goKeys {
		items[i] = driver.BytesItem{Key: k, Value: value("go", k)}
	}
	if err := b.SetBytesMulti(ctx, items); err != nil {
		t.Fatal(err)
	}
	read := runPython(t, py, client, urls, "read", goKeys)
	for _, k := range goKeys {
		if got, _ := read[k].(string); got != latin1(value("go", k)) {
			t.Errorf("Python's %s read %q as %q; Go wrote %q", client, k, read[k], value("go", k))
		}
	}

	// Python writes, Go reads.
	pyItems := map[string]string{}
	for _, k := range pyKeys {
		pyItems[k] = latin1(value("py", k))
	}
	if out := runPython(t, py, client, urls, "write", pyItems); len(out["failed"].([]any)) != 0 {
		t.Fatalf("Python's %s failed to write %v", client, out["failed"])
	}
	got, err := b.GetBytesMulti(ctx, pyKeys)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range pyKeys {
		if string(got[i]) != string(value("py", k)) {
			t.Errorf("Go read %q as %q; Python's %s wrote %q", k, got[i], client, value("py", k))
		}
	}

	// Python holds the locks: Go cannot take them.
	lockKeys := keys[:30]
	held, release := holdPythonLocks(t, py, client, urls, lockKeys)
	for _, k := range lockKeys {
		if held[k] != true {
			t.Fatalf("Python's %s did not take the lock of %q: %v", client, k, held[k])
		}
		if ok, err := b.Mutex(k).Acquire(ctx, false); ok || err != nil {
			t.Errorf("Go took the lock of %q that Python's %s holds: %v, %v", k, client, ok, err)
		}
		if locked, err := b.Mutex(k).Locked(ctx); !locked || err != nil {
			t.Errorf("Go sees the lock of %q that Python's %s holds as %v, %v", k, client, locked, err)
		}
	}
	release()

	// Go holds the locks: Python cannot take them.
	var mus []driver.Mutex
	for _, k := range lockKeys {
		mu := b.Mutex(k)
		if ok, err := mu.Acquire(ctx, false); !ok || err != nil {
			t.Fatalf("Go could not take the lock of %q after Python released it: %v, %v", k, ok, err)
		}
		mus = append(mus, mu)
	}
	held, release = holdPythonLocks(t, py, client, urls, lockKeys)
	for _, k := range lockKeys {
		if held[k] != false {
			t.Errorf("Python's %s took the lock of %q that Go holds", client, k)
		}
	}
	release()
	for _, mu := range mus {
		if err := mu.Release(ctx); err != nil {
			t.Error(err)
		}
	}
}

// runPython runs testdata/pyclients.py once and returns what it printed.
func runPython(t *testing.T, py, client string, urls []string, action string, arg any) map[string]any {
	t.Helper()
	data, err := json.Marshal(arg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "testdata/pyclients.py", client, strings.Join(urls, ","), action, string(data))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyclients.py %s %s: %v\n%s", client, action, err, stderr.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("pyclients.py %s %s printed %q: %v", client, action, out, err)
	}
	return m
}

// holdPythonLocks has Python take the locks of keys, and returns which it
// got and a function that makes it release them and waits until it has.
func holdPythonLocks(t *testing.T, py, client string, urls []string, keys []string) (map[string]any, func()) {
	t.Helper()
	data, err := json.Marshal(keys)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "testdata/pyclients.py", client, strings.Join(urls, ","), "lock", string(data))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	t.Cleanup(func() {
		if !done {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	r := bufio.NewReader(stdout)
	readJSON := func() map[string]any {
		line, err := r.ReadString('\n')
		var m map[string]any
		if err == nil {
			err = json.Unmarshal([]byte(line), &m)
		}
		if err != nil {
			_ = stdin.Close()
			_ = cmd.Wait()
			done = true
			t.Fatalf("pyclients.py %s lock: %v (%q)\n%s", client, err, line, stderr.String())
		}
		return m
	}
	held := readJSON()
	return held, func() {
		t.Helper()
		_ = stdin.Close()
		if m := readJSON(); m["released"] != true {
			t.Fatalf("pyclients.py %s lock: %v", client, m)
		}
		_, _ = io.Copy(io.Discard, r)
		done = true
		if err := cmd.Wait(); err != nil {
			t.Fatalf("pyclients.py %s lock: %v\n%s", client, err, stderr.String())
		}
	}
}

// latin1 spells b as the string Python's bytes.decode("latin-1") gives.
func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}
