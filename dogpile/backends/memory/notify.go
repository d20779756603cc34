package memory

import "sync"

// notifier hands the entries the cache drops to the function given to
// NotifyEvictions. The cache reports them under its locks, where the
// function (a region's, which calls its observers) must not run: they are
// queued, and one goroutine at a time calls the function for them, in
// order, started when the first arrives and gone once the queue is empty.
type notifier struct {
	mu      sync.Mutex
	f       func(key string, expired bool) // nil: nobody listens
	pending []eviction
	spare   []eviction // the last batch delivered, reused
	running bool       // a goroutine delivers the pending evictions
}

type eviction struct {
	key     string
	expired bool
}

func (n *notifier) set(f func(key string, expired bool)) {
	n.mu.Lock()
	n.f = f
	n.mu.Unlock()
}

// add queues an eviction, if anyone listens.
func (n *notifier) add(key string, expired bool) {
	n.mu.Lock()
	if n.f == nil {
		n.mu.Unlock()
		return
	}
	n.pending = append(n.pending, eviction{key, expired})
	start := !n.running
	n.running = true
	n.mu.Unlock()
	if start {
		go n.deliver()
	}
}

// deliver calls the function for the pending evictions until there are
// none left.
func (n *notifier) deliver() {
	for {
		n.mu.Lock()
		batch, f := n.pending, n.f
		if len(batch) == 0 || f == nil {
			n.pending = nil // nobody listens any more, or nothing is left
			n.running = false
			n.mu.Unlock()
			return
		}
		n.pending, n.spare = n.spare[:0], nil
		n.mu.Unlock()
		for i, e := range batch {
			f(e.key, e.expired)
			batch[i] = eviction{} // the key is no longer kept
		}
		n.mu.Lock()
		if n.spare == nil && cap(batch) <= maxSpare {
			n.spare = batch
		}
		n.mu.Unlock()
	}
}

// maxSpare bounds the batch kept for reuse, so that a burst of evictions
// does not keep its queue's memory for ever.
const maxSpare = 1024
