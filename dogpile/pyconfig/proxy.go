package pyconfig

import (
	"fmt"
	"slices"
	"sync"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

var (
	proxyMu  sync.RWMutex
	proxyReg = map[string]driver.Proxy{}
)

// RegisterProxy makes a proxy available by name to the "wrap" setting of
// ConfigureFromConfig, as Python's dotted class names are. Like
// driver.Register, it panics on an empty name, a nil proxy or a name
// registered twice: programming errors found when the program starts.
func RegisterProxy(name string, p driver.Proxy) {
	proxyMu.Lock()
	defer proxyMu.Unlock()
	if name == "" || p == nil {
		panic("dogpile/pyconfig: RegisterProxy with an empty name or a nil proxy")
	}
	if _, dup := proxyReg[name]; dup {
		panic("dogpile/pyconfig: RegisterProxy called twice for " + name)
	}
	proxyReg[name] = p
}

// LookupProxy returns the proxy registered under name.
func LookupProxy(name string) (driver.Proxy, error) {
	p, err := findProxy(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", driver.ErrInvalidArgument, err)
	}
	return p, nil
}

// findProxy is LookupProxy with an error that wraps no sentinel.
func findProxy(name string) (driver.Proxy, error) {
	proxyMu.RLock()
	defer proxyMu.RUnlock()
	if p, ok := proxyReg[name]; ok {
		return p, nil
	}
	names := make([]string, 0, len(proxyReg))
	for n := range proxyReg {
		names = append(names, n)
	}
	slices.Sort(names)
	return nil, fmt.Errorf("unknown proxy %q (registered: %q)", name, names)
}
