package tmplcache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"path"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/dogpilego/dogpile/dogpile"
)

// Fragment identifies one cached rendering of a block.
type Fragment struct {
	// Template is the template's name as the engine knows it; Key
	// normalises it with TemplateName.
	Template string
	// Name is the fragment's name within the template.
	Name string
	// Digest identifies the fragment's source (see Digest); "" opts out, so
	// an edited fragment keeps its cached renderings until they expire.
	Digest string
	// Escape is the engine's escaping state; "" is the engine's default.
	// Output escaped in one state must never be served in another.
	Escape string
	// Vary are the values the rendering depends on.
	Vary []any
	// Key, when set, is an explicit key that replaces Template, Name,
	// Digest and Vary; Escape still applies.
	Key string
}

// maxReadable bounds the readable part of a key so that with the prefix
// and the hash the key stays within Memcached's 250 bytes.
const maxReadable = 160

// Key returns the cache key of f: the Cache's prefix, a readable part (the
// template and fragment names, or the explicit key, with characters
// outside [A-Za-z0-9._/-] replaced by '_' and shortened), and 32 hex digits
// of a SHA-256 over every part, each length-prefixed, with each vary value
// tagged with its Go type, so that distinct fragments never share a key.
func (c *Cache) Key(f Fragment) string {
	var buf [512]byte
	b := buf[:0]
	part := func(s string) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	var readable string
	if f.Key != "" {
		part("key")
		part(f.Key)
		readable = "k:" + f.Key
	} else {
		tmpl := c.TemplateName(f.Template)
		part("fragment")
		part(tmpl)
		part(f.Name)
		part(f.Digest)
		for _, v := range f.Vary {
			part(typeName(v))
			part(dogpile.ToStr(v))
		}
		readable = tmpl + ":" + f.Name
	}
	part(f.Escape)
	sum := sha256.Sum256(b)
	return c.prefix + ":" + sanitize(readable) + ":" + hex.EncodeToString(sum[:16])
}

// typeName is the Go type of v as fmt's %T prints it.
func typeName(v any) string {
	if v == nil {
		return "<nil>"
	}
	return reflect.TypeOf(v).String()
}

// sanitize keeps a readable, Memcached-safe rendering of s.
func sanitize(s string) string {
	if len(s) > maxReadable {
		s = s[:maxReadable]
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._/-:", r):
			return r
		}
		return '_'
	}, s)
}

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
