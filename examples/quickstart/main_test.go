package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		`(?m)^call 1: "About dogpile" in \S+$`,
		`(?m)^call 2: "About dogpile" in \S+$`,
		`(?m)^100 callers on an expired key: 1 query, slowest caller \S+$`,
		`(?m)^after Invalidate: 1 query$`,
		`(?m)^key: \S+:loadPage\|dogpile$`,
	} {
		if !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("output does not match %q", want)
		}
	}
	if t.Failed() {
		t.Log(got)
	}
}
