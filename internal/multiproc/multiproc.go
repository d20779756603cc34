// Package multiproc runs one test in several processes by re-running the
// test binary, as groupcache's tests do: the parent starts children that
// run only the named test, with an environment variable telling them which
// child they are; the children find each other through a shared directory
// or the cache server under test.
package multiproc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	envChild = "DOGPILE_MULTIPROC_CHILD"
	envDir   = "DOGPILE_MULTIPROC_DIR"
)

// Child reports whether this process is a child started by Start, with its
// index (0 to n-1) and the directory the group shares.
func Child() (index int, dir string, ok bool) {
	s, set := os.LookupEnv(envChild)
	if !set {
		return 0, "", false
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		return 0, "", false
	}
	return i, os.Getenv(envDir), true
}

// Group is a set of child processes running one test.
type Group struct {
	dir   string
	cmds  []*exec.Cmd
	outs  []*syncBuffer
	waits []chan error
}

// Start runs test (matched exactly) in n children of the current test
// binary, each with the environment of this process plus env ("K=V"). The
// children are killed when t ends if they are still running.
func Start(t testing.TB, test string, n int, env ...string) *Group {
	t.Helper()
	g := &Group{dir: t.TempDir()}
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), append([]string{
			envChild + "=" + strconv.Itoa(i), envDir + "=" + g.dir,
		}, env...)...)
		out := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatalf("multiproc: starting child %d: %v", i, err)
		}
		wait := make(chan error, 1)
		go func() { wait <- cmd.Wait() }()
		g.cmds, g.outs, g.waits = append(g.cmds, cmd), append(g.outs, out), append(g.waits, wait)
	}
	t.Cleanup(func() {
		for i, cmd := range g.cmds {
			_ = cmd.Process.Kill()
			if g.waits[i] != nil {
				<-g.waits[i]
			}
		}
	})
	return g
}

// Dir is the directory the parent and the children share.
func (g *Group) Dir() string { return g.dir }

// Kill sends SIGKILL to child i and waits until it has exited.
func (g *Group) Kill(i int) {
	_ = g.cmds[i].Process.Signal(syscall.SIGKILL)
	<-g.waits[i]
	g.waits[i] = nil
}

// Wait waits up to timeout for every child still running and returns an
// error naming each child that failed, with its output.
func (g *Group) Wait(timeout time.Duration) error {
	deadline := time.After(timeout)
	var failed []string
	for i, w := range g.waits {
		if w == nil {
			continue
		}
		select {
		case err := <-w:
			g.waits[i] = nil
			if err != nil {
				failed = append(failed, fmt.Sprintf("child %d: %v\n%s", i, err, g.outs[i].String()))
			}
		case <-deadline:
			return fmt.Errorf("multiproc: child %d still running after %v\n%s", i, timeout, g.outs[i].String())
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("multiproc: %d children failed:\n%s", len(failed), bytes.Join(toBytes(failed), []byte("\n")))
	}
	return nil
}

// Output returns what child i has written so far.
func (g *Group) Output(i int) string { return g.outs[i].String() }

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
