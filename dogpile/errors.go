package dogpile

import "errors"

// Sentinel errors, for errors.Is. Every error the package returns is
// prefixed "dogpile:" and wraps one of these where one applies.
var (
	// ErrNotConfigured is returned when a region is used before Configure.
	ErrNotConfigured = errors.New("dogpile: region is not configured")
	// ErrAlreadyConfigured is returned by Configure on a configured region
	// unless Config.ReplaceExistingBackend is set.
	ErrAlreadyConfigured = errors.New("dogpile: region is already configured")
	// ErrUnknownBackend is returned for a backend name nobody registered.
	ErrUnknownBackend = errors.New("dogpile: unknown backend")
	// ErrInvalidArgument is returned for a backend argument or option that
	// is unknown or has a value of the wrong kind.
	ErrInvalidArgument = errors.New("dogpile: invalid argument")
	// ErrInvalidBackend is returned when a factory or Config hands the region
	// something that implements neither ValueBackend nor BytesBackend.
	ErrInvalidBackend = errors.New("dogpile: invalid backend")
	// ErrTypeMismatch is returned by the typed functions when the cached
	// value is not of the requested type.
	ErrTypeMismatch = errors.New("dogpile: cached value has another type")
	// ErrUndecodable reports bytes that are not an entry of the wire format
	// or a payload the codec cannot read. Regions treat such entries as a
	// miss; the error reaches the logger and the observer only.
	ErrUndecodable = errors.New("dogpile: undecodable entry")
	// ErrCreatorPanicked is returned to callers that waited on a creation
	// whose creator panicked. The caller that started the creation panics
	// with the original value instead.
	ErrCreatorPanicked = errors.New("dogpile: creator panicked")
	// ErrLockLost reports a distributed lock that expired before its holder
	// released it. The created value is still returned and stored; the error
	// reaches the logger and the observer only.
	ErrLockLost = errors.New("dogpile: lock expired before release")
	// ErrLockTimeout is wrapped by backends' errors for a distributed lock
	// that was still held when the wait for it reached its bound.
	ErrLockTimeout = errors.New("dogpile: timed out waiting for a lock")
	// ErrCreatorLength is returned when a multi creator returns a number of
	// values different from the number of keys it was given.
	ErrCreatorLength = errors.New("dogpile: creator returned the wrong number of values")
)
