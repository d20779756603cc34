package testserver_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/internal/testserver"
)

// TestRedisPauseResume: a paused server takes connections and commands
// but answers nothing until it is resumed; then it answers what it was
// sent.
func TestRedisPauseResume(t *testing.T) {
	t.Parallel()
	r := testserver.StartRedis(t)
	redisCall(t, r.Addr, "SET", "k", "v")
	r.Pause(t)
	conn, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		t.Fatalf("dial a paused server: %v; want its kernel to accept", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := conn.Read(buf); err == nil {
		t.Fatalf("a paused server answered %q", buf[:n])
	}
	r.Resume(t)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "$1\r\nv\r\n" {
		t.Fatalf("after Resume: %q, %v; want the answer to the GET sent while paused", buf[:n], err)
	}
}

// TestRedisKill: a killed server refuses connections, its connections
// are reset, and Restart starts an empty one on the same address; a
// paused server is killed as well, and Kill twice is harmless.
func TestRedisKill(t *testing.T) {
	t.Parallel()
	r := testserver.StartRedis(t)
	redisCall(t, r.Addr, "SET", "k", "v")
	conn, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r.Pause(t)
	r.Kill()
	r.Kill()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection to the killed server read data; want it closed")
	}
	wantRefused(t, r.Addr)
	r.Restart(t)
	if got := redisCall(t, r.Addr, "GET", "k"); got != "<nil>" {
		t.Fatalf("GET after Kill and Restart = %v, want a fresh empty server", got)
	}
}

// TestStartRedisWith: the arguments reach the server.
func TestStartRedisWith(t *testing.T) {
	t.Parallel()
	r := testserver.StartRedisWith(t, "--rename-command", "HELLO", "")
	if got, ok := redisCall(t, r.Addr, "HELLO", "3").(string); !ok || !strings.HasPrefix(got, "-ERR") {
		t.Fatalf("HELLO on a server without it = %v; want an error", got)
	}
	if got := redisCall(t, r.Addr, "PING"); got != "PONG" {
		t.Fatalf("PING = %v", got)
	}
}
