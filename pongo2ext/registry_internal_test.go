package pongo2ext

import (
	"runtime"
	"testing"

	"github.com/dogpilego/dogpile/tmplcache"
)

func TestRegistryHoldsCachesWeakly(t *testing.T) {
	r := &registry{decls: map[declID]declared{}}
	r.declare(tmplcache.Declaration{Template: "a.html", Name: "x", Digest: "1"})
	r.declare(tmplcache.Declaration{Template: "/abs/a.html", Name: "x", Digest: "2"})
	kept := tmplcache.New(nil, tmplcache.WithRoots("/abs"))
	r.subscribe(kept)
	r.subscribe(kept) // once only
	func() {
		dropped := tmplcache.New(nil)
		r.subscribe(dropped)
	}()
	if len(r.caches) != 2 {
		t.Fatalf("%d subscribers, want 2", len(r.caches))
	}
	// Replayed in order: the later declaration of a.html wins.
	if k1, k2 := kept.Key(tmplcache.Fragment{Template: "a.html", Name: "x", Digest: "2"}), mustKeyFor(t, kept, "a.html", "x"); k1 != k2 {
		t.Errorf("KeyFor = %s, want the digest of the last parse (%s)", k2, k1)
	}
	runtime.GC()
	r.declare(tmplcache.Declaration{Template: "b.html", Name: "y"})
	if len(r.caches) != 1 {
		t.Errorf("%d subscribers after the GC, want 1", len(r.caches))
	}
	mustKeyFor(t, kept, "b.html", "y")
	runtime.KeepAlive(kept)
}

func mustKeyFor(t *testing.T, c *tmplcache.Cache, template, name string) string {
	t.Helper()
	k, err := c.KeyFor(template, name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
