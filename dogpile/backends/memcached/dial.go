package memcached

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"time"
)

// dialer returns the client's DialContext for the connection arguments:
// TLS (tls_context), TCP keep-alive (socket_keepalive) and memcached's
// ASCII authentication (username, password). It returns nil when none is
// set, leaving the client's plain dialer.
func (c connConfig) dialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	if c.tls == nil && !c.keepAliveG && c.username == "" {
		return nil
	}
	nd := &net.Dialer{KeepAlive: c.keepAlive}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
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
		return conn, nil
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
