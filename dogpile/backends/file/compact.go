package file

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Compact rewrites the store with only its live entries, into a new file
// that replaces it atomically. Writes compact the store by themselves when
// it is over the compaction threshold and less than half live; Compact is
// for doing it at a chosen time.
func (b *Backend) Compact(ctx context.Context) error {
	return b.exclusive(ctx, b.compact)
}

// compact writes the live records to a temporary file in the store's
// directory, syncs it, marks the old file "moved", renames the new one
// over it and syncs the directory. A crash at any point leaves either the
// old store or the new one at the path, both whole. The caller holds mu
// and the exclusive read-write lock, with the index in sync.
func (b *Backend) compact() (err error) {
	fi, err := b.f.Stat()
	if err != nil {
		return fmt.Errorf("compacting %s: %w", b.path, err)
	}
	tmp, err := os.CreateTemp(b.dir, filepath.Base(b.path)+".compact-*")
	if err != nil {
		return fmt.Errorf("compacting %s: %w", b.path, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		return fmt.Errorf("compacting %s: %w", b.path, err)
	}
	type entry struct {
		key string
		loc
	}
	// The records are copied in the order they were written.
	entries := make([]entry, 0, len(b.index))
	for k, l := range b.index {
		entries = append(entries, entry{k, l})
	}
	slices.SortFunc(entries, func(x, y entry) int { return cmp.Compare(x.off, y.off) })

	w := bufio.NewWriterSize(tmp, 256<<10)
	index := make(map[string]loc, len(entries))
	pos := int64(headerSize)
	hdr := [headerSize]byte(header())
	_, _ = w.Write(hdr[:])
	var rec []byte
	for _, e := range entries {
		size := recordSize(len(e.key), int(e.n))
		rec = slices.Grow(rec[:0], int(size))[:size]
		// The record is copied as it is, once checked: an operator may
		// have truncated the store under the index. A store cleared
		// meanwhile needs no compaction.
		if _, err := readRecord(b.f, rec, e.key, e.off, int(e.n)); err != nil {
			b.suspect = true
			if errors.Is(err, errStale) {
				return nil
			}
			return fmt.Errorf("compacting %s: reading: %w", b.path, err)
		}
		if _, err := w.Write(rec); err != nil {
			return fmt.Errorf("compacting %s: %w", b.path, err)
		}
		index[e.key] = loc{off: pos, n: e.n}
		pos += size
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("compacting %s: %w", b.path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("compacting %s: %w", b.path, err)
	}
	// Renaming the copy over a store cleared meanwhile would bring back
	// what the operator deleted.
	if !b.unchanged() {
		b.suspect = true
		return nil
	}
	at, err := appendAt(b.f, appendRecord(nil, kindMoved, "", nil))
	if err != nil {
		b.suspect = true
		return fmt.Errorf("compacting %s: %w", b.path, err)
	}
	if at != b.end {
		b.suspect = true // the mark landed in a store truncated meanwhile
		return nil
	}
	b.end += recordHeader
	if err := os.Rename(tmp.Name(), b.path); err != nil {
		return fmt.Errorf("compacting %s: %w", b.path, err)
	}
	renamed = true
	_ = syncDir(b.dir)
	// Write through a descriptor opened O_APPEND, as everywhere else; the
	// temporary one serves if the path cannot be opened.
	f := tmp
	if nf, err := os.OpenFile(b.path, os.O_RDWR|os.O_APPEND, 0); err == nil {
		tmp.Close()
		f = nf
	}
	id, _, err := fdStat(int(f.Fd()))
	if err != nil {
		f.Close()
		return fmt.Errorf("compacting %s: %w", b.path, err)
	}
	b.f.Close()
	b.f, b.fd, b.id, b.hdr, b.index, b.end, b.live = f, int(f.Fd()), id, hdr, index, pos, pos-headerSize
	b.nextCompact = 0
	b.compactions.Add(1)
	return nil
}

// unchanged reports whether the store's path still names the open file,
// of the size and header the index knows. The caller holds mu and the
// read-write lock.
func (b *Backend) unchanged() bool {
	if id, err := pathID(b.path); err != nil || id != b.id {
		return false
	}
	if size, err := fdSize(b.fd); err != nil || size != b.end {
		return false
	}
	var h [headerSize]byte
	_, err := b.f.ReadAt(h[:], 0)
	return err == nil && h == b.hdr
}
