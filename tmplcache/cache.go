package tmplcache

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
)

// Errors, for errors.Is.
var (
	// ErrUnknownRegion is returned for a region name the Cache does not hold.
	ErrUnknownRegion = errors.New("tmplcache: unknown region")
	// ErrUnknownFragment is returned by KeyFor and Invalidate for a fragment
	// no template of this process declared.
	ErrUnknownFragment = errors.New("tmplcache: unknown fragment")
	// ErrRecursion is returned when a fragment's rendering renders the same
	// fragment again, which would otherwise wait for itself.
	ErrRecursion = errors.New("tmplcache: fragment renders itself")
	// ErrVaryValue is returned for a fragment with a vary value that
	// cannot be encoded into its key (see Cache.Key).
	ErrVaryValue = errors.New("tmplcache: vary value cannot be part of a key")
	// ErrFragmentName is returned for a fragment whose name starts with
	// '#' without being a block's place (see PositionalName).
	ErrFragmentName = errors.New("tmplcache: invalid fragment name")
)

// DefaultPrefix starts every key unless WithPrefix says otherwise.
const DefaultPrefix = "tmpl"

// Cache holds the regions fragments are cached in and what the templates
// of this process declared about their fragments. It is safe for
// concurrent use.
type Cache struct {
	prefix     string
	roots      []string
	regionOpts []dogpile.Option  // for the regions FromConfig builds
	owned      []*dogpile.Region // built by FromConfig, closed by Close

	regions map[string]*dogpile.Region // "" is the default; set by New and FromConfig only

	err error // of an option that cannot take its value

	tagRegion   string        // the region tag versions are kept in
	tagRefresh  time.Duration // how old a tag version may be when it is used
	tagCapacity int           // the most tag versions kept in memory
	tags        *tagTable

	optMu sync.RWMutex
	opts  map[time.Duration][]dogpile.CallOption // by RenderOptions.Expires, -1 for never

	kfMu     sync.RWMutex
	keyFuncs map[keyFuncID]*keyFunc
	keysKept atomic.Int64 // by all key functions

	mu        sync.RWMutex
	fragments map[fragmentID]Declaration
	escapes   map[string]struct{} // escaping states besides the default ""
}

type fragmentID struct{ template, name string }

// Option configures a Cache.
type Option func(*Cache)

// WithPrefix replaces DefaultPrefix at the start of every key. A prefix
// is 1 to 48 bytes of [A-Za-z0-9._/-]: no ':', which ends it in a key
// (see KeyName), and nothing Memcached cannot take. Another prefix makes
// Render, RenderEach and InvalidateTags fail with an error wrapping
// dogpile.ErrInvalidArgument.
func WithPrefix(prefix string) Option {
	return func(c *Cache) {
		if !validPrefix(prefix) {
			c.fail(fmt.Errorf("%w: WithPrefix(%q): a prefix is 1 to 48 bytes of [A-Za-z0-9._/-]", dogpile.ErrInvalidArgument, prefix))
			return
		}
		c.prefix = prefix
	}
}

// validPrefix reports whether p can start keys (see WithPrefix).
func validPrefix(p string) bool {
	if p == "" || len(p) > 48 {
		return false
	}
	for i := range len(p) {
		switch b := p[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '.', b == '_', b == '/', b == '-':
		default:
			return false
		}
	}
	return true
}

// WithRegion adds a named region, chosen per fragment (pongo2's
// region="name").
func WithRegion(name string, r *dogpile.Region) Option {
	return func(c *Cache) { c.regions[name] = r }
}

// WithRegionOptions gives options to every region FromConfig builds, after
// its name: an observer such as the debug panel's, WithFailOpen, a logger.
func WithRegionOptions(opts ...dogpile.Option) Option {
	return func(c *Cache) { c.regionOpts = append(c.regionOpts, opts...) }
}

// WithRoots names the directories templates are loaded from, so template
// names are normalised to paths relative to them (see NormalizeName).
func WithRoots(dirs ...string) Option {
	return func(c *Cache) { c.roots = append(c.roots, dirs...) }
}

// WithTagRegion keeps the versions of dependency tags in the region
// called name instead of the default region (see Cache.InvalidateTags).
// Every process that shares the fragments must keep its tags in a region
// on the same backend, with the same prefix.
func WithTagRegion(name string) Option { return func(c *Cache) { c.tagRegion = name } }

// DefaultTagRefresh is how old, at most, the tag versions a process uses
// are, unless WithTagRefresh says otherwise.
const DefaultTagRefresh = time.Second

// WithTagRefresh sets how old, at most, the tag versions this process uses
// to retire fragments may be: InvalidateTags in another process applies
// here within d plus one round trip to the tag region's backend. Versions
// in use are refreshed in the background every d/2, in batches. d must be
// positive: other values make Render, RenderEach and InvalidateTags fail
// with an error wrapping dogpile.ErrInvalidArgument.
func WithTagRefresh(d time.Duration) Option {
	return func(c *Cache) {
		if d <= 0 {
			c.fail(fmt.Errorf("%w: WithTagRefresh(%v): the refresh period must be positive", dogpile.ErrInvalidArgument, d))
			return
		}
		c.tagRefresh = d
	}
}

// DefaultTagCapacity is how many tag versions a Cache keeps in memory
// unless WithTagCapacity says otherwise.
const DefaultTagCapacity = 1 << 16

// WithTagCapacity bounds the tag versions this process keeps in memory;
// a tag dropped from them is read again, in the foreground, when next
// used. n must be positive, as for WithTagRefresh.
func WithTagCapacity(n int) Option {
	return func(c *Cache) {
		if n <= 0 {
			c.fail(fmt.Errorf("%w: WithTagCapacity(%d): the capacity must be positive", dogpile.ErrInvalidArgument, n))
			return
		}
		c.tagCapacity = n
	}
}

// fail records the error of an option; the first one is kept.
func (c *Cache) fail(err error) {
	if c.err == nil {
		c.err = fmt.Errorf("tmplcache: %w", err)
	}
}

// New returns a Cache whose default region is def.
func New(def *dogpile.Region, opts ...Option) *Cache {
	c := &Cache{
		prefix:      DefaultPrefix,
		regions:     map[string]*dogpile.Region{"": def},
		tagRefresh:  DefaultTagRefresh,
		tagCapacity: DefaultTagCapacity,
		opts:        map[time.Duration][]dogpile.CallOption{},
		keyFuncs:    map[keyFuncID]*keyFunc{},
		fragments:   map[fragmentID]Declaration{},
		escapes:     map[string]struct{}{},
	}
	for _, o := range opts {
		o(c)
	}
	c.roots = absRoots(c.roots)
	c.tags = newTagTable(c)
	return c
}

// FromConfig builds a Cache whose regions are configured from config with
// dogpile.cache's keys: each "<prefix><name>.backend" key declares a region
// called name, configured from the "<prefix><name>." keys; the region named
// "default" is the default one. For example, with prefix "cache.":
//
//	cache.default.backend = dogpile.cache.memory
//	cache.memcached.backend = dogpile.cache.memcached
//	cache.memcached.expiration_time = 300
//	cache.memcached.arguments.url = 127.0.0.1:11211
//
// Each region is configured by pyconfig.ConfigureFromConfig, with the
// options of WithRegionOptions. Backends are known by name once their
// packages are imported, as with dogpile.Region.Configure:
//
//	import _ "github.com/dogpilego/dogpile/dogpile/backends/memory"
func FromConfig(config map[string]any, prefix string, opts ...Option) (*Cache, error) {
	names := map[string]bool{}
	for key := range config {
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		if name, ok := strings.CutSuffix(rest, ".backend"); ok && name != "" && !strings.Contains(name, ".") {
			names[name] = true
		}
	}
	if !names["default"] {
		return nil, fmt.Errorf("tmplcache: no %q key in the configuration", prefix+"default.backend")
	}
	c := New(nil, opts...)
	for _, name := range slices.Sorted(maps.Keys(names)) {
		r := dogpile.NewRegion(append([]dogpile.Option{dogpile.WithName(name)}, c.regionOpts...)...)
		if err := pyconfig.ConfigureFromConfig(r, config, prefix+name+"."); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("tmplcache: region %q: %w", name, err)
		}
		c.owned = append(c.owned, r)
		if name == "default" {
			c.regions[""] = r
		} else {
			c.regions[name] = r
		}
	}
	return c, nil
}

// Close stops the background refresh of tag versions and closes the
// regions FromConfig built; regions given to New or WithRegion belong to
// the caller.
func (c *Cache) Close() error {
	c.tags.stop()
	var errs []error
	for _, r := range c.owned {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}

// Region returns the region called name; "" is the default region.
func (c *Cache) Region(name string) (*dogpile.Region, error) {
	r, ok := c.regions[name]
	if !ok || r == nil {
		if name == "" {
			return nil, fmt.Errorf("%w: the Cache has no default region", ErrUnknownRegion)
		}
		return nil, fmt.Errorf("%w %q (have %q)", ErrUnknownRegion, name, c.RegionNames())
	}
	return r, nil
}

// RegionNames returns the names of the regions, the default as "".
func (c *Cache) RegionNames() []string {
	return slices.Sorted(maps.Keys(c.regions))
}

// Declaration is what a template declares about one of its fragments when
// it is parsed: engines call Declare, so that KeyFor and Invalidate can
// compute the fragment's keys later.
type Declaration struct {
	Template string // as the engine names it; normalised by Declare
	Name     string // the fragment's name; "#n" for a nameless block that is the template's n-th cached block (see PositionalName)
	Digest   string // of the fragment's source; "" when digests are off
	Region   string // the region's name; "" for the default
}

// Declare records a fragment of a parsed template. A template parsed again
// with another source replaces its declaration.
func (c *Cache) Declare(d Declaration) {
	d.Template = c.TemplateName(d.Template)
	c.mu.Lock()
	c.fragments[fragmentID{d.Template, d.Name}] = d
	c.mu.Unlock()
}

// DeclareEscape records an escaping state an engine renders fragments in,
// besides the default "", so Invalidate deletes that variant too.
func (c *Cache) DeclareEscape(state string) {
	if state == "" {
		return
	}
	c.mu.Lock()
	c.escapes[state] = struct{}{}
	c.mu.Unlock()
}

func (c *Cache) declaration(template, name string) (Declaration, error) {
	template = c.TemplateName(template)
	c.mu.RLock()
	d, ok := c.fragments[fragmentID{template, name}]
	c.mu.RUnlock()
	if !ok {
		return d, fmt.Errorf("%w: %q in template %q (is the template parsed in this process?)", ErrUnknownFragment, name, template)
	}
	return d, nil
}

// KeyFor returns the key fragment name of template uses for vary, in the
// default escaping state: the exact key a block renders into. A nameless
// block is named by its place: KeyFor("post.html", "#2", 7) is the key of
// the template's second nameless block for 7. Vary values follow Key's
// rule: scalars by their canonical text, so 7 and "7" give one key.
func (c *Cache) KeyFor(template, name string, vary ...any) (string, error) {
	d, err := c.declaration(template, name)
	if err != nil {
		return "", err
	}
	return c.key(Fragment{Template: d.Template, Name: d.Name, Digest: d.Digest, Vary: vary})
}

// Invalidate deletes the fragment name of template for vary, in every
// escaping state, from its region. Vary values follow Key's rule: a
// fragment rendered with the int 7 is deleted by Invalidate with the
// string "7" and the other way round. To retire every fragment that shows
// some data, whatever its key, give the fragments tags and call
// InvalidateTags.
func (c *Cache) Invalidate(ctx context.Context, template, name string, vary ...any) error {
	d, err := c.declaration(template, name)
	if err != nil {
		return err
	}
	return c.deleteVariants(ctx, d.Region, Fragment{Template: d.Template, Name: d.Name, Digest: d.Digest, Vary: vary})
}

// InvalidateKey deletes a fragment rendered with an explicit key (pongo2's
// key="..."), in every escaping state, from the region called region.
func (c *Cache) InvalidateKey(ctx context.Context, region, key string) error {
	return c.deleteVariants(ctx, region, Fragment{Key: key})
}

func (c *Cache) deleteVariants(ctx context.Context, region string, f Fragment) error {
	r, err := c.Region(region)
	if err != nil {
		return err
	}
	c.mu.RLock()
	states := append([]string{""}, slices.Sorted(maps.Keys(c.escapes))...)
	c.mu.RUnlock()
	keys := make([]string, len(states))
	for i, s := range states {
		f.Escape = s
		if keys[i], err = c.key(f); err != nil {
			return err
		}
	}
	if err := r.DeleteMulti(ctx, keys); err != nil {
		return fmt.Errorf("tmplcache: invalidating %s: %w", keys[0], err)
	}
	return nil
}

// InvalidateAll invalidates every region of the Cache, hard or soft
// (Region.Invalidate), in the order of their names, the default first.
func (c *Cache) InvalidateAll(ctx context.Context, hard bool) error {
	regions := make([]*dogpile.Region, 0, len(c.regions))
	for _, name := range slices.Sorted(maps.Keys(c.regions)) {
		if r := c.regions[name]; r != nil {
			regions = append(regions, r)
		}
	}
	var errs []error
	for _, r := range regions {
		errs = append(errs, r.Invalidate(ctx, hard))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tmplcache: %w", err)
	}
	return nil
}
