package debugpanel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/debugpanel"
	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/tmplcache"
)

// TestNestedFragmentsCountOnce: on a page of fragments rendered inside
// fragments, the creators' time, the cache time and the Server-Timing
// metrics count each moment once, so none exceeds the request's time
// (summed over every creation, the creators' time would be about twice
// the layout's).
func TestNestedFragmentsCountOnce(t *testing.T) {
	s := newTestSite(t, debugpanel.Options{Guard: debugpanel.AllowAll})
	resp, _ := s.get(t, "/nested")
	req, ok := s.Panel.Request(1)
	if !ok {
		t.Fatal("request not kept")
	}
	st := req.Stats
	var creates, layoutCreate time.Duration
	for _, o := range req.Operations {
		if o.Op == "create" {
			creates += o.Duration
			if o.Fragment == "layout" {
				layoutCreate = o.Duration
			}
		}
	}
	if creates <= req.Duration {
		t.Fatalf("the creations add up to %v in a request of %v: the test proves nothing", creates, req.Duration)
	}
	if st.CreateTime != layoutCreate || st.CacheTime+st.CreateTime > req.Duration {
		t.Errorf("creators %v (want the layout's %v), cache %v, request %v", st.CreateTime, layoutCreate, st.CacheTime, req.Duration)
	}
	var region time.Duration
	for _, o := range st.ByOp {
		if o.Layer == debugpanel.LayerRegion {
			region += o.Self
		}
	}
	if region != st.CacheTime+st.CreateTime {
		t.Errorf("the region rows' own times add up to %v, want cache and creators, %v", region, st.CacheTime+st.CreateTime)
	}
	// The header was written before the handler returned: within the
	// request's time too, each metric and the per-operation ones together.
	wall := float64(req.Duration) / float64(time.Millisecond)
	var sum float64
	for _, m := range parseServerTiming(t, resp.Header.Get("Server-Timing")) {
		if m.dur > wall {
			t.Errorf("metric %s of %.3f ms in a request of %.3f ms", m.name, m.dur, wall)
		}
		if m.name != "dogpile" {
			sum += m.dur
		}
	}
	if sum > wall {
		t.Errorf("the per-operation metrics add up to %.3f ms in a request of %.3f ms: %s", sum, wall, resp.Header.Get("Server-Timing"))
	}
	// The page says the same.
	_, page := s.get(t, "/_dogpile/requests/1")
	want := fmt.Sprintf(`creators <span id="createtime">%.3f</span> ms`, float64(st.CreateTime)/float64(time.Millisecond))
	if !strings.Contains(page, want) {
		t.Errorf("the detail page lacks %s", want)
	}
}

// TestOperationsKnowTheirFragment: each operation of a page of nested
// fragments says which fragment it is part of (Parent, the key of its
// call or rendering), how deep it is, and whether it is a collection's;
// the JSON view has the same.
func TestOperationsKnowTheirFragment(t *testing.T) {
	s := newTestSite(t, debugpanel.Options{Guard: debugpanel.AllowAll})
	s.get(t, "/nested")
	req, _ := s.Panel.Request(1)
	key := func(tmpl, name string, vary ...any) string {
		return s.frags.Key(tmplcache.Fragment{Template: tmpl, Name: name, Vary: vary})
	}
	layout, sidebar, card1 := key("page.html", "layout"), key("page.html", "sidebar"), key("card.html", "card", 1)
	type placed struct {
		parent     string
		depth      int
		collection bool
	}
	got := map[string]placed{}
	for _, o := range req.Operations {
		if o.Layer == debugpanel.LayerRegion && (o.Op == "get_or_create" || o.Op == "get_or_create_multi") {
			got[o.Keys[0]] = placed{o.Parent, o.Depth, o.Collection}
		}
	}
	for k, want := range map[string]placed{
		layout:                       {"", 0, false},
		sidebar:                      {layout, 1, false},
		key("page.html", "widget"):   {sidebar, 2, false},
		"post:7":                     {sidebar, 2, false}, // a lookup of the Go code the sidebar's template calls
		card1:                        {layout, 1, true},   // the collection
		key("card.html", "avatar"):   {card1, 2, false},   // rendered for the first card
		key("page.html", markupName): {layout, 1, false},
	} {
		if got[k] != want {
			t.Errorf("%s: %+v, want %+v", k, got[k], want)
		}
	}
	for _, o := range req.Operations {
		if o.Op == "create" && o.Keys[0] == sidebar && (o.Parent != sidebar || o.Depth != 1) {
			t.Errorf("the sidebar's creation: parent %q, depth %d", o.Parent, o.Depth)
		}
	}
	_, body := s.get(t, "/_dogpile/requests/1.json")
	var js struct {
		Operations []struct {
			Op         string   `json:"op"`
			Keys       []string `json:"keys"`
			Parent     string   `json:"parent"`
			Depth      int      `json:"depth"`
			Collection bool     `json:"collection"`
		} `json:"operations"`
	}
	if err := json.Unmarshal([]byte(body), &js); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range js.Operations {
		if o.Op == "get_or_create_multi" && o.Collection && o.Parent == layout && o.Depth == 1 {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the JSON view has %d collections under the layout: %s", n, body)
	}
}

// TestTimelineOnPage: the detail page draws the timeline: one row per
// operation that is not a stripe, nested in <details>, collections folded,
// bars placed by a style sheet that holds numbers and ids only; markup in
// a fragment's name and in a key is text.
func TestTimelineOnPage(t *testing.T) {
	s := newTestSite(t, debugpanel.Options{Guard: debugpanel.AllowAll})
	s.get(t, "/nested")
	s.get(t, "/page")
	_, page := s.get(t, "/_dogpile/requests/1")
	req, _ := s.Panel.Request(1)
	rows := strings.Count(page, `class="tl-row r-`) - strings.Count(page, `data-seq="0"`) // items are not operations
	stripes := strings.Count(page, `class="tl-seg `)
	if rows+stripes != len(req.Operations) || stripes == 0 {
		t.Errorf("%d rows and %d stripes for %d operations", rows, stripes, len(req.Operations))
	}
	if !strings.Contains(page, `<details class="tl-node" data-kind="collection"><summary`) ||
		!strings.Contains(page, `<details class="tl-node" data-kind="fragment" open><summary`) {
		t.Error("the collection is not folded, or the fragments not unfolded, at first")
	}
	style := regexp.MustCompile(`<style nonce="[^"]+">([^<]*)</style>`).FindAllStringSubmatch(page, -1)
	if len(style) != 2 || !regexp.MustCompile(`^(#t\d+[bsp]?\d*\{left:\d+\.\d{4}%;width:\d+\.\d{4}%\}|\.tl-d\d+\{padding-left:\d+\.\d\dem\})+$`).MatchString(style[1][1]) {
		t.Errorf("the timeline's style sheet: %q", style)
	}
	if !strings.Contains(page, `<span class="tl-frag">&lt;img src=x onerror=alert(&#34;frag&#34;)&gt;</span>`) || strings.Contains(page, "<img") {
		t.Error("a fragment's name with markup is not escaped in the timeline")
	}
	_, page = s.get(t, "/_dogpile/requests/2")
	if !strings.Contains(page, `<code class="tl-key">&lt;script&gt;alert(&#34;key&#34;)&lt;/script&gt;</code>`) || strings.Contains(page, "<script>alert") {
		t.Error("a key with markup is not escaped in the timeline")
	}
	// Under the budget: the timeline is drawn from what the recorder
	// keeps, and keeps nothing itself.
	if used, budget := s.Panel.Memory(); used > budget {
		t.Errorf("%d bytes kept of %d", used, budget)
	}
}

// TestRetiredNames: the rows of Invalidate's delete and of
// InvalidateTags' write name the fragment and the tag they retired, in
// the timeline and in the operations.
func TestRetiredNames(t *testing.T) {
	s := newTestSite(t, debugpanel.Options{Guard: debugpanel.AllowAll})
	s.get(t, "/edit")
	_, page := s.get(t, "/_dogpile/requests/1")
	for _, want := range []string{
		`<span class="retired">retires fragment <code>page.html:sidebar</code></span>`,
		`<span class="retired">retires tag <code>post:2</code></span>`,
		`<div class="retired">retires fragment <code>page.html:sidebar</code></div>`,
		`<div class="retired">retires tag <code>post:2</code></div>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the edit's page lacks %s", want)
		}
	}
}

// TestResultVocabulary: the request list, the detail page's statistics,
// the JSON views and Server-Timing count results under the same names,
// each name one result: hits, stale, misses, created, waited, errors.
func TestResultVocabulary(t *testing.T) {
	s := newTestSite(t, debugpanel.Options{Guard: debugpanel.AllowAll})
	resp, _ := s.get(t, "/page")
	s.get(t, "/page")
	st := s.Panel.Requests()[1].Stats
	if st.Misses == 0 || st.Created == 0 || st.Hits == 0 {
		t.Fatalf("the first request's results %+v: the test proves nothing", st)
	}
	heads := `>hits</th><th class="num" data-num title="stale: [^"]+">stale</th><th class="num" data-num title="miss: [^"]+">misses</th>` +
		`<th class="num" data-num title="created: [^"]+">created</th><th class="num" data-num title="waited: [^"]+">waited</th>` +
		`<th class="num" data-num title="error: [^"]+">errors</th>`
	_, list := s.get(t, "/_dogpile/")
	_, detail := s.get(t, "/_dogpile/requests/1")
	for name, page := range map[string]string{"list": list, "detail": detail} {
		if !regexp.MustCompile(heads).MatchString(page) {
			t.Errorf("the %s page lacks the result columns", name)
		}
	}
	// The list's row of the first request: ops, then the six results.
	row := regexp.MustCompile(`(?s)<tr data-i="1".*?</tr>`).FindString(list)
	cells := regexp.MustCompile(`<td class="num">(\d+)</td>`).FindAllStringSubmatch(row, -1)
	var got []string
	for _, c := range cells {
		got = append(got, c[1])
	}
	want := []string{"200", strconv.Itoa(st.Ops), strconv.Itoa(st.Hits), strconv.Itoa(st.Stale), strconv.Itoa(st.Misses),
		strconv.Itoa(st.Created), strconv.Itoa(st.Waited), strconv.Itoa(st.Errors)}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the list's row says %v, want status, ops and results %v", got, want)
	}
	if strings.Contains(list, "not served from the cache") {
		t.Error("the list still counts misses under another meaning")
	}
	// JSON: the same names.
	_, body := s.get(t, "/_dogpile/requests.json")
	for _, field := range []string{`"hits":`, `"stale":`, `"misses":`, `"created":`, `"waited":`, `"errors":`} {
		if !strings.Contains(body, field) {
			t.Errorf("the JSON list lacks %s", field)
		}
	}
	// Server-Timing: the same words, one per result.
	desc := parseServerTiming(t, resp.Header.Get("Server-Timing"))[0].desc
	if want := fmt.Sprintf("%d ops, %d hits, %d misses, %d created", st.Ops, st.Hits, st.Misses, st.Created); desc != want {
		t.Errorf("Server-Timing desc %q, want %q", desc, want)
	}
}

// TestStaticAsset: the paths the middleware leaves out by default.
func TestStaticAsset(t *testing.T) {
	for path, want := range map[string]bool{
		"/favicon.ico": true, "/robots.txt": true, "/static/app.css": true, "/static/x": true, "/assets/app": true,
		"/app.js": true, "/app.js.map": true, "/img/logo.PNG": true, "/a/b.svg": true, "/font.woff2": true, "/photo.JPG": true,
		"/": false, "/page": false, "/posts/1": false, "/static": false, "/tags/v1.2": false, "/authors/x.y": false,
		"/archive.html": false, "/feed.xml": false, "/css": false, "/.css/x": false,
	} {
		if got := debugpanel.StaticAsset(path); got != want {
			t.Errorf("StaticAsset(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestStaticAssetsNotRecorded: by default the middleware records neither
// static files nor the favicon; Options.Skip replaces that choice, and the
// panel's own pages are never recorded.
func TestStaticAssetsNotRecorded(t *testing.T) {
	paths := []string{"/favicon.ico", "/static/site.css", "/app.js", "/page", "/_dogpile/", "/logo.png"}
	for _, c := range []struct {
		name string
		skip func(*http.Request) bool
		want string
	}{
		{"default", nil, "[/page]"},
		{"record all", func(*http.Request) bool { return false }, "[/favicon.ico /static/site.css /app.js /page /logo.png]"},
		{"more", func(r *http.Request) bool { return debugpanel.StaticAsset(r.URL.Path) || r.URL.Path == "/page" }, "[]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.AllowAll, Skip: c.skip})
			var recorded []string
			h := panel.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if debugpanel.FromContext(r.Context()) != nil {
					recorded = append(recorded, r.URL.Path)
				}
			}))
			for _, p := range paths {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(context.Background(), http.MethodGet, p, nil))
			}
			if got := fmt.Sprint(recorded); got != c.want || len(panel.Requests()) != len(recorded) {
				t.Errorf("recorded %s (%d kept), want %s", got, len(panel.Requests()), c.want)
			}
		})
	}
}

// TestParentIsCut: an operation's parent key is cut and charged like its
// keys.
func TestParentIsCut(t *testing.T) {
	_, rec := recording(debugpanel.Limits{MaxKeyLen: 8})
	get := debugpanel.Operation{Layer: debugpanel.LayerRegion, Op: "get", Keys: []string{"k"}, Results: []observe.Result{observe.Hit}, Size: -1}
	rec.Record(get) // the first grows the operations' array
	before := rec.Snapshot().Memory
	rec.Record(get)
	plain := rec.Snapshot().Memory - before
	get.Parent, get.Depth = strings.Repeat("p", 1000), 3
	rec.Record(get)
	withParent := rec.Snapshot().Memory - before - plain
	ops := rec.Operations()
	if ops[2].Parent != "pppppppp" || ops[2].Depth != 3 {
		t.Errorf("kept parent %q, depth %d", ops[2].Parent, ops[2].Depth)
	}
	if withParent <= plain || withParent > plain+64 {
		t.Errorf("an operation with a parent costs %d bytes, one without %d", withParent, plain)
	}
}

// TestBackendCallsUnderTheirFragment: with the Observer and the proxy
// backend on one region, a fragment's backend calls say which fragment
// they were made for, and the timeline draws them under its row.
func TestBackendCallsUnderTheirFragment(t *testing.T) {
	r := dogpile.NewRegion(dogpile.WithName("both"), dogpile.WithObserver(debugpanel.Observer{}))
	if err := r.Configure("dogpile.cache.memory_pickle", dogpile.Config{ExpirationTime: time.Hour, Wrap: []driver.Proxy{debugpanel.Proxy}}); err != nil {
		t.Fatal(err)
	}
	frags := tmplcache.New(r)
	defer frags.Close()
	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.AllowAll})
	mux := http.NewServeMux()
	mux.Handle("/_dogpile/", panel)
	outer, inner := tmplcache.Fragment{Template: "a.html", Name: "outer"}, tmplcache.Fragment{Template: "a.html", Name: "inner"}
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		_, err := frags.Render(req.Context(), outer, tmplcache.RenderOptions{}, func(ctx context.Context) (string, error) {
			return frags.Render(ctx, inner, tmplcache.RenderOptions{}, func(context.Context) (string, error) { return "in", nil })
		})
		if err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	srv := httptest.NewServer(panel.Middleware(mux))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := panel.Request(1)
	innerKey := frags.Key(inner)
	backend := 0
	for _, o := range req.Operations {
		if o.Layer == debugpanel.LayerBackend && o.Keys[0] == innerKey {
			backend++
			if o.Parent != innerKey || o.Depth != 1 {
				t.Errorf("backend %s of the inner fragment: parent %q, depth %d", o.Op, o.Parent, o.Depth)
			}
		}
	}
	if backend != 2 { // its get, then its set
		t.Fatalf("%d backend calls of the inner fragment: %+v", backend, req.Operations)
	}
	resp, err = srv.Client().Get(srv.URL + "/_dogpile/requests/1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	// outer: its backend get, inner with its get and set, its own set; each
	// backend call a row one level deeper than its fragment.
	depths := regexp.MustCompile(`data-seq="\d+" data-kind="(\w+)" data-depth="(\d)" data-key="([^"]*)"`).FindAllStringSubmatch(string(page), -1)
	var got []string
	for _, d := range depths {
		if d[3] == innerKey || d[3] == frags.Key(outer) {
			got = append(got, d[1]+d[2])
		}
	}
	if want := "[fragment0 op1 fragment1 op2 op2 op1]"; fmt.Sprint(got) != want {
		t.Errorf("rows of the fragments' keys (kind, depth): %v, want %s", got, want)
	}
}
