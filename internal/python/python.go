// Package python finds the Python interpreter the interoperability tests
// run Python's dogpile.cache and its clients in, and runs programs in it.
//
// The Debian packages that scripts/test-deps.sh installs
// (python3-dogpile.cache, python3-redis, ...) go to the system's
// /usr/bin/python3, which a pyenv or venv python3 earlier on PATH would not
// see: that one is tried first, python3 on PATH after it.
package python

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Interpreter returns a Python 3 interpreter that imports every module of
// modules. Without one the test is skipped, except under CI=true, where
// it fails: CI must run every interoperability test.
func Interpreter(tb testing.TB, modules ...string) string {
	tb.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil && p != candidates[0] {
		candidates = append(candidates, p)
	}
	check := "import sys; assert sys.version_info >= (3,)"
	for _, m := range modules {
		check += "; import " + m
	}
	for _, py := range candidates {
		if err := exec.Command(py, "-c", check).Run(); err == nil {
			return py
		}
	}
	msg := fmt.Sprintf("no Python 3 interpreter among %q imports %s (scripts/test-deps.sh installs the Debian packages)",
		candidates, strings.Join(modules, ", "))
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg + "; CI=true requires one")
	}
	tb.Skip(msg)
	return ""
}

// RunJSON runs program with the interpreter py, giving it in as JSON on
// its standard input, and decodes the JSON it prints into out.
func RunJSON(tb testing.TB, py, program string, in, out any) {
	tb.Helper()
	data, err := json.Marshal(in)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(py, "-c", program)
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s: %v\n%s", py, err, stderr.String())
	}
	if err := json.Unmarshal(got, out); err != nil {
		tb.Fatalf("%s printed %q: %v", py, got, err)
	}
}
