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
//
// An operator may delete the lock file (or replace it) while processes
// hold locks in it: a process that opens the path afterwards creates a new
// file, whose locks the old one's do not exclude. So before and after
// taking a slot, a Backend checks that the path still names the file it
// locks in, and moves to the file at the path when it does not. Slots held
// in the old file stay held there until released: during that time, the
// key may be taken in the new file too (its value created twice, never a
// wrong one).

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
// hold, and the kernel's lock on the lock file for the others.
type lockTable struct {
	path       string
	mode       os.FileMode
	forceFlock bool

	mu      sync.Mutex
	cur     *lockHandle              // the lock file at the path, when last seen
	handles map[*lockHandle]struct{} // every lock file open: cur, and replaced ones still in use
	held    map[int64]chan struct{}  // closed when the slot is released
	closed  bool
}

// lockHandle is one open lock file.
type lockHandle struct {
	f    *os.File
	os   rangeLocker
	id   fileID
	refs int // slots held in it, and attempts under way
}

func openLockHandle(path string, mode os.FileMode, forceFlock bool) (*lockHandle, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, mode)
	if err != nil {
		return nil, fmt.Errorf("opening the dogpile lock file: %w", err)
	}
	id, _, err := fdStat(int(f.Fd()))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("dogpile lock file %s: %w", path, err)
	}
	rl, err := newRangeLocker(f, forceFlock)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("dogpile lock file %s: %w", path, err)
	}
	return &lockHandle{f: f, os: rl, id: id}, nil
}

func newLockTable(path string, mode os.FileMode, forceFlock bool) (*lockTable, error) {
	h, err := openLockHandle(path, mode, forceFlock)
	if err != nil {
		return nil, err
	}
	return &lockTable{
		path: path, mode: mode, forceFlock: forceFlock,
		cur: h, handles: map[*lockHandle]struct{}{h: {}}, held: make(map[int64]chan struct{}),
	}, nil
}

func (t *lockTable) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for off, done := range t.held {
		delete(t.held, off)
		close(done) // waiters in this process wake up to ErrClosed
	}
	var errs []error
	for h := range t.handles {
		delete(t.handles, h)
		errs = append(errs, h.f.Close()) // the kernel drops the locks of the descriptor
	}
	return errors.Join(errs...)
}

func (t *lockTable) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// current returns the lock file the path names, opening it (creating it
// when missing) in place of the current one when it was deleted or
// replaced. The caller gives it back with put.
func (t *lockTable) current() (*lockHandle, error) {
	id, err := pathID(t.path)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	if (err == nil && id != t.cur.id) || errors.Is(err, fs.ErrNotExist) {
		h, err := openLockHandle(t.path, t.mode, t.forceFlock)
		if err != nil {
			return nil, err
		}
		old := t.cur
		t.cur, t.handles[h] = h, struct{}{}
		t.release(old)
	}
	t.cur.refs++
	return t.cur, nil
}

// replaced reports whether the path no longer names the lock file h.
func (t *lockTable) replaced(h *lockHandle) bool {
	id, err := pathID(t.path)
	return errors.Is(err, fs.ErrNotExist) || err == nil && id != h.id
}

// put gives back a lock file current returned.
func (t *lockTable) put(h *lockHandle) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h.refs--
	t.release(h)
}

// release closes h when it was replaced and nothing uses it any more. The
// caller holds t.mu.
func (t *lockTable) release(h *lockHandle) {
	if _, open := t.handles[h]; open && h != t.cur && h.refs == 0 {
		delete(t.handles, h)
		h.f.Close()
	}
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
	h    *lockHandle   // the lock file it holds the slot in
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
	for attempt := 1; ; attempt++ {
		h, err := t.current()
		if err != nil {
			t.free(m.off, done)
			return false, m.lockErr(err)
		}
		ok, err := h.os.tryLock(m.off)
		if err == nil && ok && attempt < maxLockAttempts && t.replaced(h) {
			// Deleted while it was locked: lock the file at the path.
			_ = h.os.unlock(m.off)
			t.put(h)
			continue
		}
		if err == nil && ok {
			m.done, m.h = done, h
			return true, nil
		}
		t.put(h)
		if err != nil {
			t.free(m.off, done)
			return false, m.lockErr(err)
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

func (m *mutex) lockErr(err error) error {
	if errors.Is(err, ErrClosed) || m.t.isClosed() {
		return ErrClosed
	}
	return fmt.Errorf("locking %q: %w", m.key, err)
}

// Release gives the lock up. Releasing a mutex that does not hold its key
// is an error.
func (m *mutex) Release(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done == nil {
		return fmt.Errorf("release of the lock of %q, which this Mutex does not hold", m.key)
	}
	done, h := m.done, m.h
	m.done, m.h = nil, nil
	err := h.os.unlock(m.off)
	m.t.free(m.off, done)
	m.t.put(h)
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
	h, err := t.current()
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return false, err
		}
		return false, fmt.Errorf("testing the lock of %q: %w", m.key, err)
	}
	locked, err := h.os.test(m.off)
	t.put(h)
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
