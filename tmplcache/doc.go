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
// A fragment's key is derived from the template's normalised name, the
// fragment's name, a digest of the fragment's source (so editing a template
// retires its fragments, as Rails' template digests do), the engine's
// escaping state and the vary-on values. The parts are length-prefixed and
// hashed, so ["a:", "b"] and ["a", ":b"] never collide, and the key keeps a
// readable prefix and fits Memcached (at most 250 bytes, no spaces):
//
//	tmpl:blog/post.html:sidebar:2c1f9e0b7d4a6f3e8a1b5c7d9e0f2a4b
//
// KeyFor gives the exact key a fragment uses and Invalidate deletes it, in
// every escaping state the engines declared (Django's
// make_template_fragment_key, Rails' expire_fragment). Rendering goes
// through the region's GetOrCreate, so a fragment that expires under load
// is rendered once while the other requests get the previous HTML.
//
// Invalidating by deleting leaves a window: a render that read its data
// before a save and stores its HTML after the delete keeps the old HTML
// until it expires. Where that matters, vary on a version of the data (an
// updated-at time, a revision), so a save moves to a new key instead.
package tmplcache
