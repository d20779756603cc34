package memcached

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// dialer returns the client's DialContext for the connection arguments:
// TLS (tls_context), TCP keep-alive (socket_keepalive) and memcached's
// ASCII authentication (username, password). Its connections bound their
// first exchange (see boundedConn).
func (c connConfig) dialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := &net.Dialer{KeepAlive: c.keepAlive}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		limit := time.Now().Add(c.timeout)
		var (
			conn net.Conn
			err  error
		)
		if c.tls != nil {
			conn, err = (&tls.Dialer{NetDialer: nd, Config: c.tls}).DialContext(ctx, network, addr)
		} else {
			conn, err = nd.DialContext(ctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		if c.username != "" {
			if err := authenticate(ctx, conn, c.username, c.password, c.timeout); err != nil {
				_ = conn.Close()
				return nil, err
			}
		}
		bc := &boundedConn{Conn: conn}
		bc.limit.Store(limit.UnixNano())
		return bc, nil
	}
}

// authenticate performs memcached's ASCII authentication (a server started
// with -Y <auth file>): a set whose value is "<username> <password>".
// Servers that accept only binary-protocol SASL cannot be used: the
// memcache client speaks the text protocol.
func authenticate(ctx context.Context, conn net.Conn, user, pass string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	cred := user + " " + pass
	if _, err := conn.Write([]byte("set auth 0 0 " + strconv.Itoa(len(cred)) + "\r\n" + cred + "\r\n")); err != nil {
		return fmt.Errorf("authenticating as %q: %w", user, err)
	}
	// Read the reply a byte at a time: nothing after it may be consumed,
	// the connection is handed to the client next.
	var line []byte
	buf := make([]byte, 1)
	for len(line) < 512 {
		if _, err := conn.Read(buf); err != nil {
			return fmt.Errorf("authenticating as %q: %w", user, err)
		}
		line = append(line, buf[0])
		if buf[0] == '\n' {
			break
		}
	}
	if string(line) != "STORED\r\n" {
		return fmt.Errorf("authenticating as %q: server replied %q", user, line)
	}
	return conn.SetDeadline(time.Time{})
}

// boundedConn is a connection whose deadlines are no later than the
// socket timeout after dialling began, until the server first sends
// something. The memcache client dials within its Timeout and then gives
// each read of the first exchange a Timeout of its own; bounded, a
// server that stalls costs a call one socket timeout, connecting
// included.
type boundedConn struct {
	net.Conn
	limit atomic.Int64 // unix nanoseconds; 0 once the server has answered
}

// SetDeadline sets the connection's deadline, no later than its limit
// while the server has not answered.
func (c *boundedConn) SetDeadline(t time.Time) error {
	if l := c.limit.Load(); l != 0 && (t.IsZero() || t.UnixNano() > l) {
		t = time.Unix(0, l)
	}
	return c.Conn.SetDeadline(t)
}

// Read reads from the connection; the first bytes lift the limit.
func (c *boundedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.limit.Load() != 0 {
		c.limit.Store(0)
	}
	return n, err
}
