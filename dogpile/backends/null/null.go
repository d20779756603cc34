// Package null is dogpile.cache.null: a backend that stores nothing, so
// that every read is a miss and every GetOrCreate calls its creator.
// Importing it registers the name "dogpile.cache.null". Its lock never
// excludes anyone, but the callers of one process still coalesce on the
// region's in-process lock.
package null

import (
	"context"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// Name is the backend's registered name.
const Name = "dogpile.cache.null"

func init() {
	driver.Register(Name, func(args driver.Arguments) (driver.Backend, error) {
		return Backend{}, args.Parser(Name).Err()
	})
}

// Backend stores nothing. Its zero value is ready to use.
type Backend struct{}

// Get always misses.
func (Backend) Get(context.Context, string) (driver.CachedValue, bool, error) {
	return driver.CachedValue{}, false, nil
}

// GetMulti always misses.
func (Backend) GetMulti(_ context.Context, keys []string) ([]driver.CachedValue, error) {
	return make([]driver.CachedValue, len(keys)), nil
}

// Set does nothing.
func (Backend) Set(context.Context, string, driver.CachedValue) error { return nil }

// SetMulti does nothing.
func (Backend) SetMulti(context.Context, []driver.Item) error { return nil }

// Delete does nothing.
func (Backend) Delete(context.Context, string) error { return nil }

// DeleteMulti does nothing.
func (Backend) DeleteMulti(context.Context, []string) error { return nil }

// Mutex returns a lock that is always free.
func (Backend) Mutex(string) driver.Mutex { return freeMutex{} }

type freeMutex struct{}

func (freeMutex) Acquire(context.Context, bool) (bool, error) { return true, nil }
func (freeMutex) Release(context.Context) error               { return nil }
func (freeMutex) Locked(context.Context) (bool, error)        { return false, nil }
