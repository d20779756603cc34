package pongo2ext_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flosch/pongo2/v6"
)

// A page whose fragment takes 20 ms to render (a slow query, say).
func BenchmarkSlowFragment(b *testing.B) {
	const page = `<html><body><h1>{{ title }}</h1>%s<aside>{{ slow() }}</aside>%s<footer>bye</footer></body></html>`
	for _, bc := range []struct{ name, start, end string }{
		{"uncached", "", ""},
		{"cached", `{% cached "slow" %}`, `{% endcached %}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, envConfig{quiet: true})
			e.set.Globals["slow"] = func() string { time.Sleep(20 * time.Millisecond); return "report" }
			tpl, err := e.set.FromString(strings.Replace(strings.Replace(page, "%s", bc.start, 1), "%s", bc.end, 1))
			if err != nil {
				b.Fatal(err)
			}
			data := pongo2.Context{"title": "Home"}
			render(b, tpl, data)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := tpl.Execute(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The cost of a cached block on a hit, over the same static text.
func BenchmarkHitOverhead(b *testing.B) {
	const text = `<nav><a href="/">Home</a> <a href="/blog">Blog</a> <a href="/about">About</a></nav>`
	for _, bc := range []struct{ name, src string }{
		{"static", text},
		{"cached", `{% cached "nav" %}` + text + `{% endcached %}`},
		{"cached vary", `{% cached "navv" user.id lang %}` + text + `{% endcached %}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, envConfig{quiet: true})
			tpl, err := e.set.FromString(bc.src)
			if err != nil {
				b.Fatal(err)
			}
			data := pongo2.Context{"user": map[string]int{"id": 7}, "lang": "en"}
			render(b, tpl, data)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := tpl.Execute(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A page of 100 cheap cards: rendered uncached, cached one block per card
// in a {% for %} (each card one region call), and cached as a collection
// ({% cachedfor %}: one region call for all). All cached cards are hits.
func BenchmarkCollection(b *testing.B) {
	const card = `<article class="card"><h2><a href="/posts/{{ p.ID }}">{{ p.Title }}</a></h2><p>{{ p.Summary }}</p><footer>{{ p.Author }}</footer></article>`
	type cardPost struct {
		ID                     int
		Title, Summary, Author string
	}
	posts := make([]cardPost, 100)
	for i := range posts {
		posts[i] = cardPost{i + 1, fmt.Sprint("Post <", i+1, ">"), "A short summary & more", "Ann"}
	}
	for _, bc := range []struct{ name, src string }{
		{"uncached", `{% for p in posts %}` + card + `{% endfor %}`},
		{"cached per card", `{% for p in posts %}{% cached p.ID %}` + card + `{% endcached %}{% endfor %}`},
		{"cachedfor by ID", `{% cachedfor p in posts by=p.ID %}` + card + `{% endcachedfor %}`},
		{"cachedfor by item", `{% cachedfor p in posts %}` + card + `{% endcachedfor %}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, envConfig{quiet: true})
			tpl, err := e.set.FromString(bc.src)
			if err != nil {
				b.Fatal(err)
			}
			data := pongo2.Context{"posts": posts}
			render(b, tpl, data)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := tpl.Execute(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(posts)), "ns/card")
		})
	}
}
