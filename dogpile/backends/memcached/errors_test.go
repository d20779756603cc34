package memcached

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

func TestWriteError(t *testing.T) {
	keys := []string{"a", "b", "c", "d", "e", "f"}
	errs := make([]error, len(keys))
	if err := writeErrors("set_multi", keys, errs); err != nil {
		t.Errorf("writeErrors with no failure = %v; want nil", err)
	}
	errs[1] = opError("set", "b", fmt.Errorf("%w: 3 bytes", driver.ErrValueTooLarge))
	errs[2] = opError("set", "c", io.EOF)
	err := writeErrors("set_multi", keys, errs)
	const want = `set_multi: 2 of 6 keys failed: set "b": value too large for the backend: 3 bytes; set "c": EOF`
	var we *WriteError
	if err == nil || err.Error() != want || !errors.As(err, &we) || we.Total != 6 || len(we.Keys) != 2 ||
		!errors.Is(err, driver.ErrValueTooLarge) || !errors.Is(err, io.EOF) {
		t.Errorf("writeErrors = %v; want %s, a *WriteError wrapping both errors", err, want)
	}
	for i := range errs {
		errs[i] = opError("delete", keys[i], io.ErrUnexpectedEOF)
	}
	const wantAll = `delete_multi: 6 of 6 keys failed: delete "a": unexpected EOF; delete "b": unexpected EOF; delete "c": unexpected EOF; and 3 more`
	if err := writeErrors("delete_multi", keys, errs); err == nil || err.Error() != wantAll {
		t.Errorf("writeErrors of 6 failures = %v; want %s", err, wantAll)
	}
}
