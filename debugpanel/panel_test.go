package debugpanel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/debugpanel"
	"github.com/dogpilego/dogpile/dogpile"
)

func TestGuard(t *testing.T) {
	s := newTestSite(t, debugpanel.Options{Guard: func(r *http.Request) bool { return r.Header.Get("X-Developer") == "yes" }})
	s.get(t, "/page")
	for _, path := range []string{"/_dogpile/", "/_dogpile/requests.json", "/_dogpile/requests/1", "/_dogpile/requests/1.json", "/_dogpile/latest"} {
		resp, body := s.get(t, path)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "page") {
			t.Errorf("%s without the header: %d %q", path, resp.StatusCode, body)
		}
		req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
		req.Header.Set("X-Developer", "yes")
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s with the header: %d", path, resp.StatusCode)
		}
	}
	// The guard does not affect the site itself.
	if resp, _ := s.get(t, "/page"); resp.StatusCode != http.StatusOK {
		t.Errorf("/page: %d", resp.StatusCode)
	}
}

func TestKeysAreEscapedInPages(t *testing.T) {
	s := newTestSite(t, debugpanel.Options{Guard: debugpanel.AllowAll})
	s.get(t, "/page")
	_, page := s.get(t, "/_dogpile/requests/1")
	if strings.Contains(page, `<script>alert(`) {
		t.Fatal("a key reached the page unescaped")
	}
	if !strings.Contains(page, `&lt;script&gt;alert(&#34;key&#34;)&lt;/script&gt;`) {
		t.Fatal("the escaped key is not on the page")
	}
	// The attribute the filter reads is escaped too.
	if !regexp.MustCompile(`data-filter="&lt;script&gt;alert\(&#34;key&#34;\)&lt;/script&gt;"`).MatchString(page) {
		t.Error("data-filter attribute not escaped as expected")
	}
	// Exactly one <script> element: the panel's own.
	if n := strings.Count(page, "<script"); n != 1 {
		t.Errorf("%d <script elements", n)
	}
	// The JSON view keeps the key as it is.
	_, body := s.get(t, "/_dogpile/requests/1.json")
	var req struct {
		Operations []struct{ Keys []string }
	}
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range req.Operations {
		for _, k := range o.Keys {
			found = found || k == xssKey
		}
	}
	if !found {
		t.Error("the key is not in the JSON view")
	}
}

func TestJSONViews(t *testing.T) {
	s := newTestSite(t, debugpanel.Options{Guard: debugpanel.AllowAll})
	s.get(t, "/page")
	s.get(t, "/page")

	for _, path := range []string{"/_dogpile/requests.json", "/_dogpile/?format=json"} {
		resp, body := s.get(t, path)
		if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		var list struct {
			MaxRequests int `json:"max_requests"`
			Requests    []struct {
				ID         uint64  `json:"id"`
				Method     string  `json:"method"`
				Path       string  `json:"path"`
				Status     int     `json:"status"`
				DurationMS float64 `json:"duration_ms"`
				Stats      struct {
					Ops  int `json:"ops"`
					Hits int `json:"hits"`
				} `json:"stats"`
				Operations []any `json:"operations"`
			} `json:"requests"`
		}
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if list.MaxRequests != debugpanel.DefaultMaxRequests || len(list.Requests) != 2 {
			t.Fatalf("%s: %+v", path, list)
		}
		r := list.Requests[0]
		if r.ID != 2 || r.Method != "GET" || r.Path != "/page" || r.Status != 200 || r.DurationMS <= 0 || r.Stats.Ops == 0 || r.Operations != nil {
			t.Errorf("%s: newest request %+v", path, r)
		}
	}

	for _, path := range []string{"/_dogpile/requests/2.json", "/_dogpile/requests/2?format=json"} {
		_, body := s.get(t, path)
		var req struct {
			ID    uint64 `json:"id"`
			Stats struct {
				Ops         int     `json:"ops"`
				Hits        int     `json:"hits"`
				Misses      int     `json:"misses"`
				SizeKnown   bool    `json:"size_known"`
				CacheTimeMS float64 `json:"cache_time_ms"`
				ByOp        []struct {
					Op    string `json:"op"`
					Calls int    `json:"calls"`
					Keys  int    `json:"keys"`
					Hits  int    `json:"hits"`
				} `json:"by_op"`
			} `json:"stats"`
			Operations []struct {
				Seq      int      `json:"seq"`
				Layer    string   `json:"layer"`
				Region   string   `json:"region"`
				Op       string   `json:"op"`
				Keys     []string `json:"keys"`
				Results  []string `json:"results"`
				Size     int      `json:"size"`
				Template string   `json:"template"`
				Fragment string   `json:"fragment"`
			} `json:"operations"`
		}
		if err := json.Unmarshal([]byte(body), &req); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if req.ID != 2 || len(req.Operations) != req.Stats.Ops || !req.Stats.SizeKnown {
			t.Fatalf("%s: %s", path, body)
		}
		// The second request finds what the first one created.
		var gocHits, fragments int
		for _, o := range req.Operations {
			if o.Region != "pages" || o.Layer != "region" || len(o.Results) != len(o.Keys) {
				t.Errorf("%s: op %+v", path, o)
			}
			if o.Op == "get_or_create" && o.Results[0] == "hit" {
				gocHits++
			}
			if o.Template == "blog/post.html" && o.Fragment == "sidebar" {
				fragments++
			}
			if strings.Contains(body, `"value"`) {
				t.Errorf("%s: a value in the JSON", path)
			}
		}
		if gocHits != 5 || fragments != 1 {
			t.Errorf("%s: %d get_or_create hits (want 5), %d fragment ops (want 1)", path, gocHits, fragments)
		}
	}
}

func TestPages(t *testing.T) {
	s := newTestSite(t, debugpanel.Options{Guard: debugpanel.AllowAll})
	// Nothing recorded yet.
	if _, body := s.get(t, "/_dogpile/"); !strings.Contains(body, "No request recorded yet") || !strings.Contains(body, "<title>Dogpile · 0 requests</title>") {
		t.Errorf("empty list page:\n%s", body)
	}
	if resp, _ := s.get(t, "/_dogpile/latest"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("latest with no request: %d", resp.StatusCode)
	}
	s.get(t, "/page")
	s.get(t, "/page")

	resp, list := s.get(t, "/_dogpile/")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("list: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(list, "<title>Dogpile · 2 requests</title>") || !strings.Contains(list, `<span class="count" id="count">2</span>`) {
		t.Error("request count missing from the list page's title or header")
	}
	if !strings.Contains(list, `href="requests/2"`) || !strings.Contains(list, `href="requests/1"`) {
		t.Error("links to the requests missing")
	}
	// The panel's own pages are not recorded.
	if n := len(s.Panel.Requests()); n != 2 {
		t.Errorf("%d requests kept after viewing the panel, want 2", n)
	}

	csp := resp.Header.Get("Content-Security-Policy")
	m := regexp.MustCompile(`script-src 'nonce-([^']+)'`).FindStringSubmatch(csp)
	if m == nil || !strings.Contains(list, `<script nonce="`+m[1]+`">`) {
		t.Errorf("CSP %q does not match the script's nonce", csp)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Error("panel pages may be cached")
	}

	resp, detail := s.get(t, "/_dogpile/requests/1")
	if resp.StatusCode != 200 {
		t.Fatalf("detail: %d", resp.StatusCode)
	}
	req, _ := s.Panel.Request(1)
	if !strings.Contains(detail, fmt.Sprintf(`<span class="count" id="count">%d</span>`, req.Stats.Ops)) ||
		!strings.Contains(detail, fmt.Sprintf("<title>Dogpile · %d ops · GET /page</title>", req.Stats.Ops)) {
		t.Error("operation count missing from the detail page's title or header")
	}
	for _, want := range []string{`id="filter"`, `id="ops"`, `id="stats"`, `class="r-created`, `class="r-hit`, `class="r-mixed`,
		`<span class="badge b-miss">miss</span>`, ">bytes</th>", "blog/post.html", "sidebar"} {
		if !strings.Contains(detail, want) {
			t.Errorf("detail page lacks %s", want)
		}
	}
	// The rows are in chronological order: # column values follow Start.
	if got := strings.Count(detail, `data-filter=`); got != req.Stats.Ops {
		t.Errorf("%d operation rows, want %d", got, req.Stats.Ops)
	}

	// latest redirects to the newest request.
	resp, _ = s.get(t, "/_dogpile/latest")
	if resp.Request.URL.Path != "/_dogpile/requests/2" {
		t.Errorf("latest went to %s", resp.Request.URL.Path)
	}
	// The mount point without its slash redirects.
	if resp, _ := s.get(t, "/_dogpile"); resp.Request.URL.Path != "/_dogpile/" {
		t.Errorf("/_dogpile went to %s", resp.Request.URL.Path)
	}
	for path, code := range map[string]int{
		"/_dogpile/requests/99": http.StatusNotFound, "/_dogpile/requests/x": http.StatusNotFound,
		"/_dogpile/nope": http.StatusNotFound,
	} {
		if resp, _ := s.get(t, path); resp.StatusCode != code {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, code)
		}
	}
	post, err := s.Client().Post(s.URL+"/_dogpile/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", post.StatusCode)
	}
}

func TestSizeColumnsOnlyWhenKnown(t *testing.T) {
	r := observedRegion(t, "values", "dogpile.cache.memory")
	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.AllowAll})
	mux := http.NewServeMux()
	mux.Handle("/_dogpile/", panel)
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		_, _ = dogpile.GetOrCreate(req.Context(), r, "k", constant(1))
		_, _ = dogpile.GetOrCreate(req.Context(), r, "k", constant(1))
	})
	srv := httptest.NewServer(panel.Middleware(mux))
	defer srv.Close()
	get := func(path string) string {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	get("/")
	if page := get("/_dogpile/requests/1"); strings.Contains(page, ">bytes</th>") || !strings.Contains(page, "get_or_create") {
		t.Error("size columns shown without any size")
	}
}

func TestPanelKeepsTheLastRequests(t *testing.T) {
	s := newTestSite(t, debugpanel.Options{Guard: debugpanel.AllowAll, MaxRequests: 3})
	for range 5 {
		s.get(t, "/page")
	}
	reqs := s.Panel.Requests()
	var ids []uint64
	for _, r := range reqs {
		ids = append(ids, r.ID)
	}
	if fmt.Sprint(ids) != "[5 4 3]" {
		t.Fatalf("kept %v, want [5 4 3]", ids)
	}
	if _, ok := s.Panel.Request(2); ok {
		t.Error("request 2 still kept")
	}
	if resp, _ := s.get(t, "/_dogpile/requests/2"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("evicted request: %d", resp.StatusCode)
	}
	s.Panel.Reset()
	if n := len(s.Panel.Requests()); n != 0 {
		t.Errorf("%d requests after Reset", n)
	}
}

func TestConcurrentRequests(t *testing.T) {
	r := observedRegion(t, "conc", "dogpile.cache.memory")
	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.AllowAll, MaxRequests: 200})
	mux := http.NewServeMux()
	mux.Handle("/_dogpile/", panel)
	mux.HandleFunc("/r/{id}", func(w http.ResponseWriter, req *http.Request) {
		id := req.PathValue("id")
		var wg sync.WaitGroup
		for i := range 3 { // goroutines of one request record into its recorder
			wg.Go(func() {
				_, _ = dogpile.GetOrCreate(req.Context(), r, fmt.Sprintf("req:%s:%d", id, i), constant(i))
				_, _ = dogpile.GetOrCreate(req.Context(), r, "shared", constant(0))
			})
		}
		wg.Wait()
		time.Sleep(time.Millisecond)
	})
	srv := httptest.NewServer(panel.Middleware(mux))
	defer srv.Close()

	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for i := range 10 {
				resp, err := srv.Client().Get(fmt.Sprintf("%s/r/%d-%d", srv.URL, c, i))
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if i%3 == 0 { // read the panel while others record
					if resp, err := srv.Client().Get(srv.URL + "/_dogpile/"); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			}
		})
	}
	wg.Wait()

	reqs := panel.Requests()
	if len(reqs) != 80 {
		t.Fatalf("%d requests kept, want 80", len(reqs))
	}
	for _, sum := range reqs {
		req, ok := panel.Request(sum.ID)
		if !ok {
			t.Fatalf("request %d lost", sum.ID)
		}
		id := strings.TrimPrefix(req.Path, "/r/")
		goc := 0
		for _, o := range req.Operations {
			if o.Keys[0] != "shared" && !strings.HasPrefix(o.Keys[0], "req:"+id+":") {
				t.Errorf("request %s recorded key %s of another request", id, o.Keys[0])
			}
			if o.Op == "get_or_create" {
				goc++
			}
		}
		if goc != 6 {
			t.Errorf("request %s: %d get_or_create, want 6", id, goc)
		}
	}
}

func TestCustomSkip(t *testing.T) {
	panel := debugpanel.New(debugpanel.Options{Skip: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/static/") }})
	var sawRecorder []bool
	h := panel.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawRecorder = append(sawRecorder, debugpanel.FromContext(r.Context()) != nil)
	}))
	for _, p := range []string{"/static/app.css", "/page"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequestWithContext(context.Background(), http.MethodGet, p, nil))
	}
	if fmt.Sprint(sawRecorder) != "[false true]" || len(panel.Requests()) != 1 {
		t.Errorf("recorder seen %v, %d kept", sawRecorder, len(panel.Requests()))
	}
}

func TestInvalidationOnPage(t *testing.T) {
	r := observedRegion(t, "purged", "dogpile.cache.memory")
	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.AllowAll})
	mux := http.NewServeMux()
	mux.Handle("/_dogpile/", panel)
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		if err := r.Invalidate(req.Context(), true); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	srv := httptest.NewServer(panel.Middleware(mux))
	defer srv.Close()
	get := func(path string) string {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	get("/")
	page := get("/_dogpile/requests/1")
	for _, want := range []string{`<span class="op">invalidate</span>`, "every key of the region", "<td>purged</td>", `class="r-none"`} {
		if !strings.Contains(page, want) {
			t.Errorf("detail page lacks %s", want)
		}
	}
	var req struct {
		Operations []struct {
			Op       string   `json:"op"`
			Keys     []string `json:"keys"`
			Results  []string `json:"results"`
			KeyCount int      `json:"key_count"`
		} `json:"operations"`
	}
	if err := json.Unmarshal([]byte(get("/_dogpile/requests/1.json")), &req); err != nil {
		t.Fatal(err)
	}
	if len(req.Operations) != 1 || req.Operations[0].Op != "invalidate" || req.Operations[0].Keys == nil ||
		len(req.Operations[0].Keys) != 0 || req.Operations[0].Results == nil || req.Operations[0].KeyCount != 0 {
		t.Errorf("JSON operations %+v", req.Operations)
	}
}
