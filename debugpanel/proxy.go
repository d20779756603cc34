package debugpanel

import (
	"context"
	"fmt"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
)

// ProxyName is the name the proxy backend is registered under, for
// configuration files: "cache.pages.wrap = debugpanel".
const ProxyName = "debugpanel"

func init() {
	dogpile.RegisterProxy(ProxyName, Proxy)
}

// Proxy wraps next in a ProxyBackend: a dogpile.Proxy for Config.Wrap, also
// registered as "debugpanel" for the "wrap" configuration key.
func Proxy(next dogpile.Backend) dogpile.Backend {
	return &ProxyBackend{ProxyBackend: dogpile.ProxyBackend{Next: next}, backend: backendName(next)}
}

// backendName is the Go type of the innermost backend.
func backendName(b dogpile.Backend) string {
	for {
		p, ok := b.(interface{ Proxied() dogpile.Backend })
		if !ok || p.Proxied() == nil {
			return fmt.Sprintf("%T", b)
		}
		b = p.Proxied()
	}
}

// ProxyBackend records the calls a region makes to its backend into the
// Recorder of each call's context, as LayerBackend operations, like
// pyramid_debugtoolbar_dogpile's LoggingProxy. It is for regions that are
// configured from files, where an observer cannot be set; the Observer
// reports more (stale values, creations, lock waits, fragments), and both
// may be used at once. Calls whose context has no Recorder cost one context
// lookup.
//
// Keys are the keys the backend sees: mangled, when the region has a key
// mangler. A get reports hit when the backend had an entry (fresh or not: freshness
// is the region's business) and miss otherwise. Sizes are whole entries
// as stored, metadata included, for byte backends; unknown for backends
// keeping Go values.
type ProxyBackend struct {
	dogpile.ProxyBackend
	backend string
}

func (p *ProxyBackend) record(rec *Recorder, op string, keys []string, res []dogpile.Result, start time.Time, size int, err error) {
	d := time.Since(start)
	o := Operation{
		Layer: LayerBackend, Backend: p.backend, Op: op, Keys: keys, Results: res,
		KeyCount: len(keys), Start: max(rec.Elapsed()-d, 0), Duration: d, Size: size,
	}
	if err != nil {
		o.Err = err.Error()
		for i := range res {
			res[i] = dogpile.ResultError
		}
	}
	rec.Record(o)
}

func found(ok bool) dogpile.Result {
	if ok {
		return dogpile.ResultHit
	}
	return dogpile.ResultMiss
}

// Get forwards to the backend and records a "get".
func (p *ProxyBackend) Get(ctx context.Context, key string) (dogpile.CachedValue, bool, error) {
	rec := FromContext(ctx)
	if rec == nil {
		return p.ProxyBackend.Get(ctx, key)
	}
	start := time.Now()
	cv, ok, err := p.ProxyBackend.Get(ctx, key)
	size := -1
	if ok {
		size = cv.Size()
	}
	p.record(rec, "get", []string{key}, []dogpile.Result{found(ok)}, start, size, err)
	return cv, ok, err
}

// GetMulti forwards to the backend and records a "get_multi".
func (p *ProxyBackend) GetMulti(ctx context.Context, keys []string) ([]dogpile.CachedValue, error) {
	rec := FromContext(ctx)
	if rec == nil {
		return p.ProxyBackend.GetMulti(ctx, keys)
	}
	start := time.Now()
	cvs, err := p.ProxyBackend.GetMulti(ctx, keys)
	res := make([]dogpile.Result, len(keys))
	size, known := 0, false
	for i := range res {
		res[i] = dogpile.ResultMiss
		if i < len(cvs) && !cvs[i].IsZero() {
			res[i] = dogpile.ResultHit
			if s := cvs[i].Size(); s >= 0 {
				size, known = size+s, true
			}
		}
	}
	if !known {
		size = -1
	}
	p.record(rec, "get_multi", keys, res, start, size, err)
	return cvs, err
}

// Set forwards to the backend and records a "set".
func (p *ProxyBackend) Set(ctx context.Context, key string, value dogpile.CachedValue) error {
	rec := FromContext(ctx)
	if rec == nil {
		return p.ProxyBackend.Set(ctx, key, value)
	}
	start := time.Now()
	err := p.ProxyBackend.Set(ctx, key, value)
	p.record(rec, "set", []string{key}, []dogpile.Result{dogpile.ResultNone}, start, value.Size(), err)
	return err
}

// SetMulti forwards to the backend and records a "set_multi".
func (p *ProxyBackend) SetMulti(ctx context.Context, items []dogpile.Item) error {
	rec := FromContext(ctx)
	if rec == nil {
		return p.ProxyBackend.SetMulti(ctx, items)
	}
	start := time.Now()
	err := p.ProxyBackend.SetMulti(ctx, items)
	keys := make([]string, len(items))
	size, known := 0, false
	for i, it := range items {
		keys[i] = it.Key
		if s := it.Value.Size(); s >= 0 {
			size, known = size+s, true
		}
	}
	if !known {
		size = -1
	}
	p.record(rec, "set_multi", keys, make([]dogpile.Result, len(keys)), start, size, err)
	return err
}

// GetBytes forwards to the backend and records a "get".
func (p *ProxyBackend) GetBytes(ctx context.Context, key string) ([]byte, bool, error) {
	rec := FromContext(ctx)
	if rec == nil {
		return p.ProxyBackend.GetBytes(ctx, key)
	}
	start := time.Now()
	b, ok, err := p.ProxyBackend.GetBytes(ctx, key)
	size := -1
	if ok {
		size = len(b)
	}
	p.record(rec, "get", []string{key}, []dogpile.Result{found(ok)}, start, size, err)
	return b, ok, err
}

// GetBytesMulti forwards to the backend and records a "get_multi".
func (p *ProxyBackend) GetBytesMulti(ctx context.Context, keys []string) ([][]byte, error) {
	rec := FromContext(ctx)
	if rec == nil {
		return p.ProxyBackend.GetBytesMulti(ctx, keys)
	}
	start := time.Now()
	bs, err := p.ProxyBackend.GetBytesMulti(ctx, keys)
	res := make([]dogpile.Result, len(keys))
	size := 0
	for i := range res {
		res[i] = dogpile.ResultMiss
		if i < len(bs) && bs[i] != nil {
			res[i] = dogpile.ResultHit
			size += len(bs[i])
		}
	}
	p.record(rec, "get_multi", keys, res, start, size, err)
	return bs, err
}

// SetBytes forwards to the backend and records a "set".
func (p *ProxyBackend) SetBytes(ctx context.Context, key string, value []byte) error {
	rec := FromContext(ctx)
	if rec == nil {
		return p.ProxyBackend.SetBytes(ctx, key, value)
	}
	start := time.Now()
	err := p.ProxyBackend.SetBytes(ctx, key, value)
	p.record(rec, "set", []string{key}, []dogpile.Result{dogpile.ResultNone}, start, len(value), err)
	return err
}

// SetBytesMulti forwards to the backend and records a "set_multi".
func (p *ProxyBackend) SetBytesMulti(ctx context.Context, items []dogpile.BytesItem) error {
	rec := FromContext(ctx)
	if rec == nil {
		return p.ProxyBackend.SetBytesMulti(ctx, items)
	}
	start := time.Now()
	err := p.ProxyBackend.SetBytesMulti(ctx, items)
	keys := make([]string, len(items))
	size := 0
	for i, it := range items {
		keys[i] = it.Key
		size += len(it.Value)
	}
	p.record(rec, "set_multi", keys, make([]dogpile.Result, len(keys)), start, size, err)
	return err
}

// Delete forwards to the backend and records a "delete".
func (p *ProxyBackend) Delete(ctx context.Context, key string) error {
	rec := FromContext(ctx)
	if rec == nil {
		return p.ProxyBackend.Delete(ctx, key)
	}
	start := time.Now()
	err := p.ProxyBackend.Delete(ctx, key)
	p.record(rec, "delete", []string{key}, []dogpile.Result{dogpile.ResultNone}, start, -1, err)
	return err
}

// DeleteMulti forwards to the backend and records a "delete_multi".
func (p *ProxyBackend) DeleteMulti(ctx context.Context, keys []string) error {
	rec := FromContext(ctx)
	if rec == nil {
		return p.ProxyBackend.DeleteMulti(ctx, keys)
	}
	start := time.Now()
	err := p.ProxyBackend.DeleteMulti(ctx, keys)
	p.record(rec, "delete_multi", keys, make([]dogpile.Result, len(keys)), start, -1, err)
	return err
}
