package tmplcache_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/tmplcache"
)

// cheapCard is a cheap render function: a card of about 100 bytes.
func cheapCard(id int) string {
	b := make([]byte, 0, 128)
	b = append(b, `<div class="card"><h2>Post `...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, `</h2><p>A short summary of the post.</p></div>`...)
	return string(b)
}

// BenchmarkCollection compares, side by side, 100 cards fully cached in a
// memory region read with one RenderEach, read with 100 Render calls, and
// rendered uncached with a cheap render function; with and without a tag
// per card.
func BenchmarkCollection(b *testing.B) {
	ctx := context.Background()
	const n = 100
	for _, tagged := range []bool{false, true} {
		name := "untagged"
		if tagged {
			name = "tagged"
		}
		c := tmplcache.New(memRegion(b, time.Hour))
		b.Cleanup(func() { c.Close() })
		fs := make([]tmplcache.Fragment, n)
		for i := range fs {
			fs[i] = tmplcache.Fragment{Template: "home.html", Name: "card", Vary: []any{i}}
			if tagged {
				fs[i].Tags = []string{"post:" + strconv.Itoa(i)}
			}
		}
		render := func(_ context.Context, i int) (string, error) { return cheapCard(i), nil }
		if _, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, render); err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/RenderEach", func(b *testing.B) {
			for b.Loop() {
				if _, err := c.RenderEach(ctx, fs, tmplcache.RenderOptions{}, render); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/Render×100", func(b *testing.B) {
			for b.Loop() {
				for i, f := range fs {
					if _, err := c.Render(ctx, f, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) { return render(ctx, i) }); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		if !tagged {
			b.Run("uncached", func(b *testing.B) {
				out := make([]string, n)
				for b.Loop() {
					for i := range fs {
						out[i], _ = render(ctx, i)
					}
				}
			})
		}
	}
}

// BenchmarkRenderHit is one hit of a fragment over static text, with its
// key computed by Render, given as FullKey, and with a tag.
func BenchmarkRenderHit(b *testing.B) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(b, time.Hour))
	b.Cleanup(func() { c.Close() })
	render := func(context.Context) (string, error) { return "<aside>static</aside>", nil }
	static := tmplcache.Fragment{Template: "blog/post.html", Name: "sidebar", Digest: tmplcache.Digest("<aside>static</aside>")}
	full := static
	full.FullKey = c.Key(static)
	tagged := full
	tagged.Name, tagged.Tags = "tagged", []string{"site"}
	tagged.FullKey = c.Key(tagged)
	for _, bc := range []struct {
		name string
		f    tmplcache.Fragment
	}{{"static", static}, {"FullKey", full}, {"FullKey+tag", tagged}} {
		if _, err := c.Render(ctx, bc.f, tmplcache.RenderOptions{}, render); err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Render(ctx, bc.f, tmplcache.RenderOptions{}, render); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkKey is the computation of one fragment's key, as a hit does it.
func BenchmarkKey(b *testing.B) {
	c := tmplcache.New(nil)
	d := tmplcache.Declaration{Template: "blog/post.html", Name: "sidebar", Digest: tmplcache.Digest("x")}
	type post struct {
		ID    int
		Title string
		Tags  []string
	}
	p := post{7, "Hello", []string{"go", "cache"}}
	kf := c.KeyFunc(d)
	for _, bc := range []struct {
		name string
		key  func() (string, error)
	}{
		{"Key/static", func() (string, error) {
			return c.Key(tmplcache.Fragment{Template: d.Template, Name: d.Name, Digest: d.Digest}), nil
		}},
		{"Key/int", func() (string, error) {
			return c.Key(tmplcache.Fragment{Template: d.Template, Name: d.Name, Digest: d.Digest, Vary: []any{7}}), nil
		}},
		{"Key/struct", func() (string, error) {
			return c.Key(tmplcache.Fragment{Template: d.Template, Name: d.Name, Digest: d.Digest, Vary: []any{p}}), nil
		}},
		{"KeyFunc/static", func() (string, error) { return kf("") }},
		{"KeyFunc/int", func() (string, error) { return kf("", 7) }},
		{"KeyFunc/string", func() (string, error) { return kf("", "user:7") }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if k, err := bc.key(); k == "" || err != nil {
					b.Fatal(k, err)
				}
			}
		})
	}
}
