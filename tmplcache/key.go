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
//
// A vary value's text is dogpile.ToStr's, which writes a nil pointer as
// "<nil>" without calling its String method. A value whose text would not
// tell it from other values of its type has no key: one that refers to
// itself, nests more than 24 steps deep (each pointer, interface, element,
// map entry or field followed is a step: []any{[]any{1}} is 4 deep), holds
// more than 16384 values or 1 MiB of text, or has a String or Error method
// that panics. Key returns "" for a fragment with such a value; Render,
// KeyFor and Invalidate return an error wrapping ErrVaryValue.
func (c *Cache) Key(f Fragment) string {
	k, _ := c.key(f)
	return k
}

// key is Key, with the reason a fragment has no key.
func (c *Cache) key(f Fragment) (string, error) {
	var buf [512]byte
	b := buf[:0]
	var rbuf [maxReadable + 8]byte
	readable := rbuf[:0]
	if f.Key != "" {
		b = appendPart(b, "key")
		b = appendPart(b, f.Key)
		readable = append(append(readable, "k:"...), f.Key...)
	} else {
		tmpl := c.TemplateName(f.Template)
		b = appendPart(b, "fragment")
		b = appendPart(b, tmpl)
		b = appendPart(b, f.Name)
		b = appendPart(b, f.Digest)
		for i, v := range f.Vary {
			var err error
			if b, err = appendVary(b, v); err != nil {
				return "", fmt.Errorf("%w: value %d of fragment %q of %q, of type %s: %w", ErrVaryValue, i+1, f.Name, tmpl, typeName(v), err)
			}
		}
		readable = append(append(append(readable, tmpl...), ':'), f.Name...)
	}
	b = appendPart(b, f.Escape)
	sum := sha256.Sum256(b)
	var kbuf [256]byte
	k := append(kbuf[:0], c.prefix...)
	k = append(k, ':')
	k = appendSanitized(k, readable)
	k = append(k, ':')
	k = hex.AppendEncode(k, sum[:16])
	return string(k), nil
}

// appendPart appends s to b, prefixed with its length.
func appendPart(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// appendVary appends v's type and text to b, each as a part. The text of
// common scalars is written in place, as ToStr writes it.
func appendVary(b []byte, v any) ([]byte, error) {
	b = appendPart(b, typeName(v))
	at := len(b)
	b = binary.BigEndian.AppendUint64(b, 0) // the text's length, set below
	switch x := v.(type) {
	case string:
		if len(x) > maxVaryText {
			return b, errVaryLarge
		}
		b = append(b, x...)
	case int:
		b = strconv.AppendInt(b, int64(x), 10)
	case int64:
		b = strconv.AppendInt(b, x, 10)
	case int32:
		b = strconv.AppendInt(b, int64(x), 10)
	case uint:
		b = strconv.AppendUint(b, uint64(x), 10)
	case uint64:
		b = strconv.AppendUint(b, x, 10)
	case uint32:
		b = strconv.AppendUint(b, uint64(x), 10)
	case bool:
		if x {
			b = append(b, "True"...)
		} else {
			b = append(b, "False"...)
		}
	default:
		s, err := varyText(v)
		if err != nil {
			return b, err
		}
		b = append(b, s...)
	}
	binary.BigEndian.PutUint64(b[at:], uint64(len(b)-at-8))
	return b, nil
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
	for _, r := range string(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._/-:", r):
			b = append(b, byte(r))
		default:
			b = append(b, '_')
		}
	}
	return b
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
