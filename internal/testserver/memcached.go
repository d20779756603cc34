package testserver

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Memcached is a memcached started by StartMemcached.
type Memcached struct {
	// Addr is the server's "127.0.0.1:port" address. It stays the same
	// across Restart.
	Addr string

	srv *server
}

// StartMemcached starts a memcached on a free loopback port (TCP only)
// for the duration of the test and returns it once it answers the version
// command. It is stopped when the test ends.
func StartMemcached(tb testing.TB) *Memcached {
	tb.Helper()
	path := lookBinary(tb, "memcached", "memcached")
	srv := startServer(tb, serverSpec{
		name: "memcached",
		path: path,
		dir:  tb.TempDir(),
		args: func(port int) ([]string, error) {
			args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0"}
			if os.Geteuid() == 0 {
				args = append(args, "-u", "root") // memcached refuses to run as root otherwise
			}
			return args, nil
		},
		probe: probeMemcached,
	})
	return &Memcached{Addr: srv.addr(), srv: srv}
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 seconds) and waits
// for it to exit, which takes up to a second (memcached acts on SIGTERM
// in its once-a-second clock tick). Its data is lost. Stopping a stopped
// server does nothing.
func (m *Memcached) Stop() { m.srv.stop() }

// Restart stops the server if it is running and starts an empty one on
// the same address, returning once it answers. It fails tb if the server
// cannot be started.
func (m *Memcached) Restart(tb testing.TB) {
	tb.Helper()
	m.srv.restart(tb)
}

// Pause stops the server's process with SIGSTOP, as a server that stalls:
// its kernel still accepts connections and takes what clients send, but
// nothing is answered until Resume. Stop and the test's cleanup resume
// it first. It fails tb if the server is not running or the platform
// cannot pause processes (Linux only).
func (m *Memcached) Pause(tb testing.TB) {
	tb.Helper()
	if err := m.srv.pause(); err != nil {
		tb.Fatalf("testserver: pause memcached: %v", err)
	}
}

// Resume continues a server stopped by Pause (SIGCONT): it answers what
// was sent meanwhile. It fails tb if the server is not running.
func (m *Memcached) Resume(tb testing.TB) {
	tb.Helper()
	if err := m.srv.resume(); err != nil {
		tb.Fatalf("testserver: resume memcached: %v", err)
	}
}

// probeMemcached checks that the server at addr answers "version" and is
// the process pid (per "stats").
func probeMemcached(addr string, pid int) error {
	conn, err := net.DialTimeout("tcp", addr, probeTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(probeTimeout)); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	if _, err := conn.Write([]byte("version\r\n")); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "VERSION ") {
		return fmt.Errorf("version: got %q", line)
	}
	if _, err := conn.Write([]byte("stats\r\n")); err != nil {
		return err
	}
	got := ""
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimSpace(line)
		if line == "END" {
			break
		}
		if v, ok := strings.CutPrefix(line, "STAT pid "); ok {
			got = v
		}
	}
	if got != strconv.Itoa(pid) {
		return fmt.Errorf("port answered by process %q, not by %d", got, pid)
	}
	return nil
}
