package tmplcache

import (
	"context"
	"encoding/hex"
	"strings"
)

// Level is one level of the tree of fragments a context is in, as Trace
// reports it.
type Level struct {
	// Fragment is the fragment read or rendered at this level; for the
	// region call of a collection (RenderEach), its first item.
	Fragment Fragment
	// Key is the fragment's key; for the region call of a collection, its
	// first item's.
	Key string
	// Items is the number of fragments of the region call of a collection,
	// and 0 at other levels.
	Items int
	// Rendering reports whether the context is the fragment's render
	// function's (true) or that of the region call that reads it (false).
	Rendering bool
}

// Trace returns where ctx is in the tree of fragments, for observers such
// as the debug panel that show which fragment rendered which: the
// fragments being rendered around it, outermost first, then, when ctx
// belongs to the region call of a Render or RenderEach (as the contexts
// of its operations, creation and lock waits included, do), the fragment
// or collection that call reads. Only the last level can be a region
// call's. An item of a collection is rendered inside the collection's
// region call, but its rendering's parent is the fragment around the
// collection, as for tags: its level follows that fragment's. Trace
// returns nil outside fragments.
func Trace(ctx context.Context) []Level {
	fr, _ := ctx.Value(frameKey{}).(*frame)
	n := 0
	for p := fr; p != nil; p = p.parent {
		n++
	}
	if n == 0 {
		return nil
	}
	out := make([]Level, n)
	for p := fr; p != nil; p = p.parent {
		n--
		l := Level{Fragment: p.f, Key: p.key, Rendering: p.rec != nil}
		if p.fs != nil {
			l.Fragment, l.Items = p.fs[0], len(p.fs)
			if l.Key = p.fs[0].FullKey; l.Key == "" {
				l.Key, _ = p.c.key(p.fs[0])
			}
		}
		out[n] = l
	}
	return out
}

// KeyName tells what a key made by a Cache names, from the key alone, for
// tools such as the debug panel that see keys deleted or written without
// the fragment they belong to (Invalidate, InvalidateKey, InvalidateTags).
// For a fragment's key (see Cache.Key) it returns the key's readable part:
// the template's and the fragment's names ("blog/post.html:sidebar"), or
// "k:" and the explicit key, as Key wrote them (cut, characters outside
// [A-Za-z0-9._/:#-] replaced by '_'). For the key of a tag's version it
// returns the tag, with tag true; a tag written with a hash gives its
// readable part, the text before '~'. ok is false for other keys. A
// Cache's prefix ends at the key's first ':', since it has none (see
// WithPrefix).
func KeyName(key string) (name string, tag, ok bool) {
	_, rest, found := strings.Cut(key, ":")
	if !found {
		return "", false, false
	}
	if endsLikeHash(rest) {
		name = rest[:len(rest)-33]
		return name, false, name != ""
	}
	t, found := strings.CutPrefix(rest, "tag:")
	if !found || t == "" {
		return "", false, false
	}
	if readable, sum, hashed := strings.Cut(t, "~"); hashed {
		if len(sum) != 32 {
			return "", false, false
		}
		if _, err := hex.DecodeString(sum); err != nil {
			return "", false, false
		}
		t = readable
	}
	return t, true, true
}
