package memcached

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// WriteError reports the keys of a SetBytesMulti or DeleteMulti that
// failed, each with its own error; every other key was written (or
// deleted). errors.Is and errors.As look into the error of every key:
// errors.Is(err, driver.ErrValueTooLarge) holds when a value was too
// large, whatever the other keys met.
type WriteError struct {
	// Op is "set_multi" or "delete_multi".
	Op string
	// Total is the number of keys of the call.
	Total int
	// Keys are the keys that failed, as the backend was given them, in
	// the order given; Errs[i] is the error of Keys[i], which names the
	// operation and the key.
	Keys []string
	Errs []error
}

// writeErrorShown is how many keys' errors WriteError.Error spells out.
const writeErrorShown = 3

func (e *WriteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d keys failed: ", e.Op, len(e.Keys), e.Total)
	for i, err := range e.Errs[:min(len(e.Errs), writeErrorShown)] {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	if n := len(e.Errs) - writeErrorShown; n > 0 {
		b.WriteString("; and " + strconv.Itoa(n) + " more")
	}
	return b.String()
}

// Unwrap returns the error of every key that failed.
func (e *WriteError) Unwrap() []error { return e.Errs }

// KeyErrors returns the keys that failed and their errors, for regions
// (driver.KeyErrors): a value too large for the server is then served
// uncached while the other keys' failures are the call's.
func (e *WriteError) KeyErrors() ([]string, []error) { return e.Keys, e.Errs }

var _ driver.KeyErrors = (*WriteError)(nil)

// writeErrors returns the *WriteError of the keys whose errs are set, or
// nil when none is.
func writeErrors(op string, keys []string, errs []error) error {
	var we *WriteError
	for i, err := range errs {
		if err == nil {
			continue
		}
		if we == nil {
			we = &WriteError{Op: op, Total: len(keys)}
		}
		we.Keys = append(we.Keys, keys[i])
		we.Errs = append(we.Errs, err)
	}
	if we == nil {
		return nil
	}
	return we
}

// isOutOfStep reports a reply stream that lost step with its commands.
func isOutOfStep(err error) bool { return errors.Is(err, errOutOfStep) }

func opError(op, key string, err error) error {
	return fmt.Errorf("%s %s: %w", op, showKey(key), err)
}

func opErrorN(op string, keys []string, err error) error {
	if len(keys) == 1 {
		return opError(op, keys[0], err)
	}
	return fmt.Errorf("%s of %d keys (%s, ...): %w", op, len(keys), showKey(keys[0]), err)
}
