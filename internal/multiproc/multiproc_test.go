package multiproc

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestChildren has each of 4 children write its index to the shared
// directory; child 3 fails when asked to, and the parent sees it.
func TestChildren(t *testing.T) {
	if i, dir, ok := Child(); ok {
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)), []byte("hello"), 0o600); err != nil {
			t.Fatal(err)
		}
		if i == 3 && os.Getenv("MULTIPROC_FAIL") == "1" {
			t.Fatal("asked to fail")
		}
		return
	}
	g := Start(t, "TestChildren", 4)
	if err := g.Wait(time.Minute); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if b, err := os.ReadFile(filepath.Join(g.Dir(), strconv.Itoa(i))); err != nil || string(b) != "hello" {
			t.Errorf("child %d: %q %v", i, b, err)
		}
	}
	g = Start(t, "TestChildren", 4, "MULTIPROC_FAIL=1")
	err := g.Wait(time.Minute)
	if err == nil || !strings.Contains(err.Error(), "child 3") || !strings.Contains(err.Error(), "asked to fail") {
		t.Errorf("a failing child was not reported: %v", err)
	}
}

// TestKill kills a child that would otherwise never end.
func TestKill(t *testing.T) {
	if _, _, ok := Child(); ok {
		time.Sleep(time.Hour)
	}
	g := Start(t, "TestKill", 1)
	g.Kill(0)
	if err := g.Wait(time.Second); err != nil {
		t.Errorf("a killed child is not waited for again: %v", err)
	}
}
