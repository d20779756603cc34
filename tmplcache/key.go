package tmplcache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"path"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Fragment identifies one cached rendering of a block.
type Fragment struct {
	// Template is the template's name as the engine knows it; Key
	// normalises it with TemplateName.
	Template string
	// Name is the fragment's name within the template. A nameless block is
	// named by its place: "#1" for the template's first cached block in
	// parse order, "#2" for the second (see PositionalName).
	Name string
	// Digest identifies the fragment's source (see Digest); "" opts out, so
	// an edited fragment keeps its cached renderings until they expire.
	Digest string
	// Escape is the engine's escaping state; "" is the engine's default.
	// Output escaped in one state must never be served in another.
	Escape string
	// Vary are the values the rendering depends on, encoded structurally
	// into the key (see Cache.Key).
	Vary []any
	// Key, when set, is an explicit key that replaces Template, Name,
	// Digest and Vary; Escape still applies.
	Key string
	// Tags are the dependency tags the fragment declares, evaluated by the
	// engine at render time: Cache.InvalidateTags of any of them retires
	// the fragment. Tags are not part of the key. The fragment also
	// depends on the tags AddTags adds while it renders and on those of
	// every fragment rendered inside it.
	Tags []string
	// FullKey, when not empty, is the fragment's key as Cache.Key or a
	// KeyFunc computed it from the fields above, so that Render and
	// RenderEach need not compute it again: engines keep it for a block
	// without vary values, whose key is the same on every hit. It must be
	// the key of the other fields, or the fragment is cached under
	// another's key.
	FullKey string
}

// maxReadable bounds the readable part of a key so that with the prefix
// and the hash the key stays within Memcached's 250 bytes.
const maxReadable = 160

// The first part hashed into every key: the format of the key and of the
// stored entry, so that entries of another format are never read.
const (
	partFragment = "fragment/2"
	partExplicit = "key/2"
)

// PositionalName returns "#n", the name engines give a block without a
// name of its own that is the n-th cached block of its template (1-based,
// in parse order, named blocks counted too); KeyFor and Invalidate find
// it by that name.
func PositionalName(n int) string { return "#" + strconv.Itoa(n) }

// validName reports why name cannot name a fragment: a name starting with
// '#' is a block's place, "#" and a whole number from 1 without leading
// zeros.
func validName(name string) error {
	rest, ok := strings.CutPrefix(name, "#")
	if !ok {
		return nil
	}
	valid := rest != "" && rest[0] != '0' && len(rest) <= 18
	for i := 0; valid && i < len(rest); i++ {
		valid = rest[i] >= '0' && rest[i] <= '9'
	}
	if !valid {
		return fmt.Errorf("%w: %q starts with '#' but is not a block's place (#1, #2, ...)", ErrFragmentName, name)
	}
	return nil
}

// Key returns the cache key of f: the Cache's prefix, a readable part (the
// template and fragment names, or the explicit key, with characters
// outside [A-Za-z0-9._/#-] replaced by '_' and shortened), and 32 hex
// digits of a SHA-256 over every part, each length-prefixed, so that
// distinct fragments never share a key:
//
//	tmpl:blog/post.html:sidebar:2c1f9e0b7d4a6f3e8a1b5c7d9e0f2a4b
//	tmpl:blog/post.html:#2:9a0c3e5f7b1d2f4a6c8e0b2d4f6a8c0e   (the second nameless block)
//
// Vary values are encoded structurally, without ambiguity: a scalar by
// its canonical text, a list by its length and elements, a map by its
// length and entries in the order of their encoded keys, a struct by its
// fields' names and values in declaration order; pointers and interfaces
// are followed. Canonical texts are:
//
//	strings                 as they are
//	ints, uints             decimal: 7
//	floats                  as dogpile.ToStr writes them (Python's repr): 2.0, 1e+16
//	bools                   True, False
//	time.Time               RFC 3339 with nanoseconds, in UTC
//	[]byte                  its bytes, as a string
//	String or Error method  the method's text
//	nil, nil pointers       none, a value of its own (not the text "None")
//
// nil slices and maps are empty ones.
//
// The rule for invalidation, as in Django: scalars are compared by their
// canonical text, whatever their Go type. A template varying on post.ID
// (the int 7) and a handler calling Invalidate with the "7" it took from
// the URL address the same fragment, and so do true and "True", 2.5 and
// "2.5", or []int{1, 2} and []string{"1", "2"}; but 2 and 2.0 do not, and
// []string{"a b"} never shares a key with []string{"a", "b"}, nor
// map[string]int{"a": 1} with []any{"a", 1}.
//
// A value that cannot be encoded has no key: one that refers to itself,
// holds more than 16384 values or 1 MiB of text, has a String or Error
// method that panics, holds a channel or a function, has two map keys of
// one text (7 and "7" in a map[any]int), or reaches a time.Time or a
// value with a String or Error method through an unexported field. Key
// also refuses a Name that starts with '#' without being a block's place
// (see PositionalName). Key returns "" for such a fragment; Render,
// RenderEach, KeyFor and Invalidate return an error wrapping ErrVaryValue
// or ErrFragmentName.
//
// Tags are not part of the key: a fragment retired by a tag is rendered
// again under the same key.
func (c *Cache) Key(f Fragment) string {
	k, _ := c.key(f)
	return k
}

// key is Key, with the reason a fragment has no key. f.FullKey is not
// consulted.
func (c *Cache) key(f Fragment) (string, error) {
	if f.Key != "" {
		var buf [256]byte
		b := appendPart(buf[:0], partExplicit)
		b = appendPart(b, f.Key)
		b = appendPart(b, f.Escape)
		return c.finish(b, "k", f.Key), nil
	}
	kf, err := c.keyFuncFor(f.Template, f.Name, f.Digest)
	if err != nil {
		return "", err
	}
	return kf.key(f.Escape, f.Vary)
}

// appendHead appends the hashed parts of a fragment's key that come
// before its vary values.
func appendHead(b []byte, tmpl, name, digest string) []byte {
	b = appendPart(b, partFragment)
	b = appendPart(b, tmpl)
	b = appendPart(b, name)
	return appendPart(b, digest)
}

// finish returns the key whose hashed parts are b and whose readable
// part is first, then ':' and second when second is not empty.
func (c *Cache) finish(b []byte, first, second string) string {
	sum := sha256.Sum256(b)
	var rbuf [maxReadable + 1]byte
	readable := append(rbuf[:0], first[:min(len(first), maxReadable)]...)
	if second != "" && len(readable) < maxReadable {
		readable = append(append(readable, ':'), second[:min(len(second), maxReadable-len(readable))]...)
	}
	var kbuf [256]byte
	k := append(kbuf[:0], c.prefix...)
	k = append(k, ':')
	k = appendSanitized(k, readable)
	k = append(k, ':')
	k = hex.AppendEncode(k, sum[:16])
	return string(k)
}

// KeyFunc returns the key function of the fragments of d: the key of
// Fragment{Template: d.Template, Name: d.Name, Digest: d.Digest, Escape:
// escape, Vary: vary}, as Key computes it. The parts that do not change
// are prepared once, and the keys computed lately are kept, so that the
// key of a hit costs the encoding of its vary values and a map lookup:
// engines keep the function with the block. d need not be declared. The
// function is safe for concurrent use; its error is Key's (see Key), and
// a Name that starts with '#' without being a block's place makes every
// call fail.
func (c *Cache) KeyFunc(d Declaration) func(escape string, vary ...any) (string, error) {
	kf, err := c.keyFuncFor(d.Template, d.Name, d.Digest)
	if err != nil {
		return func(string, ...any) (string, error) { return "", err }
	}
	return func(escape string, vary ...any) (string, error) { return kf.key(escape, vary) }
}

// Bounds of the keys kept: key functions per Cache, keys per key
// function, and keys in all.
const (
	maxKeyFuncs   = 1024
	maxKeysPerFn  = 1024
	maxKeysKept   = 1 << 16
	maxKeyScratch = 512 // the bytes of vary values encoded on the stack
)

// keyFuncID names a key function by the parts it prepares.
type keyFuncID struct{ template, name, digest string }

// keyFunc holds the parts of a fragment's keys that do not change, and
// the keys it computed lately by the parts that do.
type keyFunc struct {
	c          *Cache
	tmpl, name string
	head       []byte // the hashed parts before the vary values

	mu     sync.RWMutex
	keys   map[string]string // by the hashed parts after head
	noKeep bool              // not kept by the Cache: keeps no keys either
}

// keyFuncFor returns the key function of the fragments named so, made
// once for the first maxKeyFuncs names and kept.
func (c *Cache) keyFuncFor(template, name, digest string) (*keyFunc, error) {
	id := keyFuncID{template, name, digest}
	c.kfMu.RLock()
	kf := c.keyFuncs[id]
	c.kfMu.RUnlock()
	if kf != nil {
		return kf, nil
	}
	tmpl := c.TemplateName(template)
	if err := validName(name); err != nil {
		return nil, fmt.Errorf("fragment of %q: %w", tmpl, err)
	}
	head := appendHead(make([]byte, 0, 4*8+len(partFragment)+len(tmpl)+len(name)+len(digest)), tmpl, name, digest)
	kf = &keyFunc{c: c, tmpl: tmpl, name: name, head: head}
	c.kfMu.Lock()
	defer c.kfMu.Unlock()
	if kept := c.keyFuncs[id]; kept != nil {
		return kept, nil
	}
	if len(c.keyFuncs) < maxKeyFuncs {
		c.keyFuncs[id] = kf
	} else {
		kf.noKeep = true
	}
	return kf, nil
}

// key returns the key of the fragment for escape and vary.
func (kf *keyFunc) key(escape string, vary []any) (string, error) {
	var buf [maxKeyScratch]byte
	tail := binary.BigEndian.AppendUint64(buf[:0], uint64(len(vary)))
	for i, v := range vary {
		var err error
		if tail, err = appendVary(tail, v); err != nil {
			return "", fmt.Errorf("%w: value %d of fragment %q of %q, of type %s: %w", ErrVaryValue, i+1, kf.name, kf.tmpl, typeName(v), err)
		}
	}
	tail = appendPart(tail, escape)
	kf.mu.RLock()
	k, ok := kf.keys[string(tail)]
	kf.mu.RUnlock()
	if ok {
		return k, nil
	}
	var hbuf [2 * maxKeyScratch]byte
	k = kf.c.finish(append(append(hbuf[:0], kf.head...), tail...), kf.tmpl, kf.name)
	if !kf.noKeep && len(tail) <= maxKeyScratch {
		kf.keep(string(tail), k)
	}
	return k, nil
}

// keep keeps key k of the hashed parts tail, starting afresh when this
// function or the Cache keeps too many.
func (kf *keyFunc) keep(tail, k string) {
	kf.mu.Lock()
	defer kf.mu.Unlock()
	if len(kf.keys) >= maxKeysPerFn || kf.c.keysKept.Load() >= maxKeysKept {
		kf.c.keysKept.Add(-int64(len(kf.keys)))
		kf.keys = nil
	}
	if kf.keys == nil {
		kf.keys = make(map[string]string)
	}
	if _, dup := kf.keys[tail]; !dup {
		kf.keys[tail] = k
		kf.c.keysKept.Add(1)
	}
}

// appendPart appends s to b, prefixed with its length.
func appendPart(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// typeName is the Go type of v as fmt's %T prints it.
func typeName(v any) string {
	if v == nil {
		return "<nil>"
	}
	return reflect.TypeOf(v).String()
}

// appendSanitized appends a readable, Memcached-safe rendering of the
// first maxReadable bytes of s to b: one byte per character, itself or '_'.
func appendSanitized(b, s []byte) []byte {
	if len(s) > maxReadable {
		s = s[:maxReadable]
	}
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if readableByte[c] {
				b = append(b, c)
			} else {
				b = append(b, '_')
			}
			i++
			continue
		}
		_, n := utf8.DecodeRune(s[i:])
		b = append(b, '_')
		i += n
	}
	return b
}

// readableByte tells the bytes a key's readable part keeps.
var readableByte = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._/-:#", byte(c)) >= 0
	}
	return t
}()

// Digest returns the digest of a fragment's source that Fragment.Digest
// expects: 16 hex digits of its SHA-256.
func Digest(source string) string {
	sum := sha256.Sum256([]byte(source))
	return hex.EncodeToString(sum[:8])
}

// TemplateName normalises a template name with the Cache's roots (see
// NormalizeName).
func (c *Cache) TemplateName(name string) string { return normalize(name, c.roots) }

// NormalizeName makes a template name the same on every host and whatever
// path loaded the template: slashes, a cleaned path, and for an absolute
// path under one of roots, the path relative to that root. Names that are
// not paths, such as pongo2's "<string>", are kept as they are.
func NormalizeName(name string, roots ...string) string {
	return normalize(name, absRoots(roots))
}

// absRoots returns roots as absolute, cleaned, slash-separated paths.
func absRoots(roots []string) []string {
	out := make([]string, 0, len(roots))
	for _, root := range roots {
		if abs, err := filepath.Abs(root); err == nil {
			out = append(out, filepath.ToSlash(filepath.Clean(abs)))
		}
	}
	return out
}

func normalize(name string, roots []string) string {
	if name == "" || strings.HasPrefix(name, "<") {
		return name
	}
	p := filepath.ToSlash(filepath.Clean(name))
	for _, r := range roots {
		if rel, ok := strings.CutPrefix(p, r+"/"); ok {
			return rel
		}
	}
	return strings.TrimPrefix(path.Clean(p), "./")
}
