package testserver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisDo sends one command to the server at addr, through go-redis on a
// connection of its own, and returns the reply: a string for simple and
// bulk strings, nil for a null reply, an int64 for integers, []any for
// arrays. An error reply is an error.
func redisDo(addr string, args ...string) (any, error) {
	c := redis.NewClient(&redis.Options{
		Addr:            addr,
		Protocol:        2, // sentinels and old servers speak RESP2
		DisableIdentity: true,
		MaxRetries:      -1,
		DialTimeout:     probeTimeout,
		ReadTimeout:     probeTimeout,
		WriteTimeout:    probeTimeout,
		PoolSize:        1,
	})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmd := make([]any, len(args))
	for i, a := range args {
		cmd[i] = a
	}
	v, err := c.Do(ctx, cmd...).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return v, err
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
