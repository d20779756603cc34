package file

// Reads and writes: the hit path and the appends.

import (
	"context"
	"errors"
	"fmt"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// read returns the value under key from the open store, read with its
// record and checked (errStale when the record is not there). The caller
// holds mu, shared or exclusive.
func (b *Backend) read(key string) ([]byte, bool, error) {
	l, ok := b.index[key]
	if !ok {
		return nil, false, nil
	}
	v, err := readRecord(b.f, make([]byte, recordSize(len(key), int(l.n))), key, l.off, int(l.n))
	if err != nil {
		return nil, false, b.readErr(err)
	}
	return v, true, nil
}

func (b *Backend) readErr(err error) error {
	if errors.Is(err, errStale) {
		return err
	}
	return fmt.Errorf("reading %s: %w", b.path, err)
}

// GetBytes returns the entry under key. When no other Backend wrote since
// the last call, it costs an fstat and a pread (a pread alone without a
// read-write lock file). A value is returned only when its whole record,
// key included, is where the index says and passes its checksum; when it
// is not (an operator truncated or rewrote the store), the index is read
// again, and a record still not found is a miss.
func (b *Backend) GetBytes(ctx context.Context, key string) ([]byte, bool, error) {
	reread := false
	b.mu.RLock()
	if b.inSync() {
		v, ok, err := b.read(key)
		b.mu.RUnlock()
		if err == nil {
			return v, ok, nil
		}
		reread = errors.Is(err, errStale)
	} else {
		b.mu.RUnlock()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.catchUp(ctx, reread); err != nil {
		return nil, false, err
	}
	v, ok, err := b.read(key)
	if errors.Is(err, errStale) {
		b.suspect = true // changed again since the index was read
		return nil, false, nil
	}
	return v, ok, err
}

// GetBytesMulti returns one entry per key, in order; nil for a miss.
func (b *Backend) GetBytesMulti(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	reread := false
	b.mu.RLock()
	if b.inSync() {
		err := b.readMulti(keys, out)
		b.mu.RUnlock()
		if err == nil {
			return out, nil
		}
		reread = errors.Is(err, errStale)
	} else {
		b.mu.RUnlock()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.catchUp(ctx, reread); err != nil {
		return nil, err
	}
	err := b.readMulti(keys, out)
	if errors.Is(err, errStale) {
		// Changed again since the index was read: what was not read is a
		// miss.
		b.suspect = true
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readMulti reads the values of keys into out, with their records, in one
// allocation. On errStale, out holds the values read and nil for the
// others.
func (b *Backend) readMulti(keys []string, out [][]byte) error {
	total := int64(0)
	for _, k := range keys {
		if l, ok := b.index[k]; ok {
			total += recordSize(len(k), int(l.n))
		}
	}
	buf := make([]byte, total)
	var stale error
	for i, k := range keys {
		out[i] = nil
		l, ok := b.index[k]
		if !ok {
			continue
		}
		size := recordSize(len(k), int(l.n))
		rec := buf[:size:size]
		buf = buf[size:]
		v, err := readRecord(b.f, rec, k, l.off, int(l.n))
		switch {
		case errors.Is(err, errStale):
			stale = err
		case err != nil:
			return b.readErr(err)
		default:
			out[i] = v
		}
	}
	return stale
}

// SetBytes stores value under key: one record appended to the store.
func (b *Backend) SetBytes(ctx context.Context, key string, value []byte) error {
	if err := checkSizes(key, value); err != nil {
		return err
	}
	return b.modify(ctx, func(buf []byte) ([]byte, []record) {
		return appendRecord(buf, kindSet, key, value), []record{{kind: kindSet, key: key, vlen: len(value)}}
	})
}

// SetBytesMulti stores every item with one write. After a crash during
// the write, each entry is either stored whole or not at all.
func (b *Backend) SetBytesMulti(ctx context.Context, items []driver.BytesItem) error {
	if len(items) == 0 {
		return nil
	}
	for _, it := range items {
		if err := checkSizes(it.Key, it.Value); err != nil {
			return err
		}
	}
	return b.modify(ctx, func(buf []byte) ([]byte, []record) {
		recs := make([]record, len(items))
		for i, it := range items {
			buf = appendRecord(buf, kindSet, it.Key, it.Value)
			recs[i] = record{kind: kindSet, key: it.Key, vlen: len(it.Value)}
		}
		return buf, recs
	})
}

// Delete removes key: a tombstone record, written only when the key is
// stored.
func (b *Backend) Delete(ctx context.Context, key string) error {
	return b.DeleteMulti(ctx, []string{key})
}

// DeleteMulti removes every key, with one write.
func (b *Backend) DeleteMulti(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	return b.modify(ctx, func(buf []byte) ([]byte, []record) {
		var recs []record
		seen := make(map[string]bool, len(keys))
		for _, k := range keys {
			if _, stored := b.index[k]; stored && !seen[k] {
				seen[k] = true
				buf = appendRecord(buf, kindDelete, k, nil)
				recs = append(recs, record{kind: kindDelete, key: k})
			}
		}
		return buf, recs
	})
}

func checkSizes(key string, value []byte) error {
	if len(key) > maxKey {
		return fmt.Errorf("%w: key of %d bytes is longer than the %d the store takes", driver.ErrInvalidArgument, len(key), maxKey)
	}
	if len(value) > maxValue {
		return fmt.Errorf("%w: value of %d bytes is larger than the %d the store takes", driver.ErrInvalidArgument, len(value), maxValue)
	}
	return nil
}

// modify appends the records build returns, under mu and the exclusive
// read-write lock, after bringing the index up to date; build sees the
// current index. The records' value offsets are filled in here.
func (b *Backend) modify(ctx context.Context, build func(buf []byte) ([]byte, []record)) error {
	return b.exclusive(ctx, func() error { return b.appendRecords(build) })
}

// exclusive runs f under mu and the exclusive read-write lock, after
// bringing the index up to date.
func (b *Backend) exclusive(ctx context.Context, f func() error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	unlock, err := b.lockRW(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := b.refresh(true); err != nil {
		return err
	}
	return f()
}

// appendRecords writes the records build returns at the end of the store and
// indexes them; the caller holds the exclusive lock, with the index in
// sync.
//
// The records go where the file ends at the moment of the write, and the
// offset they landed at is checked against the end the index knows: an
// operator may have truncated the store since, down into its records or
// its header. The index is then read again (beginning the store again if
// the header is gone) and the records are written again, so that no record
// is indexed at a place it is not, and none is left where no header
// precedes it.
func (b *Backend) appendRecords(build func(buf []byte) ([]byte, []record)) error {
	for attempt := 1; ; attempt++ {
		buf, recs := build(b.wbuf[:0])
		if cap(buf) <= 64<<10 {
			b.wbuf = buf[:0]
		}
		if len(recs) == 0 {
			return nil
		}
		at, err := appendAt(b.f, buf)
		if err != nil {
			if at == b.end {
				// Leave no partial record behind; should this fail too,
				// the next refresh drops it.
				_, _, _ = b.cut(b.f, b.hdr, b.end)
			}
			b.suspect = true
			return fmt.Errorf("writing to %s: %w", b.path, err)
		}
		if at == b.end {
			pos := b.end
			for _, r := range recs {
				r.off = pos
				applyRecord(b.index, &b.live, r)
				pos += recordSize(len(r.key), r.vlen)
			}
			b.end = pos
			break
		}
		// Truncated since the index was read.
		b.suspect = true
		if attempt == 3 {
			// Truncated again and again: the records went to the store
			// and were cleared with it, as if written just before.
			return nil
		}
		if _, err := b.refresh(true); err != nil {
			return err
		}
	}
	if b.syncWrites {
		if err := b.f.Sync(); err != nil {
			return fmt.Errorf("syncing %s: %w", b.path, err)
		}
	}
	if b.end >= b.compactMin && b.end >= b.nextCompact && b.end-headerSize > 2*b.live {
		if err := b.compact(); err != nil {
			// The store is as it was; try again once it has grown more.
			b.nextCompact = b.end + max(b.compactMin, b.end/2)
		}
	}
	return nil
}
