package tmplcache

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
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

// entry is what a fragment stores: its HTML and the version of each tag it
// depends on when it was rendered (none for a fragment without tags).
// Its short JSON names keep the entries of byte-storing backends small.
type entry struct {
	HTML string           `json:"h"`
	Tags map[string]int64 `json:"t,omitempty"`
}

// frame is a fragment's place in a rendering. The context of the region
// call that reads a fragment is a frame, and so is the context of the
// render function that renders it (its recorder is then set): fragments
// rendered inside find their parent in it, to refuse recursion and to
// report their tags.
type frame struct {
	context.Context
	c      *Cache
	f      Fragment
	fs     []Fragment // RenderEach's items, for its region call
	key    string
	parent *frame    // the rendering frame this one is nested in; nil at the top
	rec    *recorder // of a rendering frame
}

// recorder gathers the tags of a fragment while it renders.
type recorder struct {
	mu     sync.Mutex
	closed bool             // the rendering ended: its tags are taken
	tags   map[string]int64 // each tag with the least version met
	err    error            // of a tag version AddTags could not read
	// deferred makes AddTags leave the versions of the tags it adds to be
	// read later, with those of the other items of a collection, in one
	// call; pending holds those tags meanwhile.
	deferred bool
	pending  []string
	// start is when the outermost rendering around this one started, in
	// Unix nanoseconds: versions are recorded as at most start, so that a
	// tag invalidated while the fragment rendered, after it may have read
	// its data, retires it on its next read (see depend).
	start int64
}

// renderStart returns the start a rendering inside parent records its
// tags' versions against: parent's, or now at the top. It is called when
// a region call renders, so that hits read no clock.
func renderStart(parent *frame) int64 {
	if parent != nil {
		return parent.rec.start
	}
	return time.Now().UnixNano()
}

type frameKey struct{}

// Value returns the frame for frameKey and ctx's values otherwise.
func (fr *frame) Value(k any) any {
	if k == (frameKey{}) {
		return fr
	}
	return fr.Context.Value(k)
}

// renderingFrom returns the frame of the fragment being rendered in ctx,
// or nil outside a rendering.
func renderingFrom(ctx context.Context) *frame {
	fr, _ := ctx.Value(frameKey{}).(*frame)
	if fr != nil && fr.rec == nil {
		fr = fr.parent
	}
	return fr
}

// depend records that the fragment being rendered depends on tags, with
// the version each had when what depends on it was rendered: the least
// version of a tag met wins, so that a fragment built on a stale one is
// stale too. A version newer than the rendering's start is recorded as
// the start: that invalidation came while the fragment rendered, maybe
// after it read what the tag stands for, so the entry must not count as
// rendered after it.
func (r *recorder) depend(tags map[string]int64) {
	if len(tags) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if r.tags == nil {
		r.tags = make(map[string]int64, len(tags))
	}
	for tag, v := range tags {
		v = min(v, r.start)
		if old, ok := r.tags[tag]; !ok || v < old {
			r.tags[tag] = v
		}
	}
}

// fail records an error that makes the rendering fail.
func (r *recorder) fail(err error) {
	r.mu.Lock()
	if !r.closed && r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

// addPending keeps tags for a later read of their versions, and reports
// whether r defers them.
func (r *recorder) addPending(tags []string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.deferred || r.closed {
		return false
	}
	for _, tag := range tags {
		if tag != "" {
			r.pending = append(r.pending, tag)
		}
	}
	return true
}

// takePending stops deferring and returns the tags kept meanwhile: tags
// added after the rendering returned have their versions read at once.
func (r *recorder) takePending() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deferred = false
	p := r.pending
	r.pending = nil
	return p
}

// close ends the rendering and returns its tags.
func (r *recorder) close() (map[string]int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return r.tags, r.err
}

// checkRecursion fails when key is the key of a fragment being rendered
// around parent, which would otherwise wait for itself.
func checkRecursion(parent *frame, key string) error {
	for p := parent; p != nil; p = p.parent {
		if p.key == key {
			return fmt.Errorf("%w: %s", ErrRecursion, key)
		}
	}
	return nil
}

// FragmentFromContext returns the fragment whose Render made the region
// call that ctx belongs to, or whose rendering ctx belongs to, for
// observers such as the debug panel that report which template and
// fragment a cache operation served. Inside RenderEach's render function
// it returns the item being rendered; in RenderEach's own region call it
// returns false (see FragmentsFromContext).
func FragmentFromContext(ctx context.Context) (Fragment, bool) {
	fr, _ := ctx.Value(frameKey{}).(*frame)
	if fr == nil || fr.fs != nil {
		return Fragment{}, false
	}
	return fr.f, true
}

// FragmentsFromContext returns the fragments of the region call or the
// rendering that ctx belongs to: RenderEach's items in its region call,
// else the one fragment FragmentFromContext returns; nil outside them.
func FragmentsFromContext(ctx context.Context) []Fragment {
	fr, _ := ctx.Value(frameKey{}).(*frame)
	switch {
	case fr == nil:
		return nil
	case fr.fs != nil:
		return fr.fs
	}
	return []Fragment{fr.f}
}

// maxExpiryOptions bounds the option sets kept for RenderOptions.Expires.
const maxExpiryOptions = 64

// callOptions returns the region call options of o: StaleIf retiring
// entries by the tag versions this process holds, and o's expiration.
// They are made once per expiration and kept, so that a hit spends
// nothing on them.
func (c *Cache) callOptions(o RenderOptions) []dogpile.CallOption {
	d := max(o.Expires, -1)
	c.optMu.RLock()
	opts, ok := c.opts[d]
	c.optMu.RUnlock()
	if ok {
		return opts
	}
	opts = []dogpile.CallOption{dogpile.StaleIf(c.staleEntry)}
	switch {
	case d < 0:
		opts = append(opts, dogpile.Expiration(dogpile.NoExpiration))
	case d > 0:
		opts = append(opts, dogpile.Expiration(d))
	}
	c.optMu.Lock()
	if len(c.opts) < maxExpiryOptions {
		c.opts[d] = opts
	}
	c.optMu.Unlock()
	return opts
}

// staleEntry is the region's StaleIf: an entry is stale when a tag it
// depends on has a newer version than the entry recorded, by the versions
// this process holds. It reads nothing: Render and RenderEach then read
// the versions this process lacks, with their caller's context, and
// render again what they retire.
func (c *Cache) staleEntry(v any, _ time.Time) bool {
	e, ok := v.(entry)
	return ok && len(e.Tags) > 0 && c.tags.retiredByKnown(e.Tags)
}

// retryOptions returns opts with a StaleIf that also retires entries by
// the versions got, just read, whether or not this process keeps them.
func (c *Cache) retryOptions(opts []dogpile.CallOption, got map[string]int64) []dogpile.CallOption {
	return append(slices.Clip(opts), dogpile.StaleIf(func(v any, created time.Time) bool {
		e, ok := v.(entry)
		return ok && (c.staleEntry(v, created) || retiredBy(e.Tags, got))
	}))
}

// Render returns the HTML of fragment f from its region, calling render
// under the region's dogpile lock when it is missing, expired or retired
// by one of its tags (see InvalidateTags): one caller renders while the
// others are served the previous HTML, or wait for the new one where the
// region uses dogpile.WaitForFresh.
//
// render receives a context carrying f: fragments rendered inside it that
// lead back to f fail with ErrRecursion instead of waiting for themselves,
// fragments rendered inside it report their tags to f, and AddTags adds
// tags to f. Pass that context on to nested renderings and to the Go code
// the template calls. The context keeps the values of ctx but not its
// cancellation: a caller whose ctx ends stops waiting, and the rendering
// goes on for the others. render's error is returned to every caller that
// waited for it and is not cached.
//
// f depends on its declared Tags, on the tags AddTags adds while it
// renders and on every tag of every fragment rendered inside it, hit or
// miss; the stored entry keeps the version of each tag as it was when f
// was rendered, and Render reports them to the fragment being rendered
// around it, if any, so that tags propagate up to the outermost fragment.
func (c *Cache) Render(ctx context.Context, f Fragment, o RenderOptions, render func(context.Context) (string, error)) (string, error) {
	if c.err != nil {
		return "", c.err
	}
	r, err := c.Region(o.Region)
	if err != nil {
		return "", err
	}
	key := f.FullKey
	if key == "" {
		if key, err = c.key(f); err != nil {
			return "", err
		}
	}
	parent := renderingFrom(ctx)
	if err := checkRecursion(parent, key); err != nil {
		return "", err
	}
	call := &renderCall{frame: frame{Context: ctx, c: c, f: f, key: key, parent: parent}, render: render}
	opts := c.callOptions(o)
	e, err := dogpile.GetOrCreate(&call.frame, r, key, call.create, opts...)
	if err == nil && len(e.Tags) > 0 {
		// Versions this process lacked: read now, and when they retire the
		// entry, ask again, for the region to render it under its lock.
		var got map[string]int64
		var retired bool
		if got, retired, err = c.tags.retired(&call.frame, e.Tags); retired && err == nil {
			e, err = dogpile.GetOrCreate(&call.frame, r, key, call.create, c.retryOptions(opts, got)...)
		}
	}
	if err != nil {
		return "", fmt.Errorf("tmplcache: %s: %w", describe(f), err)
	}
	if parent != nil {
		parent.rec.depend(e.Tags)
	}
	return e.HTML, nil
}

// renderCall is one call of Render.
type renderCall struct {
	frame
	render func(context.Context) (string, error)
}

// create renders the fragment for the region.
func (call *renderCall) create(ctx context.Context) (entry, error) {
	html, rec, err := call.c.rendering(ctx, call.f, call.key, call.parent, renderStart(call.parent), nil, false, call.render)
	if err != nil {
		return entry{}, err
	}
	return rec.entry(html)
}

// entry closes r and returns the entry of a rendering that gave html.
func (r *recorder) entry(html string) (entry, error) {
	tags, err := r.close()
	if err != nil {
		return entry{}, err
	}
	return entry{HTML: html, Tags: tags}, nil
}

// rendering renders fragment f, of key key, for the region: in a
// rendering frame that records versions against start (see
// recorder.start), with the versions of its declared tags read before it
// renders (known, when the caller read them already). It returns the
// rendering's recorder, still open unless render failed; with deferTags,
// the tags AddTags added are pending in it.
func (c *Cache) rendering(ctx context.Context, f Fragment, key string, parent *frame, start int64, known map[string]int64, deferTags bool, render func(context.Context) (string, error)) (string, *recorder, error) {
	fr := &frame{Context: ctx, c: c, f: f, key: key, parent: parent, rec: &recorder{start: start, deferred: deferTags}}
	if len(f.Tags) > 0 {
		if known == nil {
			var err error
			if known, err = c.tags.versions(ctx, f.Tags); err != nil {
				return "", nil, err
			}
		}
		declared := make(map[string]int64, len(f.Tags))
		for _, tag := range f.Tags {
			if tag != "" {
				declared[tag] = known[tag]
			}
		}
		fr.rec.depend(declared)
	}
	html, err := render(fr)
	if err != nil {
		fr.rec.close()
		return "", nil, err
	}
	return html, fr.rec, nil
}

// RenderEach returns the HTML of every fragment of fs, in order, from the
// region o names: one fragment per item of a collection (Rails' render
// collection: cached: true). Every item is read with one
// GetOrCreateMulti, so one backend read; the items missing, expired or
// retired by a tag are rendered, each once under the dogpile lock's rules
// (render(ctx, i) renders item i), and written with one backend write.
// Items with the same key are rendered once and share their HTML. The
// versions of the items' declared tags are read in one call before they
// render, and those of the tags AddTags adds while they render in one call
// after them. The tags of every item are reported to the fragment being
// rendered around the collection, as Render reports a fragment's.
//
// render's context carries fs[i] as Render's carries its fragment. Items
// are rendered one after the other, in order. An error of render, or an
// item whose key cannot be computed, fails the whole call, and nothing of
// that rendering is cached.
func (c *Cache) RenderEach(ctx context.Context, fs []Fragment, o RenderOptions, render func(ctx context.Context, i int) (string, error)) ([]string, error) {
	if c.err != nil {
		return nil, c.err
	}
	r, err := c.Region(o.Region)
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return []string{}, nil
	}
	parent := renderingFrom(ctx)
	keys := make([]string, len(fs))
	first := make(map[string]int, len(fs)) // the first item of each key
	for i, f := range fs {
		k := f.FullKey
		if k == "" {
			if k, err = c.key(f); err != nil {
				return nil, fmt.Errorf("tmplcache: item %d: %w", i, err)
			}
		}
		if _, dup := first[k]; !dup {
			if err := checkRecursion(parent, k); err != nil {
				return nil, err
			}
			first[k] = i
		}
		keys[i] = k
	}
	call := &eachCall{frame: frame{Context: ctx, c: c, fs: fs, parent: parent}, keys: keys, first: first, render: render}
	opts := c.callOptions(o)
	m, err := dogpile.GetOrCreateMulti(&call.frame, r, keys, call.create, opts...)
	if err == nil {
		// Versions this process lacked, for every item at once: the items
		// they retire are asked for again.
		var got map[string]int64
		var retired []string
		if got, retired, err = c.tags.retiredKeys(&call.frame, m); len(retired) > 0 && err == nil {
			var again map[string]entry
			if again, err = dogpile.GetOrCreateMulti(&call.frame, r, retired, call.create, c.retryOptions(opts, got)...); err == nil {
				maps.Copy(m, again)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("tmplcache: a collection of %d fragments, the first %s: %w", len(fs), describe(fs[0]), err)
	}
	out := make([]string, len(fs))
	for i, k := range keys {
		e, ok := m[k]
		if !ok {
			return nil, fmt.Errorf("tmplcache: item %d, %s, was not rendered", i, describe(fs[i]))
		}
		out[i] = e.HTML
		if parent != nil && first[k] == i {
			parent.rec.depend(e.Tags)
		}
	}
	return out, nil
}

// eachCall is one call of RenderEach.
type eachCall struct {
	frame
	keys   []string
	first  map[string]int
	render func(ctx context.Context, i int) (string, error)
}

// create renders the missing items for the region, after reading the
// versions of all their declared tags at once, and reads those of the
// tags AddTags added while they rendered at once too, after them: an
// invalidation meanwhile still retires them, since no version newer than
// start is recorded.
func (call *eachCall) create(ctx context.Context, missing []string) (map[string]entry, error) {
	start := renderStart(call.parent)
	var declared []string
	for _, k := range missing {
		declared = append(declared, call.fs[call.first[k]].Tags...)
	}
	var known map[string]int64
	if len(declared) > 0 {
		var err error
		if known, err = call.c.tags.versions(ctx, declared); err != nil {
			return nil, err
		}
	}
	type item struct {
		html    string
		rec     *recorder
		pending []string
	}
	done := make(map[string]item, len(missing))
	var added []string
	for _, k := range missing {
		i := call.first[k]
		html, rec, err := call.c.rendering(ctx, call.fs[i], k, call.parent, start, known, true, func(ctx context.Context) (string, error) {
			return call.render(ctx, i)
		})
		if err != nil {
			for _, it := range done {
				it.rec.close()
			}
			return nil, fmt.Errorf("item %d, %s: %w", i, describe(call.fs[i]), err)
		}
		pending := rec.takePending()
		added = append(added, pending...)
		done[k] = item{html, rec, pending}
	}
	var versions map[string]int64
	if len(added) > 0 {
		var err error
		if versions, err = call.c.tags.versions(ctx, added); err != nil {
			for _, it := range done {
				it.rec.close()
			}
			return nil, err
		}
	}
	out := make(map[string]entry, len(missing))
	var errs error
	for k, it := range done {
		if len(it.pending) > 0 {
			mine := make(map[string]int64, len(it.pending))
			for _, tag := range it.pending {
				mine[tag] = versions[tag]
			}
			it.rec.depend(mine)
		}
		e, err := it.rec.entry(it.html)
		if err != nil {
			errs = cmp.Or(errs, fmt.Errorf("item %d, %s: %w", call.first[k], describe(call.fs[call.first[k]]), err))
			continue
		}
		out[k] = e
	}
	if errs != nil {
		return nil, errs
	}
	return out, nil
}

// describe names f in errors.
func describe(f Fragment) string {
	if f.Key != "" {
		return fmt.Sprintf("fragment with key %q", f.Key)
	}
	return fmt.Sprintf("fragment %q of %q", f.Name, f.Template)
}
