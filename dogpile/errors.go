package dogpile

import (
	"errors"
	"strconv"
	"strings"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// Sentinel errors, for errors.Is. The package returns every error as an
// *Error, which wraps one of these where one applies.
var (
	// ErrNotConfigured is returned when a region is used before Configure.
	ErrNotConfigured = errors.New("region is not configured")
	// ErrAlreadyConfigured is returned by Configure on a configured region
	// unless Config.ReplaceExistingBackend is set.
	ErrAlreadyConfigured = errors.New("region is already configured")
	// ErrUnknownBackend is returned for a backend name nobody registered.
	ErrUnknownBackend = driver.ErrUnknownBackend
	// ErrInvalidArgument is returned for an option, configuration value or
	// backend argument that is unknown or out of range.
	ErrInvalidArgument = driver.ErrInvalidArgument
	// ErrInvalidBackend is returned when a backend implements neither
	// driver.ValueBackend nor driver.BytesBackend.
	ErrInvalidBackend = driver.ErrInvalidBackend
	// ErrTypeMismatch is returned by the typed functions when the cached
	// value is not of the requested type.
	ErrTypeMismatch = errors.New("cached value has another type")
	// ErrUndecodable reports bytes that are not an entry of the wire
	// format or a payload the codec cannot read. Regions treat such
	// entries as a miss; the error reaches the logger and the observer.
	ErrUndecodable = driver.ErrUndecodable
	// ErrCreatorPanicked is returned to the callers that waited on a
	// creation whose creator panicked; the error's text holds the panic
	// value and the creator's stack. The caller that started the creation
	// panics instead, if it still waits.
	ErrCreatorPanicked = errors.New("creator panicked")
	// ErrCreatorGoexit is returned to the callers that waited on a
	// creation whose creator called runtime.Goexit, as t.Fatal does.
	ErrCreatorGoexit = errors.New("creator called runtime.Goexit")
	// ErrLockLost reports a distributed lock that expired before its
	// holder released it. The created value is still returned and stored;
	// the error reaches the logger and the observer only.
	ErrLockLost = driver.ErrLockLost
	// ErrLockTimeout reports a distributed lock still held when the wait
	// for it reached its bound.
	ErrLockTimeout = driver.ErrLockTimeout
)

// Error is the error of a region's operation: which operation, on which
// region and keys, and why. Err is the cause; errors.Is and errors.As see
// through it to the sentinels above and to a creator's own errors.
type Error struct {
	Op     string   // the operation: "get_or_create", "configure", ...
	Region string   // the region's name; empty for a region without one
	Keys   []string // the keys as the caller gave them, if any
	Err    error
}

// maxErrorKeys and maxErrorKeyLen bound the keys an Error's text shows,
// so that hostile keys do not make hostile log lines.
const (
	maxErrorKeys   = 3
	maxErrorKeyLen = 200
)

// Error returns "dogpile: region "users": get_or_create "user:7": <cause>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("dogpile: ")
	if e.Region != "" {
		b.WriteString("region ")
		b.WriteString(strconv.Quote(e.Region))
		b.WriteString(": ")
	}
	b.WriteString(e.Op)
	switch n := len(e.Keys); {
	case n == 1:
		b.WriteByte(' ')
		writeKey(&b, e.Keys[0])
	case n > 1:
		b.WriteString(" [")
		for i, k := range e.Keys[:min(n, maxErrorKeys)] {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeKey(&b, k)
		}
		if n > maxErrorKeys {
			b.WriteString(" and ")
			b.WriteString(strconv.Itoa(n - maxErrorKeys))
			b.WriteString(" more")
		}
		b.WriteByte(']')
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func writeKey(b *strings.Builder, k string) {
	if len(k) <= maxErrorKeyLen {
		b.WriteString(strconv.Quote(k))
		return
	}
	cut := maxErrorKeyLen
	for cut > 0 && !utf8RuneStart(k[cut]) {
		cut--
	}
	b.WriteString(strconv.Quote(k[:cut]))
	b.WriteString("…(")
	b.WriteString(strconv.Itoa(len(k)))
	b.WriteString(" bytes)")
}

func utf8RuneStart(c byte) bool { return c&0xC0 != 0x80 }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
