package python_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/dogpilego/dogpile/internal/python"
)

// recorder is a testing.TB whose Skip and Fatal are recorded and end the
// goroutine, as the real ones do.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) {
	r.failed = fmt.Sprint(args...)
	runtime.Goexit()
}

// call runs Interpreter with r on a goroutine of its own.
func call(r *recorder, modules ...string) string {
	var py string
	done := make(chan struct{})
	go func() {
		defer close(done)
		py = python.Interpreter(r, modules...)
	}()
	<-done
	return py
}

// TestInterpreter: a module no interpreter has skips the test, and fails
// it under CI=true, naming the module; one every Python 3 has gives the
// interpreter that RunJSON then runs.
func TestInterpreter(t *testing.T) {
	const missing = "no_such_module_for_dogpile"
	t.Setenv("CI", "")
	r := &recorder{TB: t}
	if py := call(r, missing); py != "" || r.failed != "" || !strings.Contains(r.skipped, missing) {
		t.Errorf("without CI: interpreter %q, skipped %q, failed %q; want a skip naming the module", py, r.skipped, r.failed)
	}
	t.Setenv("CI", "true")
	r = &recorder{TB: t}
	if py := call(r, missing); py != "" || r.skipped != "" || !strings.Contains(r.failed, missing) {
		t.Errorf("under CI=true: interpreter %q, skipped %q, failed %q; want a failure naming the module", py, r.skipped, r.failed)
	}

	py := python.Interpreter(t, "json")
	var out []int
	python.RunJSON(t, py, "import json, sys; print(json.dumps([x * 2 for x in json.load(sys.stdin)]))", []int{1, 2, 3}, &out)
	if fmt.Sprint(out) != "[2 4 6]" {
		t.Errorf("RunJSON: %v, want [2 4 6]", out)
	}
}
