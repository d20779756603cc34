package driver_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// TestArgumentErrorsHideSecrets: an argument error never prints a
// password, whether the argument is one or a URL holding one.
func TestArgumentErrorsHideSecrets(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"password", 12345},
		{"sentinel_kwargs.password", []int{1}},
		{"url", "redis://user:hunter2@cache.internal:6379/0?x=y"},
	} {
		p := driver.Arguments{tc.name: tc.v}.Parser("test")
		p.Reject(tc.name, "something else")
		err := p.Err()
		if !errors.Is(err, driver.ErrInvalidArgument) {
			t.Fatalf("%s: Err() = %v; want ErrInvalidArgument", tc.name, err)
		}
		for _, secret := range []string{"12345", "hunter2"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the error shows the secret: %v", tc.name, err)
			}
		}
		if !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: the error does not name the argument: %v", tc.name, err)
		}
	}
	// Other values are shown.
	p := driver.Arguments{"port": "abc"}.Parser("test")
	p.Int("port", 0)
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), "abc") {
		t.Errorf("port: Err() = %v; want the value shown", err)
	}
}
