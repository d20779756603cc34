package memcached

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// A batch is the commands written before their replies are read: at
// most maxBatch of them, so that their replies (at most about 70 bytes
// each) fit in the socket buffers and neither side waits on the other,
// and at most maxBatchBytes of values (or a single larger one), so that a
// batch fits in a socket timeout on any link that suits memcached. A call
// of up to maxBatch small values per server is one round trip.
const (
	maxBatch      = 1024
	maxBatchBytes = 1 << 20
)

// Buffer sizes of a pipeline connection: the writer gathers a batch of
// small commands into few system calls; replies are short lines.
const (
	pipeWriteBuffer = 16 << 10
	pipeReadBuffer  = 4 << 10
)

// pipeline sends the backend's writes (protocol.go) on connections of its
// own, with the settings of the memcache client: its DialContext (TLS,
// authentication), its Timeout and its MaxIdleConns idle connections per
// server, read when they are needed.
type pipeline struct {
	client *memcache.Client // for its settings only

	mu   sync.Mutex
	idle map[string][]*pipeConn // by server address
}

// pipeConn is a connection of the pipeline.
type pipeConn struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
}

func (p *pipeline) timeout() time.Duration {
	if p.client.Timeout > 0 {
		return p.client.Timeout
	}
	return memcache.DefaultTimeout
}

func (p *pipeline) maxIdle() int {
	if p.client.MaxIdleConns > 0 {
		return p.client.MaxIdleConns
	}
	return memcache.DefaultMaxIdleConns
}

// exec sends cmds to the server at addr and sets errs[i] to the outcome
// of cmds[i]. Connecting and the first batch must be done within the
// client's Timeout, and each further batch within a Timeout of the one
// before; the context's deadline ends it all sooner, and its
// cancellation cuts it short. When a pooled connection turns out closed
// by the server (a restart), the idle connections to it are dropped, and
// the commands left unanswered are sent again once, on a new connection:
// sets and deletes can be repeated. Every other failure is the error of
// each command it left unanswered.
func (p *pipeline) exec(ctx context.Context, addr net.Addr, cmds []command, errs []error) {
	ctxDeadline, hasDeadline := ctx.Deadline()
	// limit is the deadline of an exchange that starts now.
	limit := func() time.Time {
		d := time.Now().Add(p.timeout())
		if hasDeadline && ctxDeadline.Before(d) {
			return ctxDeadline
		}
		return d
	}
	// ctxErr is err, or the context's error when the context ended or
	// its deadline is what stopped the exchange.
	ctxErr := func(err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if hasDeadline && !time.Now().Before(ctxDeadline) {
			return context.DeadlineExceeded
		}
		return err
	}
	deadline := limit()
	done := 0
	for retried := false; ; retried = true {
		c, pooled, err := p.conn(ctx, addr, deadline)
		if err != nil {
			fill(errs[done:], ctxErr(err))
			return
		}
		n, err := c.roundTrips(ctx, cmds[done:], errs[done:], addr.String(), deadline, limit)
		done += n
		if err == nil {
			p.put(addr, c)
			return
		}
		_ = c.nc.Close()
		if done == len(cmds) {
			return // answered, and the connection dropped
		}
		if !pooled || retried || !closedByServer(err) {
			fill(errs[done:], ctxErr(err))
			return
		}
		p.dropIdle(addr.String())
	}
}

// roundTrips writes cmds in batches and reads the replies of each, the
// first by deadline, each next one by limit() once the one before was
// answered. It returns how many commands have their outcome in errs, and
// the error that stopped it; the connection is then unusable. A batch
// whose replies are out of step counts as unanswered.
func (c *pipeConn) roundTrips(ctx context.Context, cmds []command, errs []error, addr string, deadline time.Time, limit func() time.Time) (int, error) {
	if err := c.nc.SetDeadline(deadline); err != nil {
		return 0, err
	}
	// A context that ends interrupts the exchange.
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	done := 0
	var err error
	for done < len(cmds) && err == nil {
		if done > 0 {
			// The next batch's own Timeout; set before the context is
			// checked, so that a cancellation is never overwritten.
			if err = c.nc.SetDeadline(limit()); err != nil {
				break
			}
			if ctx.Err() != nil {
				_ = c.nc.SetDeadline(time.Unix(1, 0))
			}
		}
		batch := cmds[done:batchEnd(cmds, done)]
		if err = writeCommands(c.w, batch); err != nil {
			break
		}
		var n int
		n, err = readReplies(c.r, batch, errs[done:], addr)
		if err == nil || !isOutOfStep(err) {
			done += n
		}
	}
	if !stop() && err == nil {
		// The context ended as the exchange did: the deadline it set
		// would fail the connection's next use.
		err = ctx.Err()
	}
	return done, err
}

// batchEnd is the end of the batch of cmds that starts at start.
func batchEnd(cmds []command, start int) int {
	end, size := start+1, len(cmds[start].value)
	for end < len(cmds) && end-start < maxBatch && size+len(cmds[end].value) <= maxBatchBytes {
		size += len(cmds[end].value)
		end++
	}
	return end
}

// conn returns an idle connection to addr, or dials one by deadline;
// pooled reports which.
func (p *pipeline) conn(ctx context.Context, addr net.Addr, deadline time.Time) (*pipeConn, bool, error) {
	key := addr.String()
	p.mu.Lock()
	if list := p.idle[key]; len(list) > 0 {
		c := list[len(list)-1]
		list[len(list)-1] = nil
		p.idle[key] = list[:len(list)-1]
		p.mu.Unlock()
		return c, true, nil
	}
	p.mu.Unlock()
	dial := p.client.DialContext
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	nc, err := dial(dctx, addr.Network(), key)
	if err != nil {
		return nil, false, err
	}
	return &pipeConn{nc: nc, r: bufio.NewReaderSize(nc, pipeReadBuffer), w: bufio.NewWriterSize(nc, pipeWriteBuffer)}, false, nil
}

// put keeps c for the next call to addr, unless MaxIdleConns are idle.
func (p *pipeline) put(addr net.Addr, c *pipeConn) {
	key := addr.String()
	p.mu.Lock()
	if len(p.idle[key]) < p.maxIdle() {
		if p.idle == nil {
			p.idle = make(map[string][]*pipeConn)
		}
		p.idle[key] = append(p.idle[key], c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		_ = c.nc.Close()
	}
}

// closeIdle closes the idle connections; the pipeline dials again when
// it is next used.
func (p *pipeline) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			_ = c.nc.Close()
		}
	}
}

// dropIdle closes the idle connections to addr.
func (p *pipeline) dropIdle(addr string) {
	p.mu.Lock()
	list := p.idle[addr]
	delete(p.idle, addr)
	p.mu.Unlock()
	for _, c := range list {
		_ = c.nc.Close()
	}
}

func fill(errs []error, err error) {
	for i := range errs {
		errs[i] = err
	}
}
