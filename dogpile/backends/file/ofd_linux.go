package file

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// Open file description locks (Linux 3.15 and later): fcntl byte-range
// locks owned by the open file description, not by the process, so two
// descriptions of one file in one process exclude each other, and the
// kernel drops them when the last descriptor closes, also when a process
// is killed. The values are the same on every Linux architecture.
const (
	fOFDGetLK = 36 // F_OFD_GETLK
	fOFDSetLK = 37 // F_OFD_SETLK
)

// ofdLocker locks one byte per key slot of the dogpile lock file.
type ofdLocker struct {
	rc syscall.RawConn
}

// newRangeLocker returns the per-key byte-range locker for the dogpile lock
// file, or the whole-file flock fallback when the kernel lacks open file
// description locks (or forceFlock asks for it).
func newRangeLocker(f *os.File, forceFlock bool) (rangeLocker, error) {
	if forceFlock {
		return newFlockLocker(f)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	l := &ofdLocker{rc: rc}
	if _, err := l.test(0); err != nil {
		if errors.Is(err, syscall.EINVAL) {
			return newFlockLocker(f) // a kernel older than 3.15
		}
		return nil, err
	}
	return l, nil
}

func (l *ofdLocker) fcntl(cmd int, lk *syscall.Flock_t) error {
	var err error
	cerr := l.rc.Control(func(fd uintptr) {
		for {
			if err = syscall.FcntlFlock(fd, cmd, lk); err != syscall.EINTR {
				return
			}
		}
	})
	if cerr != nil {
		return cerr
	}
	return err
}

func (l *ofdLocker) tryLock(off int64) (bool, error) {
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart, Start: off, Len: 1}
	if err := l.fcntl(fOFDSetLK, &lk); err != nil {
		if wouldBlock(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func (l *ofdLocker) unlock(off int64) error {
	lk := syscall.Flock_t{Type: syscall.F_UNLCK, Whence: io.SeekStart, Start: off, Len: 1}
	return l.fcntl(fOFDSetLK, &lk)
}

// test reports whether another open file description holds the slot.
func (l *ofdLocker) test(off int64) (bool, error) {
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart, Start: off, Len: 1}
	if err := l.fcntl(fOFDGetLK, &lk); err != nil {
		return false, err
	}
	return lk.Type != syscall.F_UNLCK, nil
}

func (l *ofdLocker) perKey() bool { return true }
