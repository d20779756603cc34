package driver

import (
	"context"
	"fmt"
	"io"
)

// Proxy places a backend inside another that changes some of its
// behaviour (dogpile.cache's ProxyBackend and wrap). It returns the outer
// backend, usually a struct embedding ProxyBackend that overrides a few
// methods.
type Proxy func(next Backend) Backend

// ProxyBackend forwards every call to Next: embed it and override what the
// proxy changes. It forwards the methods of both ValueBackend and
// BytesBackend, and Locker and io.Closer; the region
// uses whichever kind the innermost backend is (see Unwrap).
type ProxyBackend struct {
	Next Backend
}

// Proxied returns the wrapped backend.
func (p *ProxyBackend) Proxied() Backend { return p.Next }

// Unwrap follows proxies (backends with a Proxied method, such as those
// embedding ProxyBackend) to the innermost backend.
func Unwrap(b Backend) Backend {
	for {
		p, ok := b.(interface{ Proxied() Backend })
		if !ok || p.Proxied() == nil {
			return b
		}
		b = p.Proxied()
	}
}

func (p *ProxyBackend) kindError(kind string) error {
	return fmt.Errorf("proxied %T is not a %s", p.Next, kind)
}

// Get forwards to Next.
func (p *ProxyBackend) Get(ctx context.Context, key string) (CachedValue, bool, error) {
	if b, ok := p.Next.(ValueBackend); ok {
		return b.Get(ctx, key)
	}
	return CachedValue{}, false, p.kindError("ValueBackend")
}

// GetMulti forwards to Next.
func (p *ProxyBackend) GetMulti(ctx context.Context, keys []string) ([]CachedValue, error) {
	if b, ok := p.Next.(ValueBackend); ok {
		return b.GetMulti(ctx, keys)
	}
	return nil, p.kindError("ValueBackend")
}

// Set forwards to Next.
func (p *ProxyBackend) Set(ctx context.Context, key string, value CachedValue) error {
	if b, ok := p.Next.(ValueBackend); ok {
		return b.Set(ctx, key, value)
	}
	return p.kindError("ValueBackend")
}

// SetMulti forwards to Next.
func (p *ProxyBackend) SetMulti(ctx context.Context, items []Item) error {
	if b, ok := p.Next.(ValueBackend); ok {
		return b.SetMulti(ctx, items)
	}
	return p.kindError("ValueBackend")
}

// GetBytes forwards to Next.
func (p *ProxyBackend) GetBytes(ctx context.Context, key string) ([]byte, bool, error) {
	if b, ok := p.Next.(BytesBackend); ok {
		return b.GetBytes(ctx, key)
	}
	return nil, false, p.kindError("BytesBackend")
}

// GetBytesMulti forwards to Next.
func (p *ProxyBackend) GetBytesMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if b, ok := p.Next.(BytesBackend); ok {
		return b.GetBytesMulti(ctx, keys)
	}
	return nil, p.kindError("BytesBackend")
}

// SetBytes forwards to Next.
func (p *ProxyBackend) SetBytes(ctx context.Context, key string, value []byte) error {
	if b, ok := p.Next.(BytesBackend); ok {
		return b.SetBytes(ctx, key, value)
	}
	return p.kindError("BytesBackend")
}

// SetBytesMulti forwards to Next.
func (p *ProxyBackend) SetBytesMulti(ctx context.Context, items []BytesItem) error {
	if b, ok := p.Next.(BytesBackend); ok {
		return b.SetBytesMulti(ctx, items)
	}
	return p.kindError("BytesBackend")
}

// GetBytesMemo forwards to Next when it is a NearBackend, and is GetBytes
// with no Memo otherwise.
func (p *ProxyBackend) GetBytesMemo(ctx context.Context, key string) ([]byte, *Memo, bool, error) {
	if b, ok := p.Next.(NearBackend); ok {
		return b.GetBytesMemo(ctx, key)
	}
	b, ok, err := p.GetBytes(ctx, key)
	return b, nil, ok, err
}

// GetBytesDirect forwards to Next when it is a NearBackend, and is
// GetBytesMulti otherwise.
func (p *ProxyBackend) GetBytesDirect(ctx context.Context, keys []string) ([][]byte, error) {
	if b, ok := p.Next.(NearBackend); ok {
		return b.GetBytesDirect(ctx, keys)
	}
	return p.GetBytesMulti(ctx, keys)
}

// Delete forwards to Next.
func (p *ProxyBackend) Delete(ctx context.Context, key string) error {
	return p.Next.Delete(ctx, key)
}

// DeleteMulti forwards to Next.
func (p *ProxyBackend) DeleteMulti(ctx context.Context, keys []string) error {
	return p.Next.DeleteMulti(ctx, keys)
}

// Mutex forwards to Next, or returns nil when Next has no lock of its own.
func (p *ProxyBackend) Mutex(key string) Mutex {
	if l, ok := p.Next.(Locker); ok {
		return l.Mutex(key)
	}
	return nil
}

// Close forwards to Next when it is an io.Closer.
func (p *ProxyBackend) Close() error {
	if c, ok := p.Next.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
