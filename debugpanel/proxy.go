package debugpanel

import (
	"context"
	"fmt"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
)

// ProxyName is the name the proxy backend is registered under, for
// configuration files: "cache.pages.wrap = debugpanel".
const ProxyName = "debugpanel"

func init() {
	pyconfig.RegisterProxy(ProxyName, Proxy)
}

// Proxy wraps next in a ProxyBackend: a driver.Proxy for Config.Wrap, also
// registered with pyconfig.RegisterProxy as "debugpanel" for the "wrap"
// configuration key.
func Proxy(next driver.Backend) driver.Backend {
	return &ProxyBackend{ProxyBackend: driver.ProxyBackend{Next: next}, backend: fmt.Sprintf("%T", driver.Unwrap(next))}
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
	driver.ProxyBackend
	backend string
}

func (p *ProxyBackend) record(ctx context.Context, rec *Recorder, op observe.Op, keys []string, res []observe.Result, start time.Time, size int, err error) {
	o := Operation{
		Layer: LayerBackend, Backend: p.backend, Op: op.String(), Keys: keys, Results: res,
		KeyCount: len(keys), Start: max(start.Sub(rec.start), 0), Duration: time.Since(start), Size: size,
	}
	place(ctx, &o, false)
	if err != nil {
		o.Err = err.Error()
		for i := range res {
			res[i] = observe.Error
		}
	}
	rec.Record(o)
}

func found(ok bool) observe.Result {
	if ok {
		return observe.Hit
	}
	return observe.Miss
}

// present reports whether cv is a value rather than the zero CachedValue
// of a miss in ValueBackend.GetMulti.
func present(cv driver.CachedValue) bool {
	return cv.Payload != nil || cv.Metadata.Version != 0 || !cv.Metadata.CreatedAt.IsZero()
}

// Get forwards to the backend and records a "get".
func (p *ProxyBackend) Get(ctx context.Context, key string) (driver.CachedValue, bool, error) {
	rec := FromContext(ctx)
	if rec == nil {
		return p.ProxyBackend.Get(ctx, key)
	}
	start := time.Now()
	cv, ok, err := p.ProxyBackend.Get(ctx, key)
	p.record(ctx, rec, observe.OpGet, []string{key}, []observe.Result{found(ok)}, start, -1, err)
	return cv, ok, err
}

// GetMulti forwards to the backend and records a "get_multi".
func (p *ProxyBackend) GetMulti(ctx context.Context, keys []string) ([]driver.CachedValue, error) {
	rec := FromContext(ctx)
	if rec == nil {
		return p.ProxyBackend.GetMulti(ctx, keys)
	}
	start := time.Now()
	cvs, err := p.ProxyBackend.GetMulti(ctx, keys)
	res := make([]observe.Result, len(keys))
	for i := range res {
		res[i] = found(i < len(cvs) && present(cvs[i]))
	}
	p.record(ctx, rec, observe.OpGetMulti, keys, res, start, -1, err)
	return cvs, err
}

// Set forwards to the backend and records a "set".
func (p *ProxyBackend) Set(ctx context.Context, key string, value driver.CachedValue) error {
	rec := FromContext(ctx)
	if rec == nil {
		return p.ProxyBackend.Set(ctx, key, value)
	}
	start := time.Now()
	err := p.ProxyBackend.Set(ctx, key, value)
	p.record(ctx, rec, observe.OpSet, []string{key}, []observe.Result{observe.None}, start, -1, err)
	return err
}

// SetMulti forwards to the backend and records a "set_multi".
func (p *ProxyBackend) SetMulti(ctx context.Context, items []driver.Item) error {
	rec := FromContext(ctx)
	if rec == nil {
		return p.ProxyBackend.SetMulti(ctx, items)
	}
	start := time.Now()
	err := p.ProxyBackend.SetMulti(ctx, items)
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	p.record(ctx, rec, observe.OpSetMulti, keys, make([]observe.Result, len(keys)), start, -1, err)
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
	p.record(ctx, rec, observe.OpGet, []string{key}, []observe.Result{found(ok)}, start, size, err)
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
	res := make([]observe.Result, len(keys))
	size := 0
	for i := range res {
		res[i] = observe.Miss
		if i < len(bs) && bs[i] != nil {
			res[i] = observe.Hit
			size += len(bs[i])
		}
	}
	p.record(ctx, rec, observe.OpGetMulti, keys, res, start, size, err)
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
	p.record(ctx, rec, observe.OpSet, []string{key}, []observe.Result{observe.None}, start, len(value), err)
	return err
}

// SetBytesMulti forwards to the backend and records a "set_multi".
func (p *ProxyBackend) SetBytesMulti(ctx context.Context, items []driver.BytesItem) error {
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
	p.record(ctx, rec, observe.OpSetMulti, keys, make([]observe.Result, len(keys)), start, size, err)
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
	p.record(ctx, rec, observe.OpDelete, []string{key}, []observe.Result{observe.None}, start, -1, err)
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
	p.record(ctx, rec, observe.OpDeleteMulti, keys, make([]observe.Result, len(keys)), start, -1, err)
	return err
}
