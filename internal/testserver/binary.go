package testserver

import (
	"os"
	"os/exec"
	"testing"
)

// lookBinary returns the path of the executable name, which the Debian
// package pkg provides. When it is missing the test is skipped, or failed
// when running in CI (CI=true), so that CI never silently skips.
func lookBinary(tb testing.TB, name, pkg string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	const format = "testserver: %s not found in PATH: install the Debian package %s (run scripts/test-deps.sh)"
	if os.Getenv("CI") == "true" {
		tb.Fatalf(format, name, pkg)
	} else {
		tb.Skipf(format, name, pkg)
	}
	return ""
}
