package dogpiletest_test

import (
	"testing"

	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/dogpiletest"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// A backend's tests run the suite with a function that builds a fresh
// backend; here the memory backend, in a test of the backend's package:
//
//	func TestConformance(t *testing.T) { ... }
func Example() {
	conformance := func(t *testing.T) {
		dogpiletest.TestBackend(t, dogpiletest.Options{
			New: func(t *testing.T) driver.Backend { return must(memory.New(memory.Options{})) },
		})
	}
	_ = conformance
}
