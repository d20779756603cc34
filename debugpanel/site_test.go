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
}

func newTestSite(t testing.TB, opts debugpanel.Options) *testSite {
	t.Helper()
	region := dogpile.NewRegion(dogpile.WithName("pages"), dogpile.WithObserver(debugpanel.Observer{}))
	// memory_pickle stores bytes, so the panel knows sizes.
	if err := region.Configure("dogpile.cache.memory_pickle", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	frags := tmplcache.New(region)
	panel := debugpanel.New(opts)

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
	srv := httptest.NewServer(panel.Middleware(mux))
	t.Cleanup(srv.Close)
	return &testSite{Server: srv, Panel: panel, region: region}
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
