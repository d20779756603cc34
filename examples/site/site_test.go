package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// newTestSite returns a site whose queries take delay, closed when the
// test ends.
func newTestSite(t *testing.T, delay time.Duration, settings map[string]any) *site {
	t.Helper()
	s, err := newSite(siteConfig{Settings: settings, Delay: delay})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// response is what a request got.
type response struct {
	status int
	body   string
	header http.Header
}

// do sends a request to the site's handler.
func do(t *testing.T, s *site, req *http.Request) response {
	t.Helper()
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	return response{w.Code, w.Body.String(), w.Result().Header}
}

func get(t *testing.T, s *site, path string) response {
	t.Helper()
	return do(t, s, httptest.NewRequest(http.MethodGet, path, nil))
}

// queriesDuring returns the store queries that ran while f did, by name.
func queriesDuring(s *site, f func()) map[string]int {
	before := s.store.Counts()
	f()
	diff := map[string]int{}
	for name, n := range s.store.Counts() {
		if d := n - before[name]; d > 0 {
			diff[name] = d
		}
	}
	return diff
}

// queryNames returns names as the set queriesDuring reports, each once.
func queryNames(names ...string) map[string]int {
	m := map[string]int{}
	for _, n := range names {
		m[n] = 1
	}
	return m
}

// stamps are the "… rendered 15:04:05.000" lines of a page: one per cached
// fragment, so equal stamps mean the fragments came from the cache.
var stampPattern = regexp.MustCompile(`\w+ rendered [0-9:.]+`)

func stamps(body string) []string { return stampPattern.FindAllString(body, -1) }

func TestPages(t *testing.T) {
	t.Parallel()
	s := newTestSite(t, time.Millisecond, nil)
	tests := []struct {
		path   string
		status int
		want   []string
	}{
		{"/", 200, []string{"<title>Latest posts · Cache Notes</title>", "Warming caches at deploy time", "Mira Okafor",
			"card rendered", "section rendered", "Recent posts", `href="/tags/caching"`, "pongo2 · this request:",
			"· 4 comments</p>"}}, // pongo2 prints an unknown function as nothing: check what each prints
		{"/posts/3", 200, []string{"<h1>Choosing expiration times</h1>", "June Park", "An expiration time is a promise",
			"article rendered", `href="/posts/3/edit"`, "pongo2 · this request:", ">10 comments</p>"}},
		{"/posts/3/edit", 200, []string{`<form method="post" action="/posts/3/edit"`, `value="Choosing expiration times"`, `value="caching, ops"`}},
		{"/archive", 200, []string{"<h1>Archive</h1>", "January 2025", "What a cache stampede looks like", "archive rendered",
			"html/template · this request:"}},
		{"/tags/redis", 200, []string{"Posts tagged #redis", "Redis or Memcached?", "Sharing a cache between Go and Python",
			"card rendered", "list rendered", "sidebar rendered", "· June Park · 1 comment</p>"}},
		{"/authors/june", 200, []string{"<h1>June Park</h1>", "Operates Redis", "Choosing expiration times", "card rendered"}},
		{"/stats", 200, []string{"The dogpile lock", "Stampede after a soft invalidation", "dogpile.cache.memory", "<td>local</td>"}},
		{"/static/style.css", 200, []string{".card {"}},
		{"/posts/999", 404, []string{"There is no such post."}},
		{"/posts/abc", 404, []string{"There is no such post."}},
		{"/posts/999/edit", 404, []string{"There is no such post."}},
		{"/tags/nope", 404, []string{"No post has this tag."}},
		{"/authors/nobody", 404, []string{"There is no such author."}},
		{"/nowhere", 404, []string{"There is no page here."}},
	}
	for _, tt := range tests {
		r := get(t, s, tt.path)
		if r.status != tt.status {
			t.Errorf("GET %s: status %d, want %d\n%s", tt.path, r.status, tt.status, r.body)
			continue
		}
		for _, want := range tt.want {
			if !strings.Contains(r.body, want) {
				t.Errorf("GET %s: body lacks %q", tt.path, want)
			}
		}
	}
}

// TestSecondRequestFromCache checks that a page asked twice runs no query
// the second time and serves the same fragments.
func TestSecondRequestFromCache(t *testing.T) {
	t.Parallel()
	s := newTestSite(t, time.Millisecond, nil)
	for _, path := range []string{"/", "/posts/3", "/archive", "/tags/redis", "/authors/june"} {
		var first, second response
		if q := queriesDuring(s, func() { first = get(t, s, path) }); len(q) == 0 {
			t.Errorf("GET %s the first time ran no query", path)
		}
		if q := queriesDuring(s, func() { second = get(t, s, path) }); len(q) > 0 {
			t.Errorf("GET %s the second time ran %v, want no query", path, q)
		}
		if first.status != 200 || second.status != 200 {
			t.Fatalf("GET %s: status %d then %d", path, first.status, second.status)
		}
		if a, b := stamps(first.body), stamps(second.body); len(a) == 0 || !slices.Equal(a, b) {
			t.Errorf("GET %s: fragments rendered at %v, then %v", path, a, b)
		}
		if !strings.Contains(second.body, "this request: 0 queries") {
			t.Errorf("GET %s: the footer of the second response does not say 0 queries", path)
		}
	}
}

// edit posts the edit form of post id.
func edit(t *testing.T, s *site, id int, title, body, tags string) response {
	t.Helper()
	form := url.Values{"title": {title}, "body": {body}, "tags": {tags}}
	req := httptest.NewRequest(http.MethodPost, fmt.Sprintf("/posts/%d/edit", id), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, s, req)
}

// TestEditInvalidatesExactly edits a post and checks, page by page, which
// fragments are rendered again: those that show the post, and no other.
func TestEditInvalidatesExactly(t *testing.T) {
	t.Parallel()
	s := newTestSite(t, time.Millisecond, nil)
	pages := []string{"/", "/posts/10", "/archive", "/tags/ops", "/tags/caching", "/tags/redis", "/authors/mira", "/authors/june"}
	for _, p := range pages {
		get(t, s, p)
	}

	// Post 10, by mira, tagged ops and caching: a new title, same tags.
	const title = "Warming caches before the traffic"
	var r response
	if q := queriesDuring(s, func() {
		r = edit(t, s, 10, title, "Render the busy pages first.\n\nThen let traffic in.", "ops, caching")
	}); !maps.Equal(q, queryNames("UpdatePost(10)")) {
		t.Errorf("saving ran %v, want only the update", q)
	}
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/posts/10" {
		t.Fatalf("POST: status %d, Location %q", r.status, r.header.Get("Location"))
	}

	// The post page: the article again (the post itself was stored in the
	// function cache by the save, so Post(10) does not run), the recent
	// titles sidebar (the title changed), not the tag cloud.
	req := httptest.NewRequest(http.MethodGet, "/posts/10", nil)
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		req.AddCookie(c)
	}
	q := queriesDuring(s, func() { r = do(t, s, req) })
	if want := queryNames("CommentCount(10)", "RecentPosts(5)"); !maps.Equal(q, want) {
		t.Errorf("GET /posts/10 after the edit ran %v, want %v", q, want)
	}
	for _, want := range []string{"<h1>" + title + "</h1>", "Render the busy pages first.", "Saved “" + title + "”",
		"tmpl:post.html:article:", "tmpl:card.html:card:", "tmpl:site:card:", "function cache — set blog.store:Post|10"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("GET /posts/10 after the edit lacks %q", want)
		}
	}
	if strings.Contains(r.body, "tmpl:base.html:tags:") {
		t.Error("the tag cloud was invalidated, but the tags did not change")
	}

	// Each page renders what shows the post, and takes the rest from the
	// cache: the other cards of a list are not rendered again (no
	// CommentCount of another post).
	steps := []struct {
		path string
		want map[string]int
	}{
		{"/", queryNames("RecentPosts(6)", "CommentCount(10)")},                                    // the section, card 10; the sidebar is done
		{"/authors/mira", queryNames("PostsByAuthor(mira)", "CommentCount(10)", "RecentPosts(5)")}, // html/template: list, card 10, sidebar
		{"/tags/ops", queryNames("PostsByTag(ops)")},                                               // card 10 is shared with the author page
		{"/tags/caching", queryNames("PostsByTag(caching)")},
		{"/archive", queryNames("AllPosts()")}, // titles changed
		{"/tags/redis", nil},                   // does not show post 10
		{"/authors/june", nil},
	}
	for _, st := range steps {
		q := queriesDuring(s, func() { r = get(t, s, st.path) })
		if len(q) != 0 || len(st.want) != 0 {
			if !maps.Equal(q, st.want) {
				t.Errorf("GET %s after the edit ran %v, want %v", st.path, q, st.want)
			}
		}
		if r.status != 200 {
			t.Errorf("GET %s: status %d", st.path, r.status)
		}
		if st.want != nil && !strings.Contains(r.body, title) {
			t.Errorf("GET %s does not show the new title", st.path)
		}
	}

	// A second edit changes the tags only: the tag clouds and the lists of
	// the tags go, the recent-titles sidebars stay.
	edit(t, s, 10, title, "Render the busy pages first.\n\nThen let traffic in.", "ops, caching, go")
	q = queriesDuring(s, func() { r = get(t, s, "/") })
	if want := queryNames("RecentPosts(6)", "CommentCount(10)", "TagCounts()"); !maps.Equal(q, want) {
		t.Errorf("GET / after the tags changed ran %v, want %v", q, want)
	}
	if !strings.Contains(r.body, `href="/tags/go">#go</a>`) {
		t.Error("the card does not show the new tag")
	}
	q = queriesDuring(s, func() { r = get(t, s, "/tags/go") })
	if _, ok := q["PostsByTag(go)"]; !ok || !strings.Contains(r.body, title) {
		t.Errorf("GET /tags/go ran %v; shows the post: %v", q, strings.Contains(r.body, title))
	}
}

func TestEditRejectsBadInput(t *testing.T) {
	t.Parallel()
	s := newTestSite(t, 0, nil)
	var r response
	q := queriesDuring(s, func() { r = edit(t, s, 3, "  ", "", "ok, Not OK!") })
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", r.status)
	}
	for _, want := range []string{"The title is empty.", "The text is empty.", "The tag &quot;not ok!&quot; is not"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the form lacks %q", want)
		}
	}
	if _, ok := q["UpdatePost(3)"]; ok {
		t.Error("an invalid form updated the post")
	}
	if r := edit(t, s, 999, "t", "b", ""); r.status != http.StatusNotFound {
		t.Errorf("editing a missing post: status %d", r.status)
	}
}

// TestColdStampede sends 50 concurrent requests for cold pages: the
// dogpile lock makes each slow query run once.
func TestColdStampede(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/", "/tags/caching", "/posts/4"} {
		t.Run(strings.ReplaceAll(path, "/", "_"), func(t *testing.T) {
			t.Parallel()
			s := newTestSite(t, 20*time.Millisecond, nil)
			var wg sync.WaitGroup
			start := make(chan struct{})
			bodies := make([]response, 50)
			q := queriesDuring(s, func() {
				for i := range bodies {
					wg.Go(func() {
						<-start
						bodies[i] = get(t, s, path)
					})
				}
				close(start)
				wg.Wait()
			})
			for name, n := range q {
				if n != 1 {
					t.Errorf("%s ran %d times, want once", name, n)
				}
			}
			if len(q) == 0 {
				t.Error("no query ran")
			}
			for i, r := range bodies {
				if r.status != 200 || !slices.Equal(stamps(r.body), stamps(bodies[0].body)) {
					t.Fatalf("request %d: status %d, fragments %v; request 0: %v", i, r.status, stamps(r.body), stamps(bodies[0].body))
				}
			}
		})
	}
}

// TestGoneRequestDoesNotFailOthers cancels the request that renders a
// fragment while another waits for it: the rendering goes on with the
// rendering's context, and the waiting request gets the page.
func TestGoneRequestDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	s := newTestSite(t, 30*time.Millisecond, nil)
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan struct{})
	go func() {
		defer close(first)
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil))
	}()
	time.Sleep(10 * time.Millisecond) // the first request is rendering
	second := make(chan response, 1)
	go func() { second <- get(t, s, "/") }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	<-first
	r := <-second
	if r.status != 200 || !strings.Contains(r.body, "card rendered") {
		t.Fatalf("the waiting request got status %d:\n%s", r.status, r.body)
	}
}

func TestStampedeEndpoint(t *testing.T) {
	t.Parallel()
	s := newTestSite(t, time.Millisecond, nil)
	for _, mode := range []string{"hard", "soft"} {
		req := httptest.NewRequest(http.MethodPost, "/stats/stampede", strings.NewReader("mode="+mode))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r := do(t, s, req)
		if r.status != http.StatusSeeOther {
			t.Fatalf("%s: status %d", mode, r.status)
		}
		req = httptest.NewRequest(http.MethodGet, "/stats", nil)
		for _, c := range (&http.Response{Header: r.header}).Cookies() {
			req.AddCookie(c)
		}
		r = do(t, s, req)
		want := fmt.Sprintf("50 concurrent requests for / after a %s invalidation:", mode)
		if !strings.Contains(r.body, want) || !strings.Contains(r.body, "each run once") {
			t.Errorf("%s: /stats lacks %q and %q", mode, want, "each run once")
		}
	}

	res, err := s.stampede(context.Background(), s.pages, true, 20)
	if err != nil {
		t.Fatal(err)
	}
	if res.MostRuns != 1 || res.Failed != 0 || res.Queries == 0 {
		t.Errorf("hard stampede: %+v", res)
	}

	// A cross-site form post is refused.
	req := httptest.NewRequest(http.MethodPost, "/stats/invalidate", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if r := do(t, s, req); r.status != http.StatusForbidden {
		t.Errorf("cross-site POST: status %d, want 403", r.status)
	}
}

// writeFile writes a temporary file and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const testConfig = `# regions for the test
[app:main]
cache.default.backend = dogpile.cache.memory
cache.default.expiration_time = 120
; the sidebars through the JSON codec
cache.local.backend = dogpile.cache.memory_pickle
cache.local.expiration_time = 30
other.setting = not the cache's business
`

func TestConfigFile(t *testing.T) {
	t.Parallel()
	settings, err := loadSettings(writeFile(t, "site.ini", testConfig))
	if err != nil {
		t.Fatal(err)
	}
	if got := settings["cache.local.backend"]; got != "dogpile.cache.memory_pickle" {
		t.Fatalf("cache.local.backend = %v", got)
	}
	s := newTestSite(t, 0, settings)
	local, err := s.frags.Region("local")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := local.Backend().(*memory.BytesBackend); !ok {
		t.Errorf("the local region's backend is %T", local.Backend())
	}
	if local.ExpirationTime() != 30*time.Second {
		t.Errorf("the local region expires after %v", local.ExpirationTime())
	}
	for range 2 {
		if r := get(t, s, "/tags/redis"); r.status != 200 || !strings.Contains(r.body, "Recent posts") {
			t.Fatalf("status %d", r.status)
		}
	}
	if q := queriesDuring(s, func() { get(t, s, "/tags/redis") }); len(q) > 0 {
		t.Errorf("a cached page ran %v", q)
	}
	if r := get(t, s, "/stats"); !strings.Contains(r.body, "dogpile.cache.memory_pickle") {
		t.Error("/stats does not name the local region's backend")
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ text, want string }{
		{"cache.default.backend dogpile.cache.memory\n", `:1: expected "key = value"`},
		{"# x\ncache.a = 1\ncache.a = 2\n", ":3: cache.a is already set on line 2"},
		{" = 1\n", ":1: empty key"},
	} {
		_, err := loadSettings(writeFile(t, "bad.ini", tt.text))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.text, err, tt.want)
		}
	}
	for _, tt := range []struct {
		settings map[string]any
		want     string
	}{
		{map[string]any{"cache.local.backend": "dogpile.cache.memory"}, "cache.default.backend"},
		{map[string]any{"cache.default.backend": "dogpile.cache.nosuch"}, "nosuch"},
		{map[string]any{"cache.default.backend": "dogpile.cache.memory", "cache.default.expiration_tme": "1"}, "expiration_tme"},
	} {
		s, err := newSite(siteConfig{Settings: tt.settings})
		if err == nil {
			s.Close()
			t.Errorf("%v: no error", tt.settings)
		} else if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want it to mention %q", tt.settings, err, tt.want)
		}
	}

	// Without a local region the site adds a memory one.
	s := newTestSite(t, 0, map[string]any{"cache.default.backend": "dogpile.cache.memory_pickle"})
	if r, err := s.frags.Region("local"); err != nil || r.ExpirationTime() != time.Minute {
		t.Errorf("local region: %v", err)
	}
	if r := get(t, s, "/"); r.status != 200 {
		t.Errorf("GET /: status %d", r.status)
	}
}

// lineWriter sends each line written to it on a channel.
type lineWriter struct {
	mu    sync.Mutex
	buf   []byte
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := slices.Index(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines <- string(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

// TestRun starts the server as main does, on a free port and with a config
// file, fetches a page over HTTP, then cancels the context and expects a
// clean shutdown.
func TestRun(t *testing.T) {
	t.Parallel()
	config := writeFile(t, "site.ini", testConfig)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lineWriter{lines: make(chan string, 100)}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-delay", "1ms", "-config", config}, out, io.Discard)
	}()

	var base string
	select {
	case line := <-out.lines:
		m := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(line)
		if m == "" {
			t.Fatalf("first line %q has no URL", line)
		}
		base = m
	case err := <-done:
		t.Fatalf("run returned %v before listening", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not start")
	}
	for _, path := range []string{"", "posts/1", "archive"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "Cache Notes") {
			t.Errorf("GET /%s: status %d", path, resp.StatusCode)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop")
	}
	var rest []string
	for len(out.lines) > 0 {
		rest = append(rest, <-out.lines)
	}
	if !slices.Contains(rest, "stopped") || !slices.ContainsFunc(rest, func(l string) bool { return strings.Contains(l, "dogpile.cache.memory_pickle") }) {
		t.Errorf("output after the URL: %q", rest)
	}
	if _, err := http.Get(base); err == nil {
		t.Error("the server still answers")
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = run(context.Background(), []string{"-addr", ln.Addr().String()}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "-addr") {
		t.Errorf("port in use: %v", err)
	}

	err = run(context.Background(), []string{"-nosuchflag"}, io.Discard, io.Discard)
	if err == nil {
		t.Error("an unknown flag is accepted")
	}
	err = run(context.Background(), []string{"-config", filepath.Join(t.TempDir(), "missing.ini")}, io.Discard, io.Discard)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing config file: %v", err)
	}
}

// TestExampleConfig checks that config.example.ini is valid as shipped.
func TestExampleConfig(t *testing.T) {
	t.Parallel()
	settings, err := loadSettings("config.example.ini")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSite(t, 0, settings)
	for _, name := range []string{"", "local"} {
		r, err := s.frags.Region(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r.Backend().(*memory.Backend); !ok {
			t.Errorf("region %q: backend %T", name, r.Backend())
		}
	}
	// Every backend the file names, commented or not, is linked in.
	names := regexp.MustCompile(`backend = (\S+)`).FindAllStringSubmatch(mustRead(t, "config.example.ini"), -1)
	if len(names) < 5 {
		t.Fatalf("only %d backend lines", len(names))
	}
	for _, m := range names {
		if !slices.Contains(driver.Backends(), m[1]) {
			t.Errorf("%s is not registered", m[1])
		}
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
