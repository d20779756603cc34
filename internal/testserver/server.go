package testserver

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// serverSpec describes how to run and probe one kind of server.
type serverSpec struct {
	name      string // binary name, for messages
	path      string // binary path
	dir       string // working directory
	busOffset int    // see freePort; 0 for none
	// args returns the command line for a server on port. It may write
	// files (a sentinel's configuration) into dir.
	args func(port int) ([]string, error)
	// probe returns nil once the server at addr is ready and is the
	// process with the given pid.
	probe func(addr string, pid int) error
}

// server is a server process that can be stopped and started again on
// the same port.
type server struct {
	spec serverSpec
	out  *output
	port int

	mu   sync.Mutex
	proc *process // nil while stopped
}

// startServer starts spec on a free port, failing tb if it cannot, and
// registers a cleanup that stops it.
func startServer(tb testing.TB, spec serverSpec) *server {
	tb.Helper()
	s := &server{spec: spec, out: &output{}}
	if err := s.launch(0); err != nil {
		tb.Fatalf("testserver: start %s: %v%s", spec.name, err, s.out.tail())
	}
	tb.Cleanup(s.stop)
	return s
}

func (s *server) addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return loopbackAddr(s.port)
}

// launch starts the server and waits until it is ready. With port 0 it
// picks a free port, and picks another when the server exits at startup
// (the port was taken in between); with a fixed port it retries that port.
func (s *server) launch(port int) error {
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		p := port
		if p == 0 {
			var err error
			if p, err = freePort(s.spec.busOffset); err != nil {
				return err
			}
		}
		args, err := s.spec.args(p)
		if err != nil {
			return err
		}
		s.out.note("starting %s on port %d (attempt %d)", s.spec.name, p, attempt)
		proc, err := startProcess(s.spec.path, args, s.spec.dir, s.out)
		if err != nil {
			return err
		}
		addr := loopbackAddr(p)
		err = proc.waitReady(func() error { return s.spec.probe(addr, proc.pid()) })
		if err == nil {
			s.mu.Lock()
			s.port, s.proc = p, proc
			s.mu.Unlock()
			return nil
		}
		proc.stop()
		lastErr = fmt.Errorf("on %s: %w", addr, err)
		if !errors.Is(err, errExited) {
			break // it ran but never answered: another port will not help
		}
	}
	return lastErr
}

// stop stops the server if it is running; it is safe to call repeatedly.
func (s *server) stop() {
	s.mu.Lock()
	proc := s.proc
	s.proc = nil
	s.mu.Unlock()
	if proc != nil {
		proc.stop()
	}
}

// pause stops the running process (SIGSTOP).
func (s *server) pause() error {
	s.mu.Lock()
	proc := s.proc
	s.mu.Unlock()
	if proc == nil {
		return errors.New("not running")
	}
	return proc.pause()
}

// resume continues the running process (SIGCONT).
func (s *server) resume() error {
	s.mu.Lock()
	proc := s.proc
	s.mu.Unlock()
	if proc == nil {
		return errors.New("not running")
	}
	return proc.resume()
}

// restart stops the server if it runs and starts it again on its port.
func (s *server) restart(tb testing.TB) {
	tb.Helper()
	s.stop()
	s.mu.Lock()
	port := s.port
	s.mu.Unlock()
	if err := s.launch(port); err != nil {
		tb.Fatalf("testserver: restart %s: %v%s", s.spec.name, err, s.out.tail())
	}
}
