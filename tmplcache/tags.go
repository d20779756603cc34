package tmplcache

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/internal/flight"
)

// AddTags adds dependency tags to the fragment being rendered in ctx: the
// innermost one whose render function received ctx or a context derived
// from it, as Go code a template calls does when it knows what data it
// read. It may be called before or after the read: an invalidation of the
// tag while the fragment renders retires it (see Limits in the package
// documentation). Outside a rendering, AddTags does nothing. Empty tags are
// ignored.
//
// The version of a tag this process has not read yet is read from the tag
// region at once, or, for an item of a collection (RenderEach), with those
// of the other items' tags in one read after they rendered; if that read
// fails, the rendering fails with its error.
func AddTags(ctx context.Context, tags ...string) {
	fr := renderingFrom(ctx)
	if fr == nil || len(tags) == 0 || fr.rec.addPending(tags) {
		return
	}
	versions, err := fr.c.tags.versions(ctx, tags)
	if err != nil {
		fr.rec.fail(err)
		return
	}
	fr.rec.depend(versions)
}

// InvalidateTags retires every fragment that depends on one of tags, in
// every process whose Cache keeps its tags in a region on the same
// backend (see WithTagRegion), without deleting or scanning any key: each
// fragment is rendered again on its next read, once, while the old HTML
// is served to the other callers (or they wait, where the region uses
// dogpile.WaitForFresh).
//
// A tag's version is the time of its last invalidation in Unix
// nanoseconds, kept under the key "<prefix>:tag:<tag>" in the tag region
// (tags with characters other than [A-Za-z0-9._/:#-], or longer than 160
// bytes, are written shortened with a hash); InvalidateTags writes
// max(now, the version known here + 1) for each tag, in one backend call,
// and applies them in this process at once. Other processes apply them
// within their refresh period (WithTagRefresh, one second by default) plus
// one round trip: each process keeps the versions it uses in memory,
// refreshes them in the background, and reads a version it does not hold,
// or one older than the refresh period, before using it.
//
// Versions are read whatever the tag region's expiration time. A backend
// that drops a version (a Memcached evicting under memory pressure, a
// server-side time to live) revives, in processes that had not read it
// yet, the fragments rendered before that invalidation: keep tags in a
// region whose backend keeps its keys. Processes' clocks must agree to
// within the refresh period. Empty tags are ignored.
func (c *Cache) InvalidateTags(ctx context.Context, tags ...string) error {
	if c.err != nil {
		return c.err
	}
	r, err := c.Region(c.tagRegion)
	if err != nil {
		return fmt.Errorf("tmplcache: tag region: %w", err)
	}
	now := time.Now().UnixNano()
	values := make(map[string]any, len(tags))
	versions := make(map[string]int64, len(tags))
	for _, tag := range tags {
		if _, dup := versions[tag]; dup || tag == "" {
			continue
		}
		v := now
		if st := c.tags.state(tag); st != nil {
			v = max(v, st.version.Load()+1)
		}
		versions[tag] = v
		values[c.tagKey(tag)] = v
	}
	if len(values) == 0 {
		return nil
	}
	if err := r.SetMulti(ctx, values); err != nil {
		return fmt.Errorf("tmplcache: invalidating tags %q: %w", slices.Sorted(maps.Keys(versions)), err)
	}
	for tag, v := range versions {
		c.tags.learn(tag, v, now)
	}
	return nil
}

// maxTagReadable bounds the tags written as they are in their keys.
const maxTagReadable = 160

// tagKey returns the key of tag's version in the tag region.
func (c *Cache) tagKey(tag string) string {
	safe := len(tag) <= maxTagReadable
	for i := 0; safe && i < len(tag); i++ {
		b := tag[i]
		safe = b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b == '.' || b == '_' || b == '/' || b == ':' || b == '#' || b == '-'
	}
	if safe && !endsLikeHash(tag) {
		return c.prefix + ":tag:" + tag
	}
	// '~' is never in a tag written as it is, so the two forms never meet.
	sum := sha256.Sum256([]byte(tag))
	k := appendSanitized([]byte(c.prefix+":tag:"), []byte(tag))
	k = append(k, '~')
	return string(hex.AppendEncode(k, sum[:16]))
}

// endsLikeHash reports whether s ends as a fragment's key does, with ':'
// and 32 hex digits: such a tag is written with a hash, so that its key
// cannot be a fragment's.
func endsLikeHash(s string) bool {
	const n = 33
	if len(s) < n || s[len(s)-n] != ':' {
		return false
	}
	_, err := hex.DecodeString(s[len(s)-n+1:])
	return err == nil
}

// tagTable is what a process knows of tag versions: those it used
// recently, each with the time of the read that gave it, refreshed in the
// background while they are in use.
type tagTable struct {
	c       *Cache
	m       sync.Map // tag → *tagState
	n       atomic.Int64
	flights flight.Group[int64] // the foreground reads, by tag

	running atomic.Bool // the refresher runs
	mu      sync.Mutex  // guards starting and stopping the refresher
	closed  bool
	quit    chan struct{}
	done    chan struct{}
}

// tagState is the version of one tag.
type tagState struct {
	version atomic.Int64 // Unix nanoseconds of the last invalidation; 0: never
	fetched atomic.Int64 // Unix nanoseconds when the read that gave it started
	used    atomic.Int64 // Unix nanoseconds of the last use, to a few ms
}

// The background refresh: how long a version is kept in memory unused,
// and how many are read in one backend call.
const (
	tagIdleRefreshes = 10
	tagBatch         = 256
	tagReadTimeout   = 5 * time.Second
)

func newTagTable(c *Cache) *tagTable {
	return &tagTable{c: c, quit: make(chan struct{}), done: make(chan struct{})}
}

func (t *tagTable) state(tag string) *tagState {
	if st, ok := t.m.Load(tag); ok {
		return st.(*tagState)
	}
	return nil
}

// current returns the version of tag, or false when this process holds
// none younger than the refresh period, which must then be read.
func (t *tagTable) current(tag string, now int64) (int64, bool) {
	st := t.state(tag)
	if st == nil {
		return 0, false
	}
	t.use(st, now)
	if now-st.fetched.Load() > int64(t.c.tagRefresh) {
		return 0, false
	}
	return st.version.Load(), true
}

// use records that st was used at now, to within an eighth of the
// refresh period, so that the background refresh keeps it.
func (t *tagTable) use(st *tagState, now int64) {
	if now-st.used.Load() > int64(t.c.tagRefresh)/8 {
		st.used.Store(now)
		t.start()
	}
}

// retiredByKnown reports whether a fragment rendered with the recorded
// versions of its tags is retired by the versions this process holds,
// however old: some tag has a newer one. It reads nothing.
func (t *tagTable) retiredByKnown(recorded map[string]int64) bool {
	now := time.Now().UnixNano()
	for tag, v := range recorded {
		if st := t.state(tag); st != nil && st.version.Load() > v {
			t.use(st, now)
			return true
		}
	}
	return false
}

// lacking appends to need the tags of recorded whose versions this
// process holds none of, or none younger than the refresh period.
func (t *tagTable) lacking(need []string, recorded map[string]int64, now int64) []string {
	for tag := range recorded {
		if _, ok := t.current(tag, now); !ok {
			need = append(need, tag)
		}
	}
	return need
}

// retired reports whether a fragment rendered with the recorded versions
// of its tags, found fresh by retiredByKnown, is retired by the versions
// this process lacked, which it reads in one backend call and returns.
func (t *tagTable) retired(ctx context.Context, recorded map[string]int64) (map[string]int64, bool, error) {
	need := t.lacking(nil, recorded, time.Now().UnixNano())
	if len(need) == 0 {
		return nil, false, nil
	}
	got, err := t.read(ctx, need)
	if err != nil {
		return nil, false, err
	}
	return got, retiredBy(recorded, got), nil
}

// retiredBy reports whether some tag of recorded has a newer version in
// got.
func retiredBy(recorded, got map[string]int64) bool {
	for tag, v := range recorded {
		if cur, ok := got[tag]; ok && cur > v {
			return true
		}
	}
	return false
}

// retiredKeys returns the keys of the entries of m, found fresh by
// retiredByKnown, that the versions this process lacked retire, reading
// those of every entry in one backend call, and the versions read.
func (t *tagTable) retiredKeys(ctx context.Context, m map[string]entry) (map[string]int64, []string, error) {
	now := time.Now().UnixNano()
	var need []string
	for _, e := range m {
		need = t.lacking(need, e.Tags, now)
	}
	if len(need) == 0 {
		return nil, nil, nil
	}
	got, err := t.read(ctx, need)
	if err != nil {
		return nil, nil, err
	}
	var retired []string
	for k, e := range m {
		if retiredBy(e.Tags, got) {
			retired = append(retired, k)
		}
	}
	return got, retired, nil
}

// versions returns the current version of each non-empty tag of tags,
// reading those this process holds none of, or none younger than the
// refresh period, in one backend call.
func (t *tagTable) versions(ctx context.Context, tags []string) (map[string]int64, error) {
	now := time.Now().UnixNano()
	out := make(map[string]int64, len(tags))
	var unknown []string
	for _, tag := range tags {
		if _, done := out[tag]; done || tag == "" {
			continue
		}
		v, ok := t.current(tag, now)
		if !ok {
			unknown = append(unknown, tag)
		}
		out[tag] = v
	}
	if len(unknown) == 0 {
		return out, nil
	}
	got, err := t.read(ctx, unknown)
	if err != nil {
		return nil, err
	}
	for _, tag := range unknown {
		out[tag] = got[tag]
	}
	return out, nil
}

// read reads the versions of tags from the tag region, in one backend
// call for those no other caller is reading already, and returns them.
func (t *tagTable) read(ctx context.Context, tags []string) (map[string]int64, error) {
	slices.Sort(tags)
	tags = slices.Compact(tags)
	var (
		led   []string
		calls []*flight.Call[int64]
		waits []*flight.Call[int64]
		wait  []string
	)
	for _, tag := range tags {
		call, leader := t.flights.Join(tag)
		if leader {
			led, calls = append(led, tag), append(calls, call)
		} else {
			wait, waits = append(wait, tag), append(waits, call)
		}
	}
	out := make(map[string]int64, len(tags))
	var err error
	if len(led) > 0 {
		var got []int64
		got, err = t.fetch(ctx, led)
		for j, tag := range led {
			var v int64
			if err == nil {
				v = got[j]
				out[tag] = v
			}
			t.flights.Finish(tag, calls[j], v, err)
		}
	}
	// Read first, wait for the others after: two callers leading each
	// other's tags then cannot deadlock.
	for j, call := range waits {
		v, werr := call.Wait(ctx, false)
		if werr != nil {
			if err == nil {
				err = werr
			}
			continue
		}
		out[wait[j]] = v
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// fetch reads the versions of tags in one backend call, keeps them and
// returns them in order.
func (t *tagTable) fetch(ctx context.Context, tags []string) ([]int64, error) {
	r, err := t.c.Region(t.c.tagRegion)
	if err != nil {
		return nil, fmt.Errorf("tag region: %w", err)
	}
	keys := make([]string, len(tags))
	for i, tag := range tags {
		keys[i] = t.c.tagKey(tag)
	}
	start := time.Now().UnixNano()
	got, err := dogpile.GetMulti[int64](ctx, r, keys, dogpile.IgnoreExpiration())
	if err != nil {
		return nil, fmt.Errorf("reading the versions of tags %q: %w", tags, err)
	}
	out := make([]int64, len(tags))
	for i, tag := range tags {
		out[i] = t.learn(tag, got[keys[i]], start)
	}
	return out, nil
}

// learn keeps version v of tag, read by a read that started at fetched
// (Unix nanoseconds), and returns the version kept: versions only grow,
// so an older read never undoes a newer one.
func (t *tagTable) learn(tag string, v, fetched int64) int64 {
	st := t.state(tag)
	if st == nil {
		fresh := &tagState{}
		fresh.used.Store(fetched)
		actual, loaded := t.m.LoadOrStore(tag, fresh)
		st = actual.(*tagState)
		if !loaded && t.n.Add(1) > int64(t.c.tagCapacity) {
			t.evict(tag)
		}
	}
	for old := st.version.Load(); v > old && !st.version.CompareAndSwap(old, v); old = st.version.Load() {
	}
	for old := st.fetched.Load(); fetched > old && !st.fetched.CompareAndSwap(old, fetched); old = st.fetched.Load() {
	}
	t.start()
	return max(v, st.version.Load())
}

// evict drops versions until the table is within its capacity again, the
// least recently used of a sample first; keep is never dropped.
func (t *tagTable) evict(keep string) {
	type candidate struct {
		tag  string
		used int64
	}
	over := int(t.n.Load()) - t.c.tagCapacity
	if over <= 0 {
		return
	}
	var sample []candidate
	t.m.Range(func(k, v any) bool {
		if tag := k.(string); tag != keep {
			sample = append(sample, candidate{tag, v.(*tagState).used.Load()})
		}
		return len(sample) < 8*over
	})
	slices.SortFunc(sample, func(a, b candidate) int { return cmp.Compare(a.used, b.used) })
	for _, s := range sample[:min(over, len(sample))] {
		if _, ok := t.m.LoadAndDelete(s.tag); ok {
			t.n.Add(-1)
		}
	}
}

// start starts the background refresh unless it runs or the Cache is
// closed.
func (t *tagTable) start() {
	if t.running.Load() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.running.Load() {
		return
	}
	t.running.Store(true)
	t.done = make(chan struct{})
	go t.refresh(t.done)
}

// stop stops the background refresh for good and waits for it to end.
func (t *tagTable) stop() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	close(t.quit)
	running, done := t.running.Load(), t.done
	t.mu.Unlock()
	if running {
		<-done
	}
}

// refresh reads again, every half refresh period, the versions used in the
// last tagIdleRefreshes periods, in batches, and drops the others. It ends
// when no version is left.
func (t *tagTable) refresh(done chan struct{}) {
	defer close(done)
	period := t.c.tagRefresh / 2
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-t.quit:
			return
		case <-tick.C:
		}
		now := time.Now().UnixNano()
		idle := now - tagIdleRefreshes*int64(t.c.tagRefresh)
		var due []string
		t.m.Range(func(k, v any) bool {
			st := v.(*tagState)
			switch {
			case st.used.Load() < idle:
				if t.m.CompareAndDelete(k, v) {
					t.n.Add(-1)
				}
			case now-st.fetched.Load() >= int64(period)/2:
				due = append(due, k.(string))
			}
			return true
		})
		if t.n.Load() == 0 {
			t.mu.Lock()
			if t.n.Load() == 0 {
				t.running.Store(false)
				t.mu.Unlock()
				return
			}
			t.mu.Unlock()
		}
		for batch := range slices.Chunk(due, tagBatch) {
			ctx, cancel := context.WithTimeout(context.Background(), tagReadTimeout)
			_, _ = t.fetch(ctx, batch) // a failed read is tried again next period
			cancel()
		}
	}
}
