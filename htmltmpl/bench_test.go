package htmltmpl_test

import (
	"context"
	"html/template"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/htmltmpl"
	"github.com/dogpilego/dogpile/tmplcache"
)

// BenchmarkSlowFragment executes a page whose fragment takes 20 ms,
// included with {{ template }} (uncached) and with {{ cached }} (hits).
func BenchmarkSlowFragment(b *testing.B) {
	funcs := template.FuncMap{"slow": func() string { time.Sleep(20 * time.Millisecond); return "" }}
	const frag = `{{ define "slow" }}{{ slow }}<aside>{{ range .Value }}<a href="/p/{{ . }}">{{ . }}</a>{{ end }}</aside>{{ end }}`
	data := htmltmpl.WithContext(context.Background(), []string{"one", "two", "three"})
	for _, bc := range []struct{ name, page string }{
		{"uncached", `<main>{{ template "slow" . }}</main>`},
		{"cached", `<main>{{ cached "slow" . }}</main>`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tm := parse(b, "page", bc.page+frag, funcs)
			bind(b, tm, tmplcache.New(memRegion(b, time.Hour)))
			if err := tm.Execute(io.Discard, data); err != nil { // fill the cache
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := tm.Execute(io.Discard, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHitOverhead compares a page printing a fragment's HTML inline
// with the same page getting it from a cached fragment (a hit in a memory
// region): the difference is the cost of {{ cached }} on a hit.
func BenchmarkHitOverhead(b *testing.B) {
	static := `<aside><h2>Recent</h2><ul>` + strings.Repeat(`<li><a href="/p/1">A post title</a></li>`, 10) + `</ul></aside>`
	// same is a func with cached's signature that returns the HTML at once:
	// the cost of any func call in an html/template action.
	same := template.FuncMap{"same": func(string, any, ...any) (template.HTML, error) { return template.HTML(static), nil }}
	for _, bc := range []struct {
		name, page string
		data       any
	}{
		{"inline", `<main>` + static + `</main>`, nil},
		{"func-call", `<main>{{ same "f" . }}</main>`, nil},
		{"cached", `<main>{{ cached "f" . }}</main>`, nil},
		{"cached-Data", `<main>{{ cached "f" . }}</main>`, htmltmpl.WithContext(context.Background(), nil)},
		{"cached-vary", `<main>{{ cached "f" . 42 "en" }}</main>`, htmltmpl.WithContext(context.Background(), nil)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tm := parse(b, "page", bc.page+`{{ define "f" }}`+static+`{{ end }}`, same)
			bind(b, tm, tmplcache.New(memRegion(b, time.Hour)))
			var want strings.Builder
			if err := tm.Execute(&want, bc.data); err != nil {
				b.Fatal(err)
			}
			if want.String() != `<main>`+static+`</main>` {
				b.Fatalf("output %s", want.String())
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := tm.Execute(io.Discard, bc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
