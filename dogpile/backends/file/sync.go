package file

// Keeping a process's index in step with the store that other processes
// append to, compact and repair.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// lockRW takes the read-write lock file's flock when there is one, and
// returns the function that releases it. The caller holds mu exclusively.
func (b *Backend) lockRW(ctx context.Context, exclusive bool) (func(), error) {
	if b.rw == nil {
		return func() {}, nil
	}
	if err := flockWait(ctx, b.rwFd, exclusive); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("waiting for the read-write lock: %w", err)
		}
		return nil, fmt.Errorf("read-write lock %s: %w", b.rwPath, err)
	}
	return func() { _ = flockRelease(b.rwFd) }, nil
}

// adopt makes f the store: it checks the header (writing it in a new
// file, when write is set), reads every record into a new index and,
// with write, truncates a torn tail away. Without write, a torn tail or
// an unfinished header is left for a writer (see needsRepair). The caller
// holds mu exclusively and the read-write lock.
func (b *Backend) adopt(f *os.File, write bool) (err error) {
	fd := int(f.Fd())
	id, size, err := fdStat(fd)
	if err != nil {
		return fmt.Errorf("%s: %w", b.path, err)
	}
	h := make([]byte, min(size, headerSize))
	if _, err := f.ReadAt(h, 0); err != nil && ioErr(err) != nil {
		return fmt.Errorf("reading %s: %w", b.path, err)
	}
	complete, problem := checkHeader(h)
	if problem != "" {
		return fmt.Errorf("%s: %w (%s)", b.path, ErrFormat, problem)
	}
	index := make(map[string]loc)
	var end, live int64
	if complete {
		end, err = scan(f, headerSize, size, func(r record) bool {
			applyRecord(index, &live, r)
			return true
		})
		if err != nil {
			return fmt.Errorf("reading %s: %w", b.path, err)
		}
	}
	if write && (!complete || end < size) {
		if !complete {
			if err := f.Truncate(0); err != nil {
				return fmt.Errorf("initialising %s: %w", b.path, err)
			}
			if _, err := f.Write(header()); err != nil {
				return fmt.Errorf("initialising %s: %w", b.path, err)
			}
			if err := f.Sync(); err != nil {
				return fmt.Errorf("initialising %s: %w", b.path, err)
			}
			_ = syncDir(b.dir)
			end = headerSize
		} else if err := f.Truncate(end); err != nil {
			return fmt.Errorf("dropping the torn end of %s: %w", b.path, err)
		}
	}
	if b.f != nil && b.f != f {
		b.f.Close()
	}
	b.f, b.fd, b.id, b.index, b.end, b.live = f, fd, id, index, end, live
	if !complete {
		b.end = 0 // nothing valid yet: a writer will write the header
	}
	b.nextCompact = 0
	return nil
}

// applyRecord applies a set or delete record to an index.
func applyRecord(index map[string]loc, live *int64, r record) {
	switch r.kind {
	case kindSet:
		if old, ok := index[r.key]; ok {
			*live -= recordSize(len(r.key), int(old.n))
		}
		index[r.key] = loc{off: r.voff, n: int32(r.vlen)}
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
// or the store was replaced). With write, the caller holds the exclusive
// read-write lock (or there is none): a torn tail is truncated away and a
// missing store is created again. Otherwise it reports whether the file
// needs such a repair. The caller holds mu exclusively.
func (b *Backend) refresh(write bool) (repair bool, err error) {
	id, err := pathID(b.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if write {
			return false, b.recreate()
		}
		// Readers keep the file they have until a writer makes a new one.
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
		if size < b.end || b.end < headerSize {
			// Shrunk under its valid records: not this package's doing.
			return b.reload(write)
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
		if !write {
			return true, nil
		}
		if err := b.f.Truncate(end); err != nil {
			return false, fmt.Errorf("dropping the torn end of %s: %w", b.path, err)
		}
	}
}

// reopen opens the store's path again and reads it whole.
func (b *Backend) reopen(write bool) (bool, error) {
	f, err := os.OpenFile(b.path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && write {
			return false, b.recreate()
		}
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

func (b *Backend) needsRepair() (bool, error) {
	size, err := fdSize(b.fd)
	if err != nil {
		return false, fmt.Errorf("%s: %w", b.path, err)
	}
	return size != b.end, nil
}

// recreate makes a new store at the path, which no longer exists, and
// marks the old file so that other processes reading it move over.
func (b *Backend) recreate() error {
	f, err := os.OpenFile(b.path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, b.mode)
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
// store: nothing was appended since it was read, and (checked once per
// identityCheck) the path still names the open file. Without a read-write
// lock file the store belongs to this Backend alone, and its size is only
// checked with the path's identity, in case the file was changed by hand.
func (b *Backend) inSync() bool {
	if b.closed {
		return false
	}
	if b.rw != nil {
		if size, err := fdSize(b.fd); err != nil || size != b.end {
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
// under the exclusive one.
func (b *Backend) catchUp(ctx context.Context) error {
	if b.closed {
		return ErrClosed
	}
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
