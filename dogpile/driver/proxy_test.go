package driver_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/backends/null"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// pxClosing is a value backend that counts Close calls.
type pxClosing struct {
	*memory.Backend
	closed int
	err    error
}

func (c *pxClosing) Close() error { c.closed++; return c.err }

// TestProxyBackendForwardsValues: every ValueBackend method reaches Next.
func TestProxyBackendForwardsValues(t *testing.T) {
	ctx := context.Background()
	inner := must(memory.New(memory.Options{}))
	p := &driver.ProxyBackend{Next: inner}
	cv := func(v any) driver.CachedValue {
		return driver.CachedValue{Payload: v, Metadata: driver.Metadata{CreatedAt: time.Unix(1, 0), Version: driver.ValueVersion}}
	}
	if err := p.Set(ctx, "a", cv("A")); err != nil {
		t.Fatal(err)
	}
	if err := p.SetMulti(ctx, []driver.Item{{Key: "b", Value: cv("B")}, {Key: "c", Value: cv("C")}}); err != nil {
		t.Fatal(err)
	}
	if inner.Len() != 3 {
		t.Errorf("inner backend holds %d entries, want 3", inner.Len())
	}
	if v, ok, err := p.Get(ctx, "a"); err != nil || !ok || v.Payload != "A" {
		t.Errorf("Get(a) = %v, %v, %v", v, ok, err)
	}
	vs, err := p.GetMulti(ctx, []string{"b", "missing", "c"})
	if err != nil || len(vs) != 3 || vs[0].Payload != "B" || vs[1] != (driver.CachedValue{}) || vs[2].Payload != "C" {
		t.Errorf("GetMulti = %v, %v", vs, err)
	}
	if err := p.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteMulti(ctx, []string{"b", "c"}); err != nil {
		t.Fatal(err)
	}
	if inner.Len() != 0 {
		t.Errorf("inner backend holds %d entries after the deletes", inner.Len())
	}
	// Bytes methods on a value backend fail, naming what is missing.
	if _, _, err := p.GetBytes(ctx, "a"); err == nil || !strings.Contains(err.Error(), "BytesBackend") || strings.HasPrefix(err.Error(), "dogpile") {
		t.Errorf("GetBytes on a value backend: %v", err)
	}
	if _, err := p.GetBytesMulti(ctx, []string{"a"}); err == nil {
		t.Error("GetBytesMulti on a value backend: no error")
	}
	if err := p.SetBytes(ctx, "a", nil); err == nil {
		t.Error("SetBytes on a value backend: no error")
	}
	if err := p.SetBytesMulti(ctx, nil); err == nil {
		t.Error("SetBytesMulti on a value backend: no error")
	}
}

// TestProxyBackendForwardsBytes: every BytesBackend method reaches Next.
func TestProxyBackendForwardsBytes(t *testing.T) {
	ctx := context.Background()
	inner := must(memory.NewBytes(memory.Options{}))
	p := &driver.ProxyBackend{Next: inner}
	if err := p.SetBytes(ctx, "a", []byte("A")); err != nil {
		t.Fatal(err)
	}
	if err := p.SetBytesMulti(ctx, []driver.BytesItem{{Key: "b", Value: []byte("B")}}); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := inner.GetBytes(ctx, "b"); err != nil || !ok || string(v) != "B" {
		t.Errorf("inner GetBytes(b) = %q, %v, %v", v, ok, err)
	}
	if v, ok, err := p.GetBytes(ctx, "a"); err != nil || !ok || string(v) != "A" {
		t.Errorf("GetBytes(a) = %q, %v, %v", v, ok, err)
	}
	vs, err := p.GetBytesMulti(ctx, []string{"b", "missing"})
	if err != nil || len(vs) != 2 || string(vs[0]) != "B" || vs[1] != nil {
		t.Errorf("GetBytesMulti = %q, %v", vs, err)
	}
	if err := p.DeleteMulti(ctx, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := inner.GetBytes(ctx, "a"); ok {
		t.Error("DeleteMulti did not reach the inner backend")
	}
	// Value methods on a bytes backend fail.
	if _, _, err := p.Get(ctx, "a"); err == nil || !strings.Contains(err.Error(), "ValueBackend") {
		t.Errorf("Get on a bytes backend: %v", err)
	}
	if _, err := p.GetMulti(ctx, []string{"a"}); err == nil {
		t.Error("GetMulti on a bytes backend: no error")
	}
	if err := p.Set(ctx, "a", driver.CachedValue{}); err == nil {
		t.Error("Set on a bytes backend: no error")
	}
	if err := p.SetMulti(ctx, nil); err == nil {
		t.Error("SetMulti on a bytes backend: no error")
	}
}

// TestProxyBackendLockAndClose: Mutex and Close reach Next when it has
// them, and are harmless when it does not.
func TestProxyBackendLockAndClose(t *testing.T) {
	ctx := context.Background()
	if m := (&driver.ProxyBackend{Next: must(memory.New(memory.Options{}))}).Mutex("k"); m != nil {
		t.Errorf("Mutex of a backend without a lock = %v, want nil", m)
	}
	m := (&driver.ProxyBackend{Next: null.Backend{}}).Mutex("k")
	if m == nil {
		t.Fatal("Mutex of a backend with a lock = nil")
	}
	if ok, err := m.Acquire(ctx, false); err != nil || !ok {
		t.Errorf("Acquire = %v, %v", ok, err)
	}
	if err := (&driver.ProxyBackend{Next: must(memory.New(memory.Options{}))}).Close(); err != nil {
		t.Errorf("Close of a backend that is no io.Closer = %v", err)
	}
	errClose := errors.New("close failed")
	c := &pxClosing{Backend: must(memory.New(memory.Options{})), err: errClose}
	if err := (&driver.ProxyBackend{Next: c}).Close(); !errors.Is(err, errClose) || c.closed != 1 {
		t.Errorf("Close = %v, closed %d times; want the inner error, once", err, c.closed)
	}
}

// pxNamed is a proxy that embeds ProxyBackend, as proxies do.
type pxNamed struct {
	driver.ProxyBackend
	name string
}

func pxWrap(name string) driver.Proxy {
	return func(next driver.Backend) driver.Backend {
		return &pxNamed{ProxyBackend: driver.ProxyBackend{Next: next}, name: name}
	}
}

// pxNilProxied has a Proxied method that returns nil.
type pxNilProxied struct{ *memory.Backend }

func (pxNilProxied) Proxied() driver.Backend { return nil }

func TestUnwrap(t *testing.T) {
	inner := must(memory.New(memory.Options{}))
	if got := driver.Unwrap(inner); got != inner {
		t.Errorf("Unwrap of a plain backend = %T", got)
	}
	wrapped := pxWrap("a")(pxWrap("b")(&driver.ProxyBackend{Next: inner}))
	if got := driver.Unwrap(wrapped); got != inner {
		t.Errorf("Unwrap through three proxies = %T %p, want the memory backend %p", got, got, inner)
	}
	if p, ok := wrapped.(*pxNamed); !ok || p.Proxied().(*pxNamed).name != "b" {
		t.Errorf("Proxied of the outer proxy = %T", p.Proxied())
	}
	stop := pxNilProxied{must(memory.New(memory.Options{}))}
	if got := driver.Unwrap(pxWrap("a")(stop)); got != stop {
		t.Errorf("Unwrap stops at a Proxied() of nil: got %T", got)
	}
	if got := driver.Unwrap(nil); got != nil {
		t.Errorf("Unwrap(nil) = %T", got)
	}
}

// TestProxyActualBackend ports ProxyBackendTest::test_actual_backend_proxied
// and _noproxy: Region.Backend is the outer proxy, driver.Unwrap of it the
// backend the region opened.
func TestProxyActualBackend(t *testing.T) {
	for _, kind := range []struct {
		backend string
		want    reflect.Type
	}{
		{memory.Name, reflect.TypeOf(&memory.Backend{})},
		{memory.BytesName, reflect.TypeOf(&memory.BytesBackend{})},
	} {
		t.Run(kind.backend, func(t *testing.T) {
			plain := dogpile.NewRegion()
			if err := plain.Configure(kind.backend, dogpile.Config{}); err != nil {
				t.Fatal(err)
			}
			if b := plain.Backend(); driver.Unwrap(b) != b || reflect.TypeOf(b) != kind.want {
				t.Errorf("no proxy: Backend %T, Unwrap %T", b, driver.Unwrap(b))
			}
			passThrough := func(next driver.Backend) driver.Backend { return &driver.ProxyBackend{Next: next} }
			wrapped := dogpile.NewRegion()
			if err := wrapped.Configure(kind.backend, dogpile.Config{Wrap: []driver.Proxy{pxWrap("A"), passThrough, pxWrap("C")}}); err != nil {
				t.Fatal(err)
			}
			outer, ok := wrapped.Backend().(*pxNamed)
			if !ok || outer.name != "A" {
				t.Errorf("Backend() = %T, want the outer proxy A", wrapped.Backend())
			}
			if got := driver.Unwrap(wrapped.Backend()); reflect.TypeOf(got) != kind.want {
				t.Errorf("Unwrap(Backend()) = %T, want %v", got, kind.want)
			}
			// The region works through the proxies.
			ctx := context.Background()
			if err := wrapped.Set(ctx, "k", "v"); err != nil {
				t.Fatal(err)
			}
			if v, ok, err := dogpile.Get[string](ctx, wrapped, "k"); err != nil || !ok || v != "v" {
				t.Errorf("Get through the proxies = %q, %v, %v", v, ok, err)
			}
		})
	}
}
