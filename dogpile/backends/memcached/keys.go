package memcached

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// Memcached keys: at most 250 bytes, none of them a space or a control
// character. Keys that do not qualify are never sent as they are: by
// default they are mangled into a key that does (see MangleKey), or, with
// Options.RefuseInvalidKeys, refused.

// MaxKeyLength is the longest key memcached accepts, in bytes.
const MaxKeyLength = 250

// mangleMarker separates the readable prefix of a mangled key from the
// SHA-256 of the original key. Every mangled key ends with the marker and
// 64 lowercase hex digits, and no key with that ending is sent as it is,
// so a mangled key never equals a key sent unchanged.
const mangleMarker = "~sha256:"

// hashLen is the length of the hex SHA-256 at the end of a mangled key.
const hashLen = 2 * sha256.Size

// maxPrefix is the longest readable prefix a mangled key keeps, so that
// the whole mangled key is at most MaxKeyLength bytes.
const maxPrefix = MaxKeyLength - len(mangleMarker) - hashLen

// ValidKey reports whether memcached takes key as it is: 1 to 250 bytes,
// none of them a space (0x20), a control character (below 0x20) or DEL
// (0x7f). Bytes above 0x7f are allowed (UTF-8 keys); memcached counts
// bytes, not characters.
func ValidKey(key string) bool {
	return keyProblem(key) == ""
}

// keyProblem says why memcached would refuse key, or "" when it would not.
func keyProblem(key string) string {
	if key == "" {
		return "it is empty"
	}
	if len(key) > MaxKeyLength {
		return "it is " + strconv.Itoa(len(key)) + " bytes long, over memcached's 250"
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c == 0x7f {
			return fmt.Sprintf("byte %d is %q; memcached keys have no spaces or control characters", i, c)
		}
	}
	return ""
}

// looksMangled reports whether key has the ending of a mangled key: the
// marker and 64 lowercase hex digits. Such keys are mangled themselves, so
// that no key sent unchanged can equal the mangled form of another key.
func looksMangled(key string) bool {
	n := len(key) - hashLen
	if n < len(mangleMarker) || key[n-len(mangleMarker):n] != mangleMarker {
		return false
	}
	for i := n; i < len(key); i++ {
		c := key[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// MangleKey returns the key this package stores key under unless
// Options.RefuseInvalidKeys is set:
//
//   - a valid memcached key (see ValidKey) is kept as it is, unless it
//     already ends like a mangled key;
//   - any other key becomes a readable prefix, the marker "~sha256:" and
//     the SHA-256 of the whole key in 64 lowercase hex digits. The prefix is
//     the start of the key with every space, control character, invalid
//     UTF-8 byte and unprintable character replaced by "_", cut at a
//     character boundary to at most 178 bytes, so the result is at most 250
//     bytes.
//
// Two distinct keys never share a stored key: keys kept as they are never
// end with the marker and a hash, and mangled keys differ by the SHA-256 of
// the original keys. Lock keys ("_lock" + key) are mangled the same way,
// as a whole.
func MangleKey(key string) string {
	if keyProblem(key) == "" && !looksMangled(key) {
		return key
	}
	return mangle(key)
}

func mangle(key string) string {
	sum := sha256.Sum256([]byte(key))
	var b strings.Builder
	b.Grow(min(len(key), maxPrefix) + len(mangleMarker) + hashLen)
	for i := 0; i < len(key); {
		r, size := utf8.DecodeRuneInString(key[i:])
		keep := r != utf8.RuneError && r > ' ' && r != 0x7f && unicode.IsPrint(r)
		if !keep {
			r = '_' // one "_" per character or invalid byte
		}
		n := utf8.RuneLen(r)
		if b.Len()+n > maxPrefix {
			break
		}
		b.WriteRune(r)
		i += size
	}
	b.WriteString(mangleMarker)
	var hx [hashLen]byte
	hex.Encode(hx[:], sum[:])
	b.Write(hx[:])
	return b.String()
}

// storedKey returns the key sent to memcached for key: key itself when it
// is valid, its mangled form when it is not and mangling is on, and an
// error wrapping driver.ErrInvalidArgument otherwise.
func (b *Backend) storedKey(key string) (string, error) {
	problem := keyProblem(key)
	if problem == "" && (!b.mangleKeys || !looksMangled(key)) {
		return key, nil
	}
	if b.mangleKeys {
		return mangle(key), nil
	}
	return "", fmt.Errorf("key %s: %s, and invalid keys are refused rather than stored under a hash: %w",
		showKey(key), problem, driver.ErrInvalidArgument)
}

// storedKeys is storedKey for several keys; nothing is sent when one fails.
func (b *Backend) storedKeys(keys []string) ([]string, error) {
	out := make([]string, len(keys))
	for i, k := range keys {
		s, err := b.storedKey(k)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// showKey quotes key for messages, shortened when it is long.
func showKey(key string) string {
	if len(key) <= 80 {
		return strconv.Quote(key)
	}
	return fmt.Sprintf("%q...%q (%d bytes)", key[:48], key[len(key)-16:], len(key))
}
