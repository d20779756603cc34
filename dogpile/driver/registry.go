package driver

import (
	"fmt"
	"slices"
	"sync"
)

// Factory builds a backend from its arguments, by dogpile.cache's names.
// It must not modify args. Its errors need not name the backend: Open
// puts the name in front of them.
type Factory func(args Arguments) (Backend, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes a backend factory available under name, as database/sql
// does for drivers. Backend packages call it from init. Register panics if
// name is empty, factory is nil, or name is already registered: all three
// are programming errors found when the program starts.
func Register(name string, factory Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if name == "" || factory == nil {
		panic("dogpile/driver: Register with an empty name or a nil factory")
	}
	if _, dup := registry[name]; dup {
		panic("dogpile/driver: Register called twice for backend " + name)
	}
	registry[name] = factory
}

// Backends returns the sorted names of the registered backends.
func Backends() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Open builds the backend registered under name with args. An unknown name
// is an error wrapping ErrUnknownBackend; a factory's error is returned
// with the name in front of it.
func Open(name string, args Arguments) (Backend, error) {
	registryMu.RLock()
	factory, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q: a backend's names are registered when its package is imported, "+
			"as in import _ \"github.com/dogpilego/dogpile/dogpile/backends/<package>\" (registered: %q)",
			ErrUnknownBackend, name, Backends())
	}
	b, err := factory(args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if b == nil {
		return nil, fmt.Errorf("%s: %w: the factory returned a nil backend", name, ErrInvalidBackend)
	}
	return b, nil
}
