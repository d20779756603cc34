package htmltmpl_test

import (
	"context"
	"fmt"
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

// BenchmarkCollection renders 100 cheap cards: uncached ({{ range }} with
// {{ template }}), from one collection (cachedEach, every card a hit: one
// multi-get), and with one `cached` per card (a hit each).
func BenchmarkCollection(b *testing.B) {
	type post struct {
		ID    int
		Title string
	}
	ctx := context.Background()
	posts := make([]post, 100)
	cards := make([]htmltmpl.Data, len(posts)) // what cachedEach gives each card
	for i := range posts {
		posts[i] = post{i, fmt.Sprintf("Post number %d", i)}
		cards[i] = htmltmpl.WithContext(ctx, posts[i])
	}
	cardsOf := map[string]string{
		// three actions: a link, a title and a summary
		"card3": `{{ define "card" }}<article class="card"><h2><a href="/p/{{ .Value.ID }}">{{ .Value.Title }}</a></h2><p>A short summary of the post and its content.</p></article>{{ end }}`,
		// one action: the cheapest card that shows its item
		"card1": `{{ define "card" }}<article class="card"><h2>{{ .Value.Title }}</h2><p>A short summary of the post and its content.</p></article>{{ end }}`,
	}
	for _, cardName := range []string{"card1", "card3"} {
		var want string
		for _, bc := range []struct {
			name, page string
			data       any
		}{
			{"uncached", `<main>{{ range .Value }}{{ template "card" . }}{{ end }}</main>`, cards},
			{"cachedEach", `<main>{{ cachedEach "card" . .Value }}</main>`, posts},
			{"cached-per-card", `<main>{{ range .Value }}{{ cached "card" (withctx $ .) .ID }}{{ end }}</main>`, posts},
		} {
			b.Run(cardName+"/"+bc.name, func(b *testing.B) {
				tm := parse(b, "page", bc.page+cardsOf[cardName], nil)
				bind(b, tm, tmplcache.New(memRegion(b, time.Hour)))
				data := htmltmpl.WithContext(ctx, bc.data)
				var out strings.Builder
				if err := tm.Execute(&out, data); err != nil { // fill the cache
					b.Fatal(err)
				}
				if want == "" {
					want = out.String()
				} else if out.String() != want {
					b.Fatalf("output differs from uncached:\n%s\n%s", out.String(), want)
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
}
