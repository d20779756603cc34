package pyinterop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memcached"
	_ "github.com/dogpilego/dogpile/dogpile/backends/redis"
	"github.com/dogpilego/dogpile/internal/testserver"
)

const python = "/usr/bin/python3"

// requirePython skips, or fails under CI, when Python's dogpile.cache or
// its clients are missing.
func requirePython(t *testing.T) {
	t.Helper()
	err := exec.Command(python, "-c", "import dogpile.cache, redis, pymemcache").Run()
	if err == nil {
		return
	}
	msg := "Python's dogpile.cache with redis and pymemcache is needed (Debian: python3-dogpile.cache python3-redis python3-pymemcache; scripts/test-deps.sh installs them)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// server is one cache server both sides use.
type server struct {
	kind    string // peer.py's name: "redis" or "memcached"
	addr    string
	backend string
	args    func(lock bool) dogpile.Arguments
}

func servers(t *testing.T) []server {
	rs := testserver.StartRedis(t)
	mc := testserver.StartMemcached(t)
	host, port, _ := strings.Cut(rs.Addr, ":")
	p, _ := strconv.Atoi(port)
	return []server{
		{"redis", rs.Addr, "dogpile.cache.redis", func(lock bool) dogpile.Arguments {
			return dogpile.Arguments{"host": host, "port": p, "distributed_lock": lock, "lock_timeout": 5}
		}},
		{"memcached", mc.Addr, "dogpile.cache.memcached", func(lock bool) dogpile.Arguments {
			return dogpile.Arguments{"url": mc.Addr, "distributed_lock": lock, "lock_timeout": 5}
		}},
	}
}

func (s server) region(t *testing.T) *dogpile.Region {
	t.Helper()
	r := dogpile.NewRegion()
	if err := r.Configure(s.backend, dogpile.Config{ExpirationTime: time.Minute, Arguments: s.args(true)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// peer runs one peer.py action and returns its last JSON line.
func (s server) peer(t *testing.T, action string, args ...string) map[string]any {
	t.Helper()
	cmd := exec.Command(python, append([]string{"testdata/peer.py", s.kind, s.addr, "60", action}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("peer.py %s %v: %v\n%s", action, args, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var v map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &v); err != nil {
		t.Fatalf("peer.py %s: %v\n%s", action, err, out)
	}
	return v
}

// startPeer starts a long-running peer.py action and returns once it has
// printed want, with a channel for its last line.
func (s server) startPeer(t *testing.T, want string, action string, args ...string) <-chan map[string]any {
	t.Helper()
	cmd := exec.Command(python, append([]string{"testdata/peer.py", s.kind, s.addr, "60", action}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if strings.Contains(lines.Text(), want) {
			break
		}
	}
	done := make(chan map[string]any, 1)
	go func() {
		var last map[string]any
		for lines.Scan() {
			_ = json.Unmarshal(lines.Bytes(), &last)
		}
		done <- last
	}()
	return done
}

type article struct {
	ID    int      `json:"id"`
	Title string   `json:"title"`
	Tags  []string `json:"tags"`
}

func TestInterop(t *testing.T) {
	requirePython(t)
	for _, s := range servers(t) {
		t.Run(s.kind, func(t *testing.T) {
			ctx := context.Background()
			r := s.region(t)

			t.Run("PythonWritesGoReads", func(t *testing.T) {
				s.peer(t, "set", "py:article", `{"id": 7, "title": "Dogpile", "tags": ["a", "b"]}`)
				got, ok, err := dogpile.Get[article](ctx, r, "py:article")
				if err != nil || !ok || got.ID != 7 || got.Title != "Dogpile" || len(got.Tags) != 2 {
					t.Fatalf("Go read %+v %v %v", got, ok, err)
				}
				v, err := dogpile.GetOrCreate(ctx, r, "py:article", func(context.Context) (article, error) {
					return article{}, errors.New("creator called for a value Python wrote")
				})
				if err != nil || v.ID != 7 {
					t.Errorf("GetOrCreate: %+v %v", v, err)
				}
			})

			t.Run("GoWritesPythonReads", func(t *testing.T) {
				if err := r.Set(ctx, "go:article", article{ID: 9, Title: "Gopher", Tags: []string{"x"}}); err != nil {
					t.Fatal(err)
				}
				got := s.peer(t, "get", "go:article")
				value, _ := got["value"].(map[string]any)
				if got["found"] != true || value["title"] != "Gopher" || value["id"] != float64(9) {
					t.Errorf("Python read %v", got)
				}
				if got := s.peer(t, "get_or_create", "go:article", `{"id": 0}`); got["created"] != false {
					t.Errorf("Python recreated a value Go wrote: %v", got)
				}
			})

			t.Run("PickledIsAMiss", func(t *testing.T) {
				s.peer(t, "set_pickled", "py:pickled", `{"id": 1}`)
				if _, ok, err := r.Get(ctx, "py:pickled"); ok || err != nil {
					t.Fatalf("a pickled entry read as %v, %v; want a clean miss", ok, err)
				}
				v, err := dogpile.GetOrCreate(ctx, r, "py:pickled", func(context.Context) (article, error) { return article{ID: 2}, nil })
				if err != nil || v.ID != 2 {
					t.Errorf("regenerated %+v %v", v, err)
				}
				if got := s.peer(t, "get", "py:pickled"); got["found"] != true {
					t.Errorf("Python cannot read the regenerated entry: %v", got)
				}
			})

			t.Run("GoWaitsForPythonsLock", func(t *testing.T) {
				done := s.startPeer(t, `"creating"`, "create_slowly", "py:slow", `{"id": 3}`, "1.5")
				var called atomic.Bool
				v, err := dogpile.GetOrCreate(ctx, r, "py:slow", func(context.Context) (article, error) {
					called.Store(true)
					return article{ID: 99}, nil
				})
				if err != nil || v.ID != 3 || called.Load() {
					t.Errorf("Go got %+v, %v, creator called %v; want Python's value after its lock", v, err, called.Load())
				}
				<-done
			})

			t.Run("PythonSeesGosLock", func(t *testing.T) {
				entered, release := make(chan struct{}), make(chan struct{})
				result := make(chan error, 1)
				go func() {
					_, err := dogpile.GetOrCreate(ctx, r, "go:slow", func(context.Context) (article, error) {
						close(entered)
						<-release
						return article{ID: 4}, nil
					})
					result <- err
				}()
				<-entered
				if got := s.peer(t, "key_is_locked", "go:slow"); got["locked"] != true {
					t.Errorf("Python sees Go's lock as %v", got)
				}
				close(release)
				if err := <-result; err != nil {
					t.Fatal(err)
				}
				if got := s.peer(t, "key_is_locked", "go:slow"); got["locked"] != false {
					t.Errorf("after release Python sees %v", got)
				}
				if got := s.peer(t, "get", "go:slow"); got["found"] != true {
					t.Errorf("Python cannot read what Go created under the lock: %v", got)
				}
			})
		})
	}
}
