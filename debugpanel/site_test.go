package debugpanel_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/debugpanel"
	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/tmplcache"
)

// xssKey is a user-controlled key that must never reach a page unescaped.
const xssKey = `<script>alert("key")</script>`

// testSite is a small site: a page making several cache calls on a region
// with the panel's Observer, behind the middleware, and the panel mounted
// at /_dogpile/.
type testSite struct {
	*httptest.Server
	Panel  *debugpanel.Panel
	region *dogpile.Region
	frags  *tmplcache.Cache
}

// markupName is a fragment name with markup, which the timeline must show
// as text.
const markupName = `<img src=x onerror=alert("frag")>`

// nestedPage renders fragments inside fragments, as a template engine
// would: a layout holding a sidebar (which holds a widget and reads a
// post through the cache) and a collection of four cards, the first of
// which holds an avatar. Each rendering takes a few milliseconds, so that
// the bars are wide enough to see.
func (s *testSite) nestedPage(ctx context.Context) (string, error) {
	frag := func(tmpl, name string) tmplcache.Fragment {
		return tmplcache.Fragment{Template: tmpl, Name: name, Tags: []string{"page"}}
	}
	work := func(d time.Duration) { time.Sleep(d) }
	render := func(ctx context.Context, f tmplcache.Fragment, d time.Duration, inner func(context.Context) (string, error)) (string, error) {
		return s.frags.Render(ctx, f, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
			work(d)
			if inner == nil {
				return "<" + f.Name + ">", nil
			}
			in, err := inner(ctx)
			work(d)
			return "<" + f.Name + ">" + in, err
		})
	}
	return render(ctx, frag("page.html", "layout"), 4*time.Millisecond, func(ctx context.Context) (string, error) {
		side, err := render(ctx, frag("page.html", "sidebar"), 3*time.Millisecond, func(ctx context.Context) (string, error) {
			if _, err := dogpile.GetOrCreate(ctx, s.region, "post:7", func(context.Context) (string, error) {
				work(2 * time.Millisecond)
				return "post 7", nil
			}); err != nil {
				return "", err
			}
			return render(ctx, frag("page.html", "widget"), 2*time.Millisecond, nil)
		})
		if err != nil {
			return "", err
		}
		odd, err := render(ctx, frag("page.html", markupName), time.Millisecond, nil)
		if err != nil {
			return "", err
		}
		cards := make([]tmplcache.Fragment, 4)
		for i := range cards {
			cards[i] = tmplcache.Fragment{Template: "card.html", Name: "card", Vary: []any{i + 1}, Tags: []string{fmt.Sprint("post:", i+1)}}
		}
		out, err := s.frags.RenderEach(ctx, cards, tmplcache.RenderOptions{}, func(ctx context.Context, i int) (string, error) {
			work(2 * time.Millisecond)
			if i > 0 {
				return fmt.Sprint("<card ", i+1, ">"), nil
			}
			return render(ctx, frag("card.html", "avatar"), 2*time.Millisecond, nil)
		})
		return side + odd + strings.Join(out, ""), err
	})
}

func newTestSite(t testing.TB, opts debugpanel.Options) *testSite {
	t.Helper()
	region := dogpile.NewRegion(dogpile.WithName("pages"), dogpile.WithObserver(debugpanel.Observer{}))
	// memory_pickle stores bytes, so the panel knows sizes.
	if err := region.Configure("dogpile.cache.memory_pickle", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	frags := tmplcache.New(region)
	frags.Declare(tmplcache.Declaration{Template: "page.html", Name: "sidebar"})
	panel := debugpanel.New(opts)
	site := &testSite{Panel: panel, region: region, frags: frags}

	mux := http.NewServeMux()
	mux.Handle("/_dogpile/", panel)
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var out strings.Builder
		for _, id := range []int{1, 2, 1} {
			name, err := dogpile.GetOrCreate(ctx, region, fmt.Sprintf("user:%d", id), func(context.Context) (string, error) {
				return fmt.Sprintf("user %d", id), nil
			})
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			out.WriteString(name + "\n")
		}
		if err := region.Set(ctx, "nav:a", "A"); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if _, err := dogpile.GetMulti[string](ctx, region, []string{"nav:a", "nav:b", "nav:c"}); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if _, _, err := dogpile.Get[any](ctx, region, "missing:key"); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if _, err := dogpile.GetOrCreate(ctx, region, xssKey, func(context.Context) (int, error) { return 1, nil }); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		html, err := frags.Render(ctx, tmplcache.Fragment{Template: "blog/post.html", Name: "sidebar"}, tmplcache.RenderOptions{},
			func(context.Context) (string, error) { return "<aside>side</aside>", nil })
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		out.WriteString(html)
		if err := region.Delete(ctx, "nav:a"); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, _ = io.WriteString(w, out.String())
	})
	mux.HandleFunc("GET /nested", func(w http.ResponseWriter, r *http.Request) {
		html, err := site.nestedPage(r.Context())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, _ = io.WriteString(w, html)
	})
	// An edit retires the sidebar by its key and the second card by its
	// tag.
	mux.HandleFunc("GET /edit", func(w http.ResponseWriter, r *http.Request) {
		if err := frags.Invalidate(r.Context(), "page.html", "sidebar"); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if err := frags.InvalidateTags(r.Context(), "post:2"); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, _ = io.WriteString(w, "edited")
	})
	site.Server = httptest.NewServer(panel.Middleware(mux))
	t.Cleanup(site.Close)
	return site
}

// get fetches path from the site and returns the response and its body.
func (s *testSite) get(t testing.TB, path string) (*http.Response, string) {
	t.Helper()
	resp, err := s.Client().Get(s.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}
