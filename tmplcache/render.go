package tmplcache

import (
	"context"
	"fmt"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
)

// RenderOptions choose where and how long a fragment is cached.
type RenderOptions struct {
	// Region is the region's name; "" is the default region.
	Region string
	// Expires overrides the region's expiration time: 0 keeps it, a
	// negative duration means never.
	Expires time.Duration
}

// rendering is the chain of fragment keys being rendered, carried in the
// context a fragment's render function receives.
type rendering struct {
	key    string
	parent *rendering
}

type renderingKey struct{}

type fragmentKey struct{}

// FragmentFromContext returns the fragment whose Render made the region
// call that ctx belongs to, for observers such as the debug panel that
// report which template and fragment a cache operation served.
func FragmentFromContext(ctx context.Context) (Fragment, bool) {
	f, ok := ctx.Value(fragmentKey{}).(Fragment)
	return f, ok
}

// Render returns the HTML of fragment f from its region, calling render
// under the region's dogpile lock when it is missing or expired. render
// receives a context carrying f, so fragments rendered inside it that lead
// back to f fail with ErrRecursion instead of waiting for themselves; pass
// that context on to nested renderings. The context keeps the values of
// ctx but not its cancellation: a caller whose ctx ends stops waiting,
// and the rendering goes on for the others. render's error is returned to
// every caller that waited for it and is not cached.
func (c *Cache) Render(ctx context.Context, f Fragment, o RenderOptions, render func(context.Context) (string, error)) (string, error) {
	r, err := c.Region(o.Region)
	if err != nil {
		return "", err
	}
	key, err := c.key(f)
	if err != nil {
		return "", err
	}
	parent, _ := ctx.Value(renderingKey{}).(*rendering)
	for p := parent; p != nil; p = p.parent {
		if p.key == key {
			return "", fmt.Errorf("%w: %s", ErrRecursion, key)
		}
	}
	ctx = context.WithValue(ctx, fragmentKey{}, f)
	var opts []dogpile.CallOption
	switch {
	case o.Expires < 0:
		opts = append(opts, dogpile.Expiration(dogpile.NoExpiration))
	case o.Expires > 0:
		opts = append(opts, dogpile.Expiration(o.Expires))
	}
	html, err := dogpile.GetOrCreate(ctx, r, key, func(ctx context.Context) (string, error) {
		return render(context.WithValue(ctx, renderingKey{}, &rendering{key: key, parent: parent}))
	}, opts...)
	if err != nil {
		return "", fmt.Errorf("tmplcache: %s: %w", describe(f), err)
	}
	return html, nil
}

// describe names f in errors.
func describe(f Fragment) string {
	if f.Key != "" {
		return fmt.Sprintf("fragment with key %q", f.Key)
	}
	return fmt.Sprintf("fragment %q of %q", f.Name, f.Template)
}
