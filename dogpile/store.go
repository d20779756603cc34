package dogpile

// The region's narrow view of its backend: entries under mangled keys,
// encoded in the wire format for a BytesBackend, and the backend's lock.
// The read and create steps reach the backend through it alone.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// entry is a value as the region holds it between the backend and the
// caller. An entry read from a BytesBackend holds its undecoded payload
// as a rawPayload until it is decoded.
type entry = driver.CachedValue

// rawPayload is the undecoded payload of an entry read from a
// BytesBackend; never nil (an empty payload is empty, not nil). Entries
// hold it by pointer, so that entries read together share one allocation.
type rawPayload []byte

func newEntry(v any, now time.Time) entry {
	return entry{Payload: v, Metadata: driver.Metadata{CreatedAt: now, Version: driver.ValueVersion}}
}

// sizeOf is the length of e's encoded payload, or -1 for a Go value.
func sizeOf(e *entry) int {
	if raw, ok := e.Payload.(*rawPayload); ok {
		return len(*raw)
	}
	return -1
}

// present reports whether e is a value rather than the zero entry of a
// miss.
func present(e *entry) bool { return e.Metadata.Version != 0 || e.Payload != nil }

// store is what the create step needs of a region's backend.
type store interface {
	// load reads one key; validate checks the payload with the codec's
	// Valid, for entries handed on undecoded.
	load(ctx context.Context, key string, validate bool) (entry, bool, error)
	// loadAll reads keys in one backend call; a miss gives the zero entry.
	loadAll(ctx context.Context, keys []string, validate bool) ([]entry, error)
	// save writes e under key; it returns the bytes written, or -1 for a
	// Go value.
	save(ctx context.Context, key string, e entry) (int, error)
	// saveAll writes es under keys in one backend call.
	saveAll(ctx context.Context, keys []string, es []entry) (int, error)
	// mutex returns the backend's lock of key, or nil.
	mutex(key string) driver.Mutex
}

var _ store = (*regionState)(nil)

// load reads one entry; undecodable bytes are a miss, reported. Without
// validate, a payload the codec cannot read is found when it is decoded
// (see undecodable): the read step decodes what it finds at once, and the
// codec's own check would read each payload twice.
func (st *regionState) load(ctx context.Context, key string, validate bool) (entry, bool, error) {
	if st.values != nil {
		cv, ok, err := st.values.Get(ctx, key)
		return cv, ok, err
	}
	b, ok, err := st.bytes.GetBytes(ctx, key)
	if err != nil || !ok {
		return entry{}, false, err
	}
	e, ok := st.decodeEntry(key, b, validate)
	return e, ok, nil
}

func (st *regionState) decodeEntry(key string, b []byte, validate bool) (entry, bool) {
	return st.decodeInto(key, b, validate, new(rawPayload))
}

// decodeInto is decodeEntry with the payload's holder given.
func (st *regionState) decodeInto(key string, b []byte, validate bool, raw *rawPayload) (entry, bool) {
	md, payload, err := driver.DecodeEntry(b)
	if err != nil {
		st.s.logger.Warn("dogpile: undecodable entry treated as a miss", "region", st.s.name, "key", key, "err", err)
		return entry{}, false
	}
	if v, ok := st.s.codec.(validator); validate && ok && !v.Valid(payload) {
		st.s.logger.Warn("dogpile: undecodable payload treated as a miss", "region", st.s.name, "key", key)
		return entry{}, false
	}
	if payload == nil {
		payload = []byte{}
	}
	*raw = payload
	return entry{Payload: raw, Metadata: md}, true
}

func (st *regionState) loadAll(ctx context.Context, keys []string, validate bool) ([]entry, error) {
	out := make([]entry, len(keys))
	if st.values != nil {
		cvs, err := st.values.GetMulti(ctx, keys)
		if err != nil {
			return nil, err
		}
		if len(cvs) != len(keys) {
			return nil, fmt.Errorf("backend %s returned %d values for %d keys", st.backendName, len(cvs), len(keys))
		}
		for i, cv := range cvs {
			out[i] = cv
		}
		return out, nil
	}
	raw, err := st.bytes.GetBytesMulti(ctx, keys)
	if err != nil {
		return nil, err
	}
	return st.decodeAll(keys, raw, validate)
}

// decodeAll decodes the entries read for keys; nil is a miss.
func (st *regionState) decodeAll(keys []string, raw [][]byte, validate bool) ([]entry, error) {
	if len(raw) != len(keys) {
		return nil, fmt.Errorf("backend %s returned %d entries for %d keys", st.backendName, len(raw), len(keys))
	}
	out := make([]entry, len(keys))
	raws := make([]rawPayload, len(keys))
	for i, b := range raw {
		if b != nil {
			out[i], _ = st.decodeInto(keys[i], b, validate, &raws[i])
		}
	}
	return out, nil
}

// save writes e, encoding it for a BytesBackend.
func (st *regionState) save(ctx context.Context, key string, e entry) (int, error) {
	if st.values != nil {
		return -1, st.values.Set(ctx, key, e)
	}
	payload, err := st.s.codec.Marshal(e.Payload)
	if err != nil {
		return 0, &encodeError{err}
	}
	return len(payload), st.bytes.SetBytes(ctx, key, driver.EncodeEntry(e.Metadata, payload))
}

func (st *regionState) saveAll(ctx context.Context, keys []string, es []entry) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	if st.values != nil {
		items := make([]driver.Item, len(keys))
		for i, k := range keys {
			items[i] = driver.Item{Key: k, Value: es[i]}
		}
		return -1, st.values.SetMulti(ctx, items)
	}
	items := make([]driver.BytesItem, len(keys))
	size := 0
	var head []byte // the metadata, shared by the entries of one write
	var headMD driver.Metadata
	for i, k := range keys {
		payload, err := st.s.codec.Marshal(es[i].Payload)
		if err != nil {
			return 0, &encodeError{fmt.Errorf("the value of %q: %w", k, err)}
		}
		size += len(payload)
		if head == nil || es[i].Metadata != headMD {
			head, headMD = driver.EncodeEntry(es[i].Metadata, nil), es[i].Metadata
		}
		v := make([]byte, len(head)+len(payload))
		copy(v[copy(v, head):], payload)
		items[i] = driver.BytesItem{Key: k, Value: v}
	}
	return size, st.bytes.SetBytesMulti(ctx, items)
}

func (st *regionState) mutex(key string) driver.Mutex {
	if st.locker == nil {
		return nil
	}
	return st.locker.Mutex(key)
}

// decodeAs returns the payload of e as a T.
func decodeAs[T any](codec Codec, e *entry) (T, error) {
	if raw, ok := e.Payload.(*rawPayload); ok {
		return unmarshalAs[T](codec, *raw)
	}
	if e.Payload == nil {
		var zero T
		return zero, nil
	}
	t, ok := e.Payload.(T)
	if !ok {
		return t, fmt.Errorf("%w: have %T, want %v", ErrTypeMismatch, e.Payload, reflect.TypeFor[T]())
	}
	return t, nil
}

// unmarshalAs is apart from decodeAs so that only this path pays for the
// value escaping into the codec.
func unmarshalAs[T any](c Codec, raw []byte) (T, error) {
	var t T
	if err := c.Unmarshal(raw, &t); err != nil {
		return t, fmt.Errorf("decoding the payload as %v: %w", reflect.TypeFor[T](), err)
	}
	return t, nil
}

// encodeError is a value the codec could not encode: the caller's
// mistake, never absorbed by WithFailOpen.
type encodeError struct{ err error }

func (e *encodeError) Error() string { return "encoding the value: " + e.err.Error() }
func (e *encodeError) Unwrap() error { return e.err }

// undecodable reports whether err, from decoding a payload, means the
// bytes are not a payload of the codec (a miss, reported) rather than a
// payload of another type (an error).
func (st *regionState) undecodable(key string, err error) bool {
	if !errors.Is(err, ErrUndecodable) || errors.Is(err, ErrTypeMismatch) {
		return false
	}
	st.s.logger.Warn("dogpile: undecodable payload treated as a miss", "region", st.s.name, "key", key, "err", err)
	return true
}
