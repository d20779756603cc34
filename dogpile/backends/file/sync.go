package file

// Keeping a process's index in step with the store that other processes
// append to, compact and repair.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// lockRW takes the read-write lock file's flock when there is one, and
// returns the function that releases it. The caller holds mu exclusively.
//
// An operator may have deleted the lock file, or replaced it: the flock of
// a deleted file no longer excludes the processes that opened the new one.
// So once the flock is held, the path must still name the file locked;
// when it does not, the file at the path is opened (created when missing)
// and locked instead.
func (b *Backend) lockRW(ctx context.Context, exclusive bool) (func(), error) {
	if b.rw == nil {
		return func() {}, nil
	}
	for attempt := 1; ; attempt++ {
		if err := flockWait(ctx, b.rwFd, exclusive); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("waiting for the read-write lock: %w", err)
			}
			return nil, fmt.Errorf("read-write lock %s: %w", b.rwPath, err)
		}
		fd := b.rwFd
		unlock := func() { _ = flockRelease(fd) }
		id, err := pathID(b.rwPath)
		if err == nil && id == b.rwID || attempt == maxLockAttempts {
			// After many replacements in a row, go on: the checks of the
			// store keep its values right without the lock (see refresh).
			return unlock, nil
		}
		unlock()
		if err := b.openRW(); err != nil {
			return nil, err
		}
	}
}

// maxLockAttempts bounds how many times in a row lockRW follows a lock
// file that is deleted or replaced as soon as it is locked.
const maxLockAttempts = 100

// openRW opens (creating it when missing) the read-write lock file, in
// place of the one open, if any.
func (b *Backend) openRW() error {
	rw, err := os.OpenFile(b.rwPath, os.O_RDWR|os.O_CREATE, b.mode)
	if err != nil {
		return fmt.Errorf("opening the read-write lock file: %w", err)
	}
	id, _, err := fdStat(int(rw.Fd()))
	if err != nil {
		rw.Close()
		return fmt.Errorf("read-write lock file %s: %w", b.rwPath, err)
	}
	if b.rw != nil {
		b.rw.Close()
	}
	b.rw, b.rwFd, b.rwID = rw, int(rw.Fd()), id
	return nil
}

// adopt makes f the store and reads it whole into a new index. When its
// beginning is not a header (an empty file, a header being written or cut
// by a truncation, records after a cut header), the store is empty: with
// write, adopt then begins it again with a new header. With write, a torn
// or damaged tail is truncated away; without, such repairs are left for a
// writer (see needsRepair). A file of another program is refused (ErrFormat)
// and left as it is, unless it is the file the Backend has open already,
// adopted before as a store. The caller holds mu exclusively and the
// read-write lock.
func (b *Backend) adopt(f *os.File, write bool) error {
	fd := int(f.Fd())
	id, size, err := fdStat(fd)
	if err != nil {
		return fmt.Errorf("%s: %w", b.path, err)
	}
	state, hdr, problem, err := inspect(f, size)
	switch {
	case err != nil:
		return fmt.Errorf("reading %s: %w", b.path, err)
	case state == stateForeign && f == b.f:
		// The file this Backend has been using as a store: its beginning
		// was damaged in place (a truncation inside the header, then a
		// record torn by a crash, or still being written by a process that
		// locked a lock file since deleted). It is an empty store, not
		// another program's file.
		state = stateEmpty
	case state == stateForeign:
		return fmt.Errorf("%s: %w (%s)", b.path, ErrFormat, problem)
	}
	index := make(map[string]loc)
	var end, live int64
	if state == stateValid {
		end, err = scan(f, headerSize, size, func(r record) bool {
			applyRecord(index, &live, r)
			return true
		})
		if err != nil {
			return fmt.Errorf("reading %s: %w", b.path, err)
		}
		if write && end < size {
			began, h, err := b.cut(f, hdr, end)
			if err != nil {
				return err
			}
			if began {
				index, end, live, hdr = make(map[string]loc), headerSize, 0, h
			}
		}
	} else if write {
		if hdr, err = begin(f); err != nil {
			return fmt.Errorf("initialising %s: %w", b.path, err)
		}
		_ = syncDir(b.dir)
		end = headerSize
	}
	if b.f != nil && b.f != f {
		b.f.Close()
	}
	b.f, b.fd, b.id, b.index, b.end, b.live, b.hdr = f, fd, id, index, end, live, hdr
	b.nextCompact, b.suspect = 0, false
	return nil
}

// begin makes f an empty store: it truncates it and writes a new header,
// and returns the header. Should another process append at the same
// moment (one that locked a lock file since deleted), it begins again.
func begin(f *os.File) ([headerSize]byte, error) {
	var hdr [headerSize]byte
	for attempt := 1; ; attempt++ {
		if err := f.Truncate(0); err != nil {
			return hdr, err
		}
		h := header()
		at, err := appendAt(f, h)
		if err != nil {
			return hdr, err
		}
		if at == 0 {
			copy(hdr[:], h)
			return hdr, f.Sync()
		}
		if attempt == 3 {
			return hdr, errors.New("the file keeps changing under the exclusive lock")
		}
	}
}

// appendAt appends data to f, opened O_APPEND, with one write call, and
// returns the offset it landed at: the size of the file at the moment of
// the write, which another process (or an operator's truncation) may have
// changed since this one last looked.
func appendAt(f *os.File, data []byte) (int64, error) {
	n, err := f.Write(data)
	pos, serr := f.Seek(0, io.SeekCurrent)
	switch {
	case err != nil:
		return pos - int64(n), err
	case serr != nil:
		return -1, serr
	}
	return pos - int64(n), nil
}

// cut truncates the torn or damaged tail of f, the store with header hdr,
// to end. A truncation of the operator's at the same moment may make the
// file shorter than end: the cut then lengthens it with zeros, and when
// they reach the header, cut begins the store again and returns its new
// header, with began set. The caller holds the exclusive lock.
func (b *Backend) cut(f *os.File, hdr [headerSize]byte, end int64) (began bool, _ [headerSize]byte, _ error) {
	if size, err := fdSize(int(f.Fd())); err != nil || size <= end {
		return false, hdr, err
	}
	if err := f.Truncate(end); err != nil {
		return false, hdr, fmt.Errorf("dropping the torn end of %s: %w", b.path, err)
	}
	var h [headerSize]byte
	if _, err := f.ReadAt(h[:], 0); err == nil && h == hdr {
		return false, hdr, nil
	}
	hdr, err := begin(f)
	if err != nil {
		return false, hdr, fmt.Errorf("initialising %s: %w", b.path, err)
	}
	return true, hdr, nil
}

// applyRecord applies a set or delete record to an index.
func applyRecord(index map[string]loc, live *int64, r record) {
	switch r.kind {
	case kindSet:
		if old, ok := index[r.key]; ok {
			*live -= recordSize(len(r.key), int(old.n))
		}
		index[r.key] = loc{off: r.off, n: int32(r.vlen)}
		*live += recordSize(len(r.key), r.vlen)
	case kindDelete:
		if old, ok := index[r.key]; ok {
			*live -= recordSize(len(r.key), int(old.n))
			delete(index, r.key)
		}
	}
}

// refresh brings the index up to date with the file at the store's path:
// it reads the records other Backends appended, and reopens the path when
// it names another file (a compaction renamed its result over the store,
// or the store was deleted or replaced). When the file no longer is what
// the index was read from (it shrank, its header changed, or the records
// after the index's end do not follow on from it), the index is read again
// from the header: an operator truncated the store, and what a truncation
// left cannot be told from records appended since by offsets alone. With
// write, the caller holds the exclusive read-write lock (or there is
// none): a torn tail is truncated away and a missing store is created
// again. Otherwise refresh reports whether the store needs such a repair.
// The caller holds mu exclusively.
func (b *Backend) refresh(write bool) (repair bool, err error) {
	id, err := pathID(b.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if write {
			return false, b.recreate()
		}
		return true, nil // for a writer to create again
	case err != nil:
		return false, err
	case id != b.id:
		return b.reopen(write)
	}
	for {
		size, err := fdSize(b.fd)
		if err != nil {
			return false, fmt.Errorf("%s: %w", b.path, err)
		}
		if b.suspect || b.end < headerSize || size < b.end {
			return b.reload(write)
		}
		var h [headerSize]byte
		if _, err := b.f.ReadAt(h[:], 0); err != nil && ioErr(err) != nil {
			return false, fmt.Errorf("reading %s: %w", b.path, err)
		}
		if h != b.hdr {
			return b.reload(write) // emptied and begun again
		}
		if size == b.end {
			return false, nil
		}
		moved := false
		end, err := scan(b.f, b.end, size, func(r record) bool {
			if r.kind == kindMoved {
				moved = true
				return false
			}
			applyRecord(b.index, &b.live, r)
			return true
		})
		b.end = end
		if err != nil {
			return false, fmt.Errorf("reading %s: %w", b.path, err)
		}
		if moved {
			if id, err := pathID(b.path); err == nil && id != b.id {
				return b.reopen(write)
			}
			continue // a compaction that did not finish: carry on after its mark
		}
		if end == size {
			return false, nil
		}
		// A torn tail, or records that do not follow on from the index.
		return b.reload(write)
	}
}

// reopen opens the store's path again and reads it whole.
func (b *Backend) reopen(write bool) (bool, error) {
	f, err := os.OpenFile(b.path, os.O_RDWR|os.O_APPEND, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if write {
			return false, b.recreate()
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reopening the store: %w", err)
	}
	if err := b.adopt(f, write); err != nil {
		f.Close()
		return false, err
	}
	return b.needsRepair()
}

// reload reads the open store whole again.
func (b *Backend) reload(write bool) (bool, error) {
	if err := b.adopt(b.f, write); err != nil {
		return false, err
	}
	return b.needsRepair()
}

// needsRepair reports whether the store holds more than its valid records:
// a torn tail, or an unfinished or cut header.
func (b *Backend) needsRepair() (bool, error) {
	size, err := fdSize(b.fd)
	if err != nil {
		return false, fmt.Errorf("%s: %w", b.path, err)
	}
	return size != b.end, nil
}

// recreate makes a new store at the path, which no longer exists, and
// marks the old file so that other processes reading it move over. When
// another process created it first, recreate opens that one.
func (b *Backend) recreate() error {
	f, err := os.OpenFile(b.path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, b.mode)
	if errors.Is(err, fs.ErrExist) {
		_, err := b.reopen(true)
		return err
	}
	if err != nil {
		return fmt.Errorf("creating the store again: %w", err)
	}
	if b.f != nil {
		// Processes reading the old file move over when they read this.
		_, _ = b.f.Write(appendRecord(nil, kindMoved, "", nil))
	}
	if err := b.adopt(f, true); err != nil {
		f.Close()
		return err
	}
	return nil
}

// removeLeftovers deletes the temporary files of compactions that did not
// finish. The caller holds the exclusive read-write lock, so no compaction
// is under way.
func (b *Backend) removeLeftovers() {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return
	}
	prefix := filepath.Base(b.path) + ".compact-"
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			_ = os.Remove(filepath.Join(b.dir, e.Name()))
		}
	}
}

// inSync reports, under mu's read lock, whether the index reflects the
// store: nothing was appended since it was read, the open file was not
// deleted (it has a link left) and (checked once per identityCheck) the
// path still names it. Without a read-write lock file the store belongs to
// this Backend alone, and its size is only checked with the path's
// identity, in case the file was changed by hand.
func (b *Backend) inSync() bool {
	if b.closed || b.suspect {
		return false
	}
	if b.rw != nil {
		if size, linked, err := fdSizeLinked(b.fd); err != nil || size != b.end || !linked {
			return false
		}
	}
	if now := time.Now().UnixNano(); now >= b.checkAt.Load() {
		if id, err := pathID(b.path); err != nil || id != b.id {
			return false
		}
		if size, err := fdSize(b.fd); err != nil || size != b.end {
			return false
		}
		b.checkAt.Store(now + int64(identityCheck))
	}
	return true
}

// catchUp is the read path's refresh: under mu held exclusively, it reads
// what changed under the shared read-write lock, and repairs a torn tail
// under the exclusive one. With reread, the index is read again from the
// header: a read found a record other than the one the index expects.
func (b *Backend) catchUp(ctx context.Context, reread bool) error {
	if b.closed {
		return ErrClosed
	}
	b.suspect = b.suspect || reread
	unlock, err := b.lockRW(ctx, false)
	if err != nil {
		return err
	}
	repair, err := b.refresh(false)
	unlock()
	if err != nil {
		return err
	}
	if repair {
		if unlock, err = b.lockRW(ctx, true); err != nil {
			return err
		}
		_, err = b.refresh(true)
		unlock()
		if err != nil {
			return err
		}
	}
	b.checkAt.Store(time.Now().Add(identityCheck).UnixNano())
	return nil
}
