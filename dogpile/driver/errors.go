package driver

import "errors"

// Errors that backends wrap, for errors.Is. Package dogpile re-exports
// them under the same names.
var (
	// ErrInvalidArgument reports a backend argument or option that is
	// unknown, or whose value is of the wrong kind or out of range.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrInvalidBackend reports a backend that implements neither
	// ValueBackend nor BytesBackend, or a factory that returned none.
	ErrInvalidBackend = errors.New("invalid backend")
	// ErrUnknownBackend reports a backend name nobody registered.
	ErrUnknownBackend = errors.New("unknown backend")
	// ErrUndecodable reports bytes that are not an entry of the wire
	// format, or a payload the codec cannot read. Regions treat such
	// entries as a miss and report the error to their logger and observer.
	ErrUndecodable = errors.New("undecodable entry")
	// ErrLockLost reports a distributed lock that expired before its
	// holder released it. Regions keep the created value and report the
	// error to their logger and observer.
	ErrLockLost = errors.New("lock expired before release")
	// ErrLockTimeout reports a distributed lock that was still held when
	// the wait for it reached its bound.
	ErrLockTimeout = errors.New("timed out waiting for a lock")
	// ErrValueTooLarge reports a value a backend cannot store because of
	// its size, such as an item over Memcached's item size. Regions return
	// the created value uncached and report the key to their logger (once)
	// and observer.
	ErrValueTooLarge = errors.New("value too large for the backend")
)

// KeyErrors is implemented by the error of a multi write (SetMulti,
// SetBytesMulti, DeleteMulti) that failed for some keys only, so that the
// region tells the keys it stored from those it did not, and why: a key
// whose error wraps ErrValueTooLarge is served uncached and reported,
// and the others' errors are the call's.
type KeyErrors interface {
	error
	KeyErrors() (keys []string, errs []error)
}
