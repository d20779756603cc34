package dogpile

import "context"

func init() {
	Register("dogpile.cache.null", func(args Arguments) (Backend, error) {
		return NullBackend{}, args.Parser("dogpile.cache.null").Err()
	})
}

// NullBackend stores nothing: every read is a miss, so every GetOrCreate
// calls its creator (dogpile.cache.null). Registered as
// "dogpile.cache.null". Its lock never excludes anyone, but the callers of
// one process still coalesce on the region's in-process lock.
type NullBackend struct{}

// Get always misses.
func (NullBackend) Get(context.Context, string) (CachedValue, bool, error) {
	return CachedValue{}, false, nil
}

// GetMulti always misses.
func (NullBackend) GetMulti(_ context.Context, keys []string) ([]CachedValue, error) {
	return make([]CachedValue, len(keys)), nil
}

// Set does nothing.
func (NullBackend) Set(context.Context, string, CachedValue) error { return nil }

// SetMulti does nothing.
func (NullBackend) SetMulti(context.Context, []Item) error { return nil }

// Delete does nothing.
func (NullBackend) Delete(context.Context, string) error { return nil }

// DeleteMulti does nothing.
func (NullBackend) DeleteMulti(context.Context, []string) error { return nil }

// Mutex returns a lock that is always free.
func (NullBackend) Mutex(string) Mutex { return nullMutex{} }

type nullMutex struct{}

func (nullMutex) Acquire(context.Context, bool) (bool, error) { return true, nil }
func (nullMutex) Release(context.Context) error               { return nil }
func (nullMutex) Locked(context.Context) (bool, error)        { return false, nil }
