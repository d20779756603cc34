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
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
	"github.com/dogpilego/dogpile/internal/python"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// server is one cache server both sides use.
type server struct {
	py      string // the Python interpreter that runs peer.py
	kind    string // peer.py's name: "redis" or "memcached"
	addr    string
	backend string
	args    func(lock bool) map[string]any
	// sha1Keys makes both sides mangle keys with SHA-1, for servers that
	// refuse the spaces of function keys (memcached).
	sha1Keys bool
}

func servers(t *testing.T, py string) []server {
	rs := testserver.StartRedis(t)
	mc := testserver.StartMemcached(t)
	host, port, _ := strings.Cut(rs.Addr, ":")
	p, _ := strconv.Atoi(port)
	return []server{
		{py, "redis", rs.Addr, "dogpile.cache.redis", func(lock bool) map[string]any {
			return map[string]any{"host": host, "port": p, "distributed_lock": lock, "lock_timeout": 5}
		}, false},
		{py, "memcached", mc.Addr, "dogpile.cache.memcached", func(lock bool) map[string]any {
			return map[string]any{"url": mc.Addr, "distributed_lock": lock, "lock_timeout": 5}
		}, true},
	}
}

func (s server) region(t *testing.T, opts ...dogpile.Option) *dogpile.Region {
	t.Helper()
	r := dogpile.NewRegion(opts...)
	if err := r.Configure(s.backend, dogpile.Config{ExpirationTime: time.Minute, Arguments: s.args(true)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// peer runs one peer.py action and returns its last JSON line.
func (s server) peer(t *testing.T, action string, args ...string) map[string]any {
	t.Helper()
	cmd := exec.Command(s.py, append([]string{"testdata/peer.py", s.kind, s.addr, "60", action}, args...)...)
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
	cmd := exec.Command(s.py, append([]string{"testdata/peer.py", s.kind, s.addr, "60", action}, args...)...)
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

// pyUser is what peer.py's cached load_user returns.
type pyUser struct {
	Arg string `json:"arg"` // Python's str() of the argument
	By  string `json:"by"`
}

type article struct {
	ID    int      `json:"id"`
	Title string   `json:"title"`
	Tags  []string `json:"tags"`
}

func TestInterop(t *testing.T) {
	py := python.Interpreter(t, "dogpile.cache", "redis", "pymemcache")
	for _, s := range servers(t, py) {
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
				if _, ok, err := dogpile.Get[any](ctx, r, "py:pickled"); ok || err != nil {
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

			t.Run("FunctionKeysMatchPython", func(t *testing.T) {
				mangler := "none"
				var opts []dogpile.Option
				if s.sha1Keys {
					mangler = "sha1"
					opts = append(opts, dogpile.WithKeyMangler(pyconfig.SHA1MangleKey))
				}
				fr := s.region(t, opts...)
				var goCalls atomic.Int64
				goLoadUser := func(context.Context, any) (pyUser, error) {
					goCalls.Add(1)
					return pyUser{By: "go"}, nil
				}
				loadUser := dogpile.Cache1(fr, goLoadUser, dogpile.FuncName("myapp.users", "load_user"))
				// namespace="" is a namespace to Python: "load_user||<arg>".
				emptyNS := dogpile.Cache1(fr, goLoadUser, dogpile.FuncName("myapp.users", "load_user"), dogpile.Namespace(""))
				for _, c := range []struct {
					f         *dogpile.Func1[any, pyUser]
					namespace string // Python's namespace argument, as JSON
					arg       any
					json      string // the argument as peer.py reads it
					text      string // Python's str() of it
					key       string // Python's key
				}{
					{loadUser, "null", 7, "7", "7", "myapp.users:load_user|7"},
					{loadUser, "null", true, "true", "True", "myapp.users:load_user|True"},
					{loadUser, "null", nil, "null", "None", "myapp.users:load_user|None"},
					{loadUser, "null", 2.0, "2.0", "2.0", "myapp.users:load_user|2.0"},
					{loadUser, "null", []int{1, 2}, "[1, 2]", "[1, 2]", "myapp.users:load_user|[1, 2]"},
					{emptyNS, `""`, 7, "7", "7", "myapp.users:load_user||7"},
				} {
					want := c.key
					py := s.peer(t, "call_cached", mangler, c.namespace, "myapp.users", "load_user", c.json)
					if keys, _ := py["keys"].([]any); len(keys) != 1 || keys[0] != want || py["created"] != true {
						t.Errorf("Python's load_user(%s): %v; want one key %q and a created value", c.json, py, want)
						continue
					}
					if got, err := c.f.Key(c.arg); err != nil || got != want {
						t.Errorf("Go's key of %#v is %q, %v; Python's %q", c.arg, got, err, want)
					}
					v, err := c.f.Call(ctx, c.arg)
					if err != nil || v != (pyUser{Arg: c.text, By: "python"}) {
						t.Errorf("Go's Call(%#v) = %+v, %v; want the value Python cached", c.arg, v, err)
					}
				}
				if n := goCalls.Load(); n != 0 {
					t.Errorf("the Go function ran %d times; every value was cached by Python", n)
				}
			})
		})
	}
}
