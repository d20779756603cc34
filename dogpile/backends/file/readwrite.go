package file

// Reads and writes: the hit path and the appends.

import (
	"context"
	"fmt"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// read returns the value under key from the open store. The caller holds
// mu, shared or exclusive.
func (b *Backend) read(key string) ([]byte, bool, error) {
	l, ok := b.index[key]
	if !ok {
		return nil, false, nil
	}
	v := make([]byte, l.n)
	if _, err := b.f.ReadAt(v, l.off); err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", b.path, err)
	}
	return v, true, nil
}

// GetBytes returns the entry under key. When no other Backend wrote since
// the last call, it costs an fstat and a pread (a pread alone without a
// read-write lock file).
func (b *Backend) GetBytes(ctx context.Context, key string) ([]byte, bool, error) {
	b.mu.RLock()
	if b.inSync() {
		v, ok, err := b.read(key)
		b.mu.RUnlock()
		if err == nil {
			return v, ok, nil
		}
	} else {
		b.mu.RUnlock()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.catchUp(ctx); err != nil {
		return nil, false, err
	}
	return b.read(key)
}

// GetBytesMulti returns one entry per key, in order; nil for a miss.
func (b *Backend) GetBytesMulti(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	b.mu.RLock()
	if b.inSync() {
		err := b.readMulti(keys, out)
		b.mu.RUnlock()
		if err == nil {
			return out, nil
		}
	} else {
		b.mu.RUnlock()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.catchUp(ctx); err != nil {
		return nil, err
	}
	if err := b.readMulti(keys, out); err != nil {
		return nil, err
	}
	return out, nil
}

// readMulti reads the values of keys into out, in one allocation.
func (b *Backend) readMulti(keys []string, out [][]byte) error {
	total := 0
	for _, k := range keys {
		if l, ok := b.index[k]; ok {
			total += int(l.n)
		}
	}
	buf := make([]byte, total)
	for i, k := range keys {
		l, ok := b.index[k]
		if !ok {
			out[i] = nil
			continue
		}
		v := buf[:l.n:l.n]
		buf = buf[l.n:]
		if _, err := b.f.ReadAt(v, l.off); err != nil {
			return fmt.Errorf("reading %s: %w", b.path, err)
		}
		out[i] = v
	}
	return nil
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
// indexes them; the caller holds the exclusive lock.
func (b *Backend) appendRecords(build func(buf []byte) ([]byte, []record)) error {
	buf, recs := build(b.wbuf[:0])
	if cap(buf) <= 64<<10 {
		b.wbuf = buf[:0]
	}
	if len(recs) == 0 {
		return nil
	}
	if _, err := b.f.Write(buf); err != nil {
		// Leave no partial record behind; should this fail too, the next
		// refresh drops it.
		_ = b.f.Truncate(b.end)
		return fmt.Errorf("writing to %s: %w", b.path, err)
	}
	pos := b.end
	for _, r := range recs {
		size := recordSize(len(r.key), r.vlen)
		r.voff = pos + recordHeader + int64(len(r.key))
		applyRecord(b.index, &b.live, r)
		pos += size
	}
	b.end = pos
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
