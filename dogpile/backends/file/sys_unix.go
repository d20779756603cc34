//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package file

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
)

// supported reports whether this platform has the file locks the backend
// needs (flock(2)).
const supported = true

// fileID identifies a file across opens: the path may be renamed over by a
// compaction or replaced by hand while a process keeps the old one open.
type fileID struct{ dev, ino uint64 }

// fdStat returns the identity and size of an open file without allocating.
func fdStat(fd int) (fileID, int64, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return fileID{}, 0, err
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)}, st.Size, nil
}

// fdSize returns the size of an open file without allocating.
func fdSize(fd int) (int64, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return 0, err
	}
	return st.Size, nil
}

// fdSizeLinked returns the size of an open file, and whether a path still
// names it (deleting its last path leaves it without links), without
// allocating.
func fdSizeLinked(fd int) (int64, bool, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return 0, false, err
	}
	return st.Size, st.Nlink > 0, nil
}

// pathID returns the identity of the file at path, following symbolic
// links as open does.
func pathID(path string) (fileID, error) {
	var st syscall.Stat_t
	for {
		err := syscall.Stat(path, &st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fileID{}, &os.PathError{Op: "stat", Path: path, Err: err}
		}
		return fileID{uint64(st.Dev), uint64(st.Ino)}, nil
	}
}

func flock(fd, how int) error {
	for {
		err := syscall.Flock(fd, how)
		if err != syscall.EINTR {
			return err
		}
	}
}

func wouldBlock(err error) bool {
	return errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES)
}

// flockWait takes the read-write lock file's flock, shared or exclusive,
// waiting as long as ctx allows. A context that cannot end waits in the
// kernel; any other polls with a short jittered backoff, since a blocked
// flock(2) cannot be interrupted.
func flockWait(ctx context.Context, fd int, exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	err := flock(fd, how|syscall.LOCK_NB)
	if err == nil || !wouldBlock(err) {
		return err
	}
	if ctx.Done() == nil {
		return flock(fd, how)
	}
	b := backoff{min: 50 * time.Microsecond, max: 5 * time.Millisecond}
	for {
		if err := b.wait(ctx); err != nil {
			return err
		}
		err := flock(fd, how|syscall.LOCK_NB)
		if err == nil || !wouldBlock(err) {
			return err
		}
	}
}

func flockRelease(fd int) error { return flock(fd, syscall.LOCK_UN) }

// flockLocker is the whole-file fallback of the dogpile lock, used where
// open file description locks are missing: one flock(2) on the lock file
// for the whole process, taken when the process's first key is locked and
// released with its last, as dogpile.cache's KeyReentrantMutex does. Keys
// stay independent inside the process (the lock table sees to it); across
// processes, holding any key blocks every other.
type flockLocker struct {
	rc    syscall.RawConn
	mu    sync.Mutex
	count int // keys this process holds
}

func newFlockLocker(f *os.File) (rangeLocker, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &flockLocker{rc: rc}, nil
}

func (l *flockLocker) flock(how int) error {
	var err error
	if cerr := l.rc.Control(func(fd uintptr) { err = flock(int(fd), how) }); cerr != nil {
		return cerr
	}
	return err
}

func (l *flockLocker) tryLock(int64) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count > 0 {
		l.count++
		return true, nil
	}
	if err := l.flock(syscall.LOCK_EX | syscall.LOCK_NB); err != nil {
		if wouldBlock(err) {
			return false, nil
		}
		return false, err
	}
	l.count = 1
	return true, nil
}

func (l *flockLocker) unlock(int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count == 0 {
		return errors.New("unlock of a lock not held")
	}
	if l.count--; l.count > 0 {
		return nil
	}
	return l.flock(syscall.LOCK_UN)
}

func (l *flockLocker) test(int64) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count > 0 {
		return false, nil // this process holds the file: no other holds a key
	}
	if err := l.flock(syscall.LOCK_EX | syscall.LOCK_NB); err != nil {
		if wouldBlock(err) {
			return true, nil
		}
		return false, err
	}
	return false, l.flock(syscall.LOCK_UN)
}

func (l *flockLocker) perKey() bool { return false }

// syncDir makes a rename or a creation in dir durable. File systems that
// cannot sync a directory are not an error: there is nothing more to do.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return err
	}
	return nil
}
