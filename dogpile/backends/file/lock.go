package file

// The dogpile lock across processes. Each key maps to a one-byte slot of
// the dogpile lock file, at an offset taken from a stable hash of the key;
// taking the key's lock is taking a write lock on that byte. On Linux the
// byte-range locks are open file description locks (F_OFD_SETLK), owned by
// the Backend's descriptor rather than by the process, so the Backend keeps
// a table of the slots its goroutines hold: one holder per slot in the
// process, then the kernel's lock against every other descriptor. Two
// keys whose slots collide (about one pair in 2^31) share a lock: an
// unrelated key waits, which is safe. When a process dies, the kernel
// drops its locks with its descriptors: a killed creator never blocks a
// key. Without open file description locks (other systems, Linux before
// 3.15), one flock(2) of the whole file per Backend stands in, as
// dogpile.cache does.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// slots is the number of lock slots of the dogpile lock file.
const slots = 1 << 31

// slotOf returns the lock file offset of key: FNV-1a, the same in every
// process and every build.
func slotOf(key string) int64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return int64(h % slots)
}

// rangeLocker is the lock of the kernel on the dogpile lock file.
type rangeLocker interface {
	// tryLock takes the slot at off without waiting.
	tryLock(off int64) (bool, error)
	// unlock releases the slot at off.
	unlock(off int64) error
	// test reports whether another descriptor holds the slot at off.
	test(off int64) (bool, error)
	// perKey reports whether slots are locked one by one (false: the
	// whole file at once).
	perKey() bool
}

// lockTable is the dogpile lock of one Backend: the slots its goroutines
// hold, and the kernel's lock on the file for the others.
type lockTable struct {
	f  *os.File
	os rangeLocker

	mu     sync.Mutex
	held   map[int64]chan struct{} // closed when the slot is released
	closed bool
}

func newLockTable(f *os.File, os rangeLocker) *lockTable {
	return &lockTable{f: f, os: os, held: make(map[int64]chan struct{})}
}

func (t *lockTable) close() error {
	t.mu.Lock()
	t.closed = true
	for off, done := range t.held {
		delete(t.held, off)
		close(done) // waiters in this process wake up to ErrClosed
	}
	t.mu.Unlock()
	return t.f.Close() // the kernel drops the locks of the descriptor
}

func (t *lockTable) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// free gives up the process's hold on a slot, unless Close already did.
func (t *lockTable) free(off int64, done chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.held[off] == done {
		delete(t.held, off)
		close(done)
	}
}

// Mutex returns the dogpile lock of key, shared by every process that
// opens the store with the same dogpile lock file, or nil when the store
// has none (WithoutDogpileLockFile): regions then use their in-process lock.
func (b *Backend) Mutex(key string) driver.Mutex {
	if b.locks == nil {
		return nil
	}
	return &mutex{t: b.locks, key: key, off: slotOf(key)}
}

// mutex is a driver.Mutex for one key. It is not re-entrant: Acquire on a
// mutex that holds its key reports false, as for any other holder.
type mutex struct {
	t   *lockTable
	key string
	off int64

	mu   sync.Mutex
	done chan struct{} // the slot this mutex holds, nil when it holds none
}

// pollMin and pollMax bound the pause between attempts at a slot another
// process holds.
const (
	pollMin = 500 * time.Microsecond
	pollMax = 20 * time.Millisecond
)

// Acquire takes the key's lock. With wait, it waits for the holders in
// this process, then polls the lock file with a short jittered backoff,
// until it has the lock or ctx ends.
func (m *mutex) Acquire(ctx context.Context, wait bool) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.t
	var done chan struct{}
	for done == nil {
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return false, ErrClosed
		}
		other, busy := t.held[m.off]
		if !busy {
			done = make(chan struct{})
			t.held[m.off] = done
		}
		t.mu.Unlock()
		if busy {
			if !wait {
				return false, nil
			}
			select {
			case <-other:
			case <-ctx.Done():
				return false, fmt.Errorf("waiting for the lock of %q: %w", m.key, ctx.Err())
			}
		}
	}
	b := backoff{min: pollMin, max: pollMax}
	for {
		ok, err := t.os.tryLock(m.off)
		if err != nil {
			t.free(m.off, done)
			if t.isClosed() {
				return false, ErrClosed
			}
			return false, fmt.Errorf("locking %q: %w", m.key, err)
		}
		if ok {
			m.done = done
			return true, nil
		}
		if !wait {
			t.free(m.off, done)
			return false, nil
		}
		if err := b.wait(ctx); err != nil {
			t.free(m.off, done)
			return false, fmt.Errorf("waiting for the lock of %q: %w", m.key, err)
		}
	}
}

// Release gives the lock up. Releasing a mutex that does not hold its key
// is an error.
func (m *mutex) Release(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done == nil {
		return fmt.Errorf("release of the lock of %q, which this Mutex does not hold", m.key)
	}
	done := m.done
	m.done = nil
	err := m.t.os.unlock(m.off)
	m.t.free(m.off, done)
	switch {
	case err != nil && m.t.isClosed():
		return ErrClosed // released with the descriptor
	case err != nil:
		return fmt.Errorf("unlocking %q: %w", m.key, err)
	}
	return nil
}

// Locked reports whether a goroutine of this Backend, or another Backend
// or process, holds the key's lock. With the whole-file fallback, any key
// held by another process counts.
func (m *mutex) Locked(context.Context) (bool, error) {
	t := m.t
	t.mu.Lock()
	_, busy := t.held[m.off]
	closed := t.closed
	t.mu.Unlock()
	switch {
	case closed:
		return false, ErrClosed
	case busy:
		return true, nil
	}
	locked, err := t.os.test(m.off)
	if err != nil {
		if t.isClosed() {
			return false, ErrClosed
		}
		return false, fmt.Errorf("testing the lock of %q: %w", m.key, err)
	}
	return locked, nil
}

// backoff is the jittered, growing pause between attempts at a lock that
// another process holds.
type backoff struct {
	min, max, cur time.Duration
	timer         *time.Timer
}

// wait pauses for the next interval, or returns ctx's error when ctx ends
// first.
func (b *backoff) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.cur == 0 {
		b.cur = b.min
	}
	d := b.cur/2 + rand.N(b.cur) // uniform in [cur/2, 3cur/2)
	b.cur = min(b.cur*2, b.max)
	if b.timer == nil {
		b.timer = time.NewTimer(d)
	} else {
		b.timer.Reset(d)
	}
	select {
	case <-b.timer.C:
		return nil
	case <-ctx.Done():
		b.timer.Stop()
		return ctx.Err()
	}
}
