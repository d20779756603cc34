package testserver

import "testing"

// StartRedisWith is StartRedis with args appended to redis-server's
// command line, such as "--rename-command", "HELLO", "" for a server that
// speaks RESP2 only, as before Redis 6.
func StartRedisWith(tb testing.TB, args ...string) *Redis {
	tb.Helper()
	srv := startServer(tb, redisSpec(tb, args))
	return &Redis{Addr: srv.addr(), srv: srv}
}

// Pause stops the server's process with SIGSTOP, as a server that stalls:
// its kernel still accepts connections and takes what clients send, but
// nothing is answered until Resume. Stop and the test's cleanup resume
// it first; Kill needs not. It fails tb if the server is not running or the
// platform cannot pause processes (Linux only).
func (r *Redis) Pause(tb testing.TB) {
	tb.Helper()
	if err := r.srv.pause(); err != nil {
		tb.Fatalf("testserver: pause redis-server: %v", err)
	}
}

// Resume continues a server stopped by Pause (SIGCONT): it answers what
// was sent meanwhile. It fails tb if the server is not running.
func (r *Redis) Resume(tb testing.TB) {
	tb.Helper()
	if err := r.srv.resume(); err != nil {
		tb.Fatalf("testserver: resume redis-server: %v", err)
	}
}

// Kill kills the server with SIGKILL, as a crash: it gets no chance to
// close its connections (the kernel resets them), and its data is lost.
// It returns once the process has exited; Restart starts it again.
// Killing a stopped server does nothing.
func (r *Redis) Kill() { r.srv.kill() }

// kill sends SIGKILL to the running process and waits until it exited.
func (s *server) kill() {
	s.mu.Lock()
	proc := s.proc
	s.proc = nil
	s.mu.Unlock()
	if proc == nil {
		return
	}
	_ = proc.cmd.Process.Kill()
	<-proc.done
}
