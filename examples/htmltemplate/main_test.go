package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		`(?m)^htmltmpl.Check: every cached call is in HTML text$`,
		`(?m)^render 1 \(cold cache\): \S+, 5 slow calls$`,
		`(?m)^render 2 \(every fragment cached\): \S+, 0 slow calls$`,
		`(?m)^same HTML: true$`,
		`(?m)^product 2 renamed; retiring the tag product:2$`,
		`(?m)^render 3 \(.*items 1 and 3 cached\): \S+, 2 slow calls$`,
		`(?m)^shows the new name: true$`,
		`(?m)^sidebar key tmpl:shop:sidebar:[0-9a-f]{32}$`,
		`(?m)^render 4 \(sidebar invalidated\): \S+, 1 slow call$`,
		`<h1>Tea &amp; co</h1>`,
		`<aside>Best sellers: Green tea, Cocoa</aside>`,
		`<li>Green tea: 3.10 €</li>\s*<li>Filter coffee: 4.20 €</li>\s*<li>Cocoa: 5.30 €</li>`,
	} {
		if !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("output does not match %q", want)
		}
	}
	if t.Failed() {
		t.Log(got)
	}
}
