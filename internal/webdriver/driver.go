package webdriver

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// DriverOptions configure Start.
type DriverOptions struct {
	// Path is the chromedriver executable; "" looks "chromedriver" up in
	// PATH.
	Path string
	// StartTimeout bounds the wait for the server to be ready (10 s).
	StartTimeout time.Duration
}

// Driver is a running chromedriver.
type Driver struct {
	client
	cmd  *exec.Cmd
	log  *limitedBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done

	stopOnce sync.Once
}

// Start runs chromedriver on a free loopback port and waits until it is
// ready. Stop ends it.
func Start(ctx context.Context, o DriverOptions) (*Driver, error) {
	path := o.Path
	if path == "" {
		path = "chromedriver"
	}
	path, err := exec.LookPath(path)
	if err != nil {
		return nil, fmt.Errorf("webdriver: %w", err)
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 10 * time.Second
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	log := &limitedBuffer{max: 64 << 10}
	cmd := exec.Command(path, "--port="+strconv.Itoa(port), "--allowed-ips=127.0.0.1")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("webdriver: starting %s: %w", path, err)
	}
	d := &Driver{
		client: client{base: "http://127.0.0.1:" + strconv.Itoa(port), http: &http.Client{Timeout: 60 * time.Second}},
		cmd:    cmd, log: log, done: make(chan struct{}),
	}
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()
	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	for {
		var st struct {
			Ready bool `json:"ready"`
		}
		if err := d.do(ctx, http.MethodGet, "/status", nil, &st); err == nil && st.Ready {
			return d, nil
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("webdriver: %s exited at start (%v): %s", path, d.err, d.Log())
		case <-ctx.Done():
			d.Stop()
			return nil, fmt.Errorf("webdriver: %s not ready: %w: %s", path, ctx.Err(), d.Log())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL returns the server's base URL.
func (d *Driver) URL() string { return d.base }

// Log returns what chromedriver printed (the last 64 KiB).
func (d *Driver) Log() string { return d.log.String() }

// Stop asks chromedriver to shut down, which closes the browsers of its
// sessions, and kills it if it has not exited after a few seconds. It is
// safe to call more than once.
func (d *Driver) Stop() {
	d.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = d.do(ctx, http.MethodGet, "/shutdown", nil, nil)
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("webdriver: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// limitedBuffer keeps the last max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
