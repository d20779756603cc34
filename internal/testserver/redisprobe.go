package testserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// This file holds a minimal client for the Redis protocol (RESP2), enough
// to probe servers and set up clusters and sentinels.

// respError is an error reply ("-ERR ...").
type respError string

func (e respError) Error() string { return string(e) }

// redisDo sends one command on a new connection and returns the reply:
// a string for simple and bulk strings, nil for a null bulk string or
// array, an int64 for integers, []any for arrays, and a respError for an
// error reply.
func redisDo(addr string, args ...string) (any, error) {
	conn, err := net.DialTimeout("tcp", addr, probeTimeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(probeTimeout)); err != nil {
		return nil, err
	}
	if _, err := conn.Write(respCommand(args...)); err != nil {
		return nil, err
	}
	return readRESP(bufio.NewReader(conn))
}

// redisString is redisDo for commands whose reply is a string.
func redisString(addr string, args ...string) (string, error) {
	v, err := redisDo(addr, args...)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: unexpected reply %#v", args[0], v)
	}
	return s, nil
}

func respCommand(args ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return []byte(b.String())
}

func readRESP(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("malformed reply line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return body, nil
	case '-':
		return respError(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		arr := make([]any, n)
		for i := range arr {
			if arr[i], err = readRESP(r); err != nil {
				return nil, err
			}
		}
		return arr, nil
	}
	return nil, fmt.Errorf("unknown reply type %q", line)
}

// probeRedis checks that the server at addr answers PING and is the
// process pid (so a server of someone else's that won the port race is
// not mistaken for ours). It works for sentinels too.
func probeRedis(addr string, pid int) error {
	pong, err := redisDo(addr, "PING")
	if err != nil {
		return err
	}
	if pong != "PONG" {
		return fmt.Errorf("PING: got %#v, want PONG", pong)
	}
	info, err := redisString(addr, "INFO", "server")
	if err != nil {
		return err
	}
	got, ok := infoField(info, "process_id")
	if !ok {
		return errors.New("INFO server: no process_id")
	}
	if got != strconv.Itoa(pid) {
		return fmt.Errorf("port answered by process %s, not by %d", got, pid)
	}
	return nil
}

// infoField returns the value of key in an INFO or CLUSTER INFO reply.
func infoField(info, key string) (string, bool) {
	for line := range strings.SplitSeq(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && k == key {
			return v, true
		}
	}
	return "", false
}
