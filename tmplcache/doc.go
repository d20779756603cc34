// Package tmplcache caches rendered template fragments in dogpile regions,
// for any template engine; packages pongo2ext and htmltmpl plug it into
// pongo2 and html/template.
//
// A Cache holds a default region and named ones, so each template set can
// keep, say, its sidebars in a shared Memcached region and small fragments
// in a local memory region. Regions come from code (New, WithRegion) or
// from a flat configuration map with dogpile.cache's key names
// (FromConfig).
//
// # Keys
//
// A fragment's key is derived from the template's normalised name, the
// fragment's name, a digest of the fragment's source (so editing a template
// retires its fragments, as Rails' template digests do), the engine's
// escaping state and the vary-on values. The parts are length-prefixed and
// hashed, so ["a:", "b"] and ["a", ":b"] never collide, and the key keeps a
// readable prefix and fits Memcached (at most 250 bytes, no spaces):
//
//	tmpl:blog/post.html:sidebar:2c1f9e0b7d4a6f3e8a1b5c7d9e0f2a4b
//
// A block without a name of its own is named by its place: engines give
// such a block the name "#n" (PositionalName) when it is the n-th cached
// block of its template, named blocks counted too, in parse order, which
// is stable across hosts and load paths as long as the template's blocks
// are not added, removed or reordered. A name starting with '#' is always
// such a place.
//
// Vary values are encoded structurally (see Cache.Key): lists by their
// elements, maps by their entries sorted by key, structs by their fields,
// so []string{"a b"} and []string{"a", "b"} never share a key. Scalars are
// compared by their canonical text, as Django does: a template varying on
// post.ID, the int 7, and a handler invalidating with the string "7" it
// took from the URL address the same fragment.
//
// KeyFor gives the exact key a fragment uses and Invalidate deletes it, in
// every escaping state the engines declared (Django's
// make_template_fragment_key, Rails' expire_fragment). Engines keep a
// KeyFunc per block, so a hit computes no hash when its key was computed
// lately, and pass the key as Fragment.FullKey.
//
// # Rendering
//
// Render goes through the region's GetOrCreate, so a fragment that expires
// under load is rendered once while the other requests get the previous
// HTML. Fragments nest: one rendered inside another's render function
// (through the context that function receives) is its child, and a
// fragment that leads back to itself fails with ErrRecursion instead of
// waiting for itself.
//
// RenderEach renders a collection, one fragment per item (Rails' render
// collection: cached: true): every item is read with one GetOrCreateMulti,
// so one backend read; only the missing, expired or retired items are
// rendered, each once under the dogpile lock's rules, and written back
// with one backend write.
//
// # Tags
//
// Deleting by key finds one fragment; the pages that show a post hold it
// in many, nested. Tags follow the page's structure instead: a fragment
// depends on the tags it declares (Fragment.Tags), on those the Go code it
// calls adds while it renders (AddTags, from a data lookup that knows what
// it read), and on every tag of every fragment rendered inside it, found
// in the cache or rendered then. InvalidateTags(ctx, "post:7") retires
// every fragment that depends on post:7, in every process whose Cache
// keeps its tags on the same backend, without deleting or scanning keys:
// each is rendered again on its next read, once, while the others are
// served its old HTML (or wait, where the region uses
// dogpile.WaitForFresh).
//
// A tag's version is the time of its last invalidation, kept in the tag
// region (the default region unless WithTagRegion names another) under
// "<prefix>:tag:<tag>". A fragment's entry records the version of each tag
// it depends on when it was rendered; for a tag met through an inner
// fragment, the version that fragment recorded, the least one if it is
// met several times, so that a fragment built on a stale inner one is
// stale too. A fragment is retired when some tag has a newer version.
//
// Each process keeps the versions it uses in memory and refreshes them
// in the background, every half refresh period (WithTagRefresh, one second
// by default), in batches of one multi read; a version it has not read, or
// has not refreshed within the refresh period, is read before it is used,
// in one multi read for all the tags an entry or a collection lacks. So a
// hit makes no round trip for its tags in the common case, and
// InvalidateTags in one process applies in another within the refresh
// period plus one round trip to the tag region's backend (measured on
// loopback Redis and Memcached with a 200 ms period: 5 to 150 ms, about
// half the period on average); in its own process, at once.
//
// # Limits
//
// Invalidating by deleting leaves a window: a render that read its data
// before a save and stores its HTML after the delete keeps the old HTML
// until it expires. Tags close it for data read while the fragment
// renders: an entry never records a version newer than the start of the
// outermost rendering around it (its own, at the top), so a save
// whose InvalidateTags lands while the fragment renders retires it on its
// next read, whether the tag was declared, added by AddTags before or
// after the read, or met in an inner fragment. Data read before any
// rendering started (a post a handler loaded before executing the
// template, the items given to a collection at the top of a page) is
// outside that: a save between that read and the start of the rendering
// is missed. Read such data inside a cached block around the fragments that
// show it, or vary on a version of the data (an updated-at time, a
// revision), so a save moves to a new key instead.
//
// Tag versions are read whatever the tag region's expiration time; a
// backend that drops them (a Memcached evicting under memory pressure)
// revives, in processes that had not read them, the fragments rendered
// before the invalidation. Keep tags in a region whose backend keeps its
// keys, and let processes' clocks agree to within the refresh period.
package tmplcache
