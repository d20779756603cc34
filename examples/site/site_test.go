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

	"github.com/google/go-cmp/cmp"

	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/tmplcache"
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

// follow requests the page r redirects to, with the cookies r set (the
// flash message's).
func follow(t *testing.T, s *site, r response) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, r.header.Get("Location"), nil)
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		req.AddCookie(c)
	}
	return do(t, s, req)
}

// pageStep is a page and the queries it must run: those of the fragments
// rendered again, and no other.
type pageStep struct {
	path string
	want map[string]int
}

// checkSteps requests each page and compares the queries it ran. A page
// that runs queries must show title.
func checkSteps(t *testing.T, s *site, title string, steps []pageStep) {
	t.Helper()
	for _, st := range steps {
		var r response
		q := queriesDuring(s, func() { r = get(t, s, st.path) })
		if (len(q) != 0 || len(st.want) != 0) && !maps.Equal(q, st.want) {
			t.Errorf("GET %s after the edit ran %v, want %v", st.path, q, st.want)
		}
		if r.status != 200 {
			t.Errorf("GET %s: status %d", st.path, r.status)
		}
		if st.want != nil && !strings.Contains(r.body, title) {
			t.Errorf("GET %s does not show the new title", st.path)
		}
	}
}

// retiredTags returns the tags an edit's message lists as retired.
func retiredTags(body string) []string {
	var tags []string
	for _, m := range regexp.MustCompile(`<li><code>([^<]+)</code>`).FindAllStringSubmatch(body, -1) {
		if !strings.HasPrefix(m[1], "function cache") {
			tags = append(tags, m[1])
		}
	}
	return tags
}

// TestEditInvalidatesExactly edits a post and checks, page by page, which
// fragments are rendered again: those that depend on a tag the edit
// retired, which are those that show what changed, and no other.
func TestEditInvalidatesExactly(t *testing.T) {
	t.Parallel()
	s := newTestSite(t, time.Millisecond, nil)
	pages := []string{"/", "/posts/10", "/archive", "/tags/ops", "/tags/caching", "/tags/redis", "/tags/go", "/authors/mira", "/authors/june"}
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
	q := queriesDuring(s, func() { r = follow(t, s, r) })
	if want := queryNames("CommentCount(10)", "RecentPosts(5)"); !maps.Equal(q, want) {
		t.Errorf("GET /posts/10 after the edit ran %v, want %v", q, want)
	}
	for _, want := range []string{"<h1>" + title + "</h1>", "Render the busy pages first.", "Saved “" + title + "”",
		"pongo2 post.html › article (declares it)", "html/template site › tag-posts (declares it)",
		"pongo2 base.html › recent (declares it)", "function cache — set blog.store:Post|10"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("GET /posts/10 after the edit lacks %q", want)
		}
	}
	// The message lists the tags the edit retired: not the tag counts, as
	// the tags did not change.
	if diff := cmp.Diff([]string{"post:10", "author:mira", "tag:caching", "tag:ops", "titles"}, retiredTags(r.body)); diff != "" {
		t.Errorf("retired tags (-want +got):\n%s", diff)
	}

	// Each page renders what shows the post, and takes the rest from the
	// cache: the other cards of a list are not rendered again (no
	// CommentCount of another post).
	checkSteps(t, s, title, []pageStep{
		{"/", queryNames("RecentPosts(6)", "CommentCount(10)")},                                    // the section, card 10; the sidebar is done
		{"/authors/mira", queryNames("PostsByAuthor(mira)", "CommentCount(10)", "RecentPosts(5)")}, // html/template: list, card 10, sidebar
		{"/tags/ops", queryNames("PostsByTag(ops)")},                                               // card 10 is shared with the author page
		{"/tags/caching", queryNames("PostsByTag(caching)")},
		{"/archive", queryNames("AllPosts()")}, // titles changed
		{"/tags/redis", nil},                   // does not show post 10
		{"/tags/go", nil},
		{"/authors/june", nil},
	})

	// A second edit changes the tags only: the tag clouds and the lists of
	// the tags go, the recent-titles sidebars and the archive stay.
	r = edit(t, s, 10, title, "Render the busy pages first.\n\nThen let traffic in.", "ops, caching, go")
	q = queriesDuring(s, func() { r = follow(t, s, r) })
	if want := queryNames("CommentCount(10)", "TagCounts()"); !maps.Equal(q, want) { // the article, the tag cloud
		t.Errorf("GET /posts/10 after the tags changed ran %v, want %v", q, want)
	}
	if diff := cmp.Diff([]string{"post:10", "author:mira", "tag:caching", "tag:go", "tag:ops", "tag-counts"}, retiredTags(r.body)); diff != "" {
		t.Errorf("retired tags of the second edit (-want +got):\n%s", diff)
	}
	if want := "pongo2 base.html › #2 (tag_cloud() adds it)"; !strings.Contains(r.body, want) {
		t.Errorf("the message lacks %q", want)
	}
	q = queriesDuring(s, func() { r = get(t, s, "/") })
	if want := queryNames("RecentPosts(6)", "CommentCount(10)"); !maps.Equal(q, want) { // the cloud is done
		t.Errorf("GET / after the tags changed ran %v, want %v", q, want)
	}
	if !strings.Contains(r.body, `href="/tags/go">#go</a>`) {
		t.Error("the card does not show the new tag")
	}
	checkSteps(t, s, title, []pageStep{
		{"/tags/go", queryNames("PostsByTag(go)", "CommentCount(10)")}, // the post joined #go; the tag counts are cached again
		{"/tags/ops", queryNames("PostsByTag(ops)")},
		{"/authors/mira", queryNames("PostsByAuthor(mira)")},
		{"/archive", nil},
		{"/tags/redis", nil},
		{"/authors/june", nil},
	})
}

// regionLog is an observer of the site's regions that keeps, for each
// operation, the fragments tmplcache says it was made for.
type regionLog struct {
	mu     sync.Mutex
	events []loggedEvent
}

type loggedEvent struct {
	op        observe.Op
	keys      []string
	results   []observe.Result
	fragments []tmplcache.Fragment
}

func (l *regionLog) Enabled(context.Context) bool { return true }

func (l *regionLog) Observe(ctx context.Context, e observe.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, loggedEvent{e.Op, slices.Clone(e.Keys), slices.Clone(e.Results), tmplcache.FragmentsFromContext(ctx)})
}

// during returns the events that happened while f ran.
func (l *regionLog) during(f func()) []loggedEvent {
	l.mu.Lock()
	n := len(l.events)
	l.mu.Unlock()
	f()
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events[n:])
}

// newObservedSite returns a site whose regions report to a regionLog.
func newObservedSite(t *testing.T) (*site, *regionLog) {
	t.Helper()
	log := &regionLog{}
	s, err := newSite(siteConfig{Observer: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, log
}

// reads returns the read operations among events whose keys include one of
// keys.
func reads(events []loggedEvent, keys []string) []loggedEvent {
	var out []loggedEvent
	for _, e := range events {
		switch e.op {
		case observe.OpGet, observe.OpGetMulti, observe.OpGetOrCreate, observe.OpGetOrCreateMulti:
			if slices.ContainsFunc(e.keys, func(k string) bool { return slices.Contains(keys, k) }) {
				out = append(out, e)
			}
		}
	}
	return out
}

// TestCollectionOneRegionRead checks that the cards of a page cost one
// region call together: the home page's {% cachedfor %} and the tag page's
// cachedEach read all their cards with one get_or_create_multi, cold or
// warm, and render only those that are missing or retired.
func TestCollectionOneRegionRead(t *testing.T) {
	t.Parallel()
	s, log := newObservedSite(t)

	// The home page's cards, by the keys KeyFor gives for the by= value.
	var cardKeys []string
	for id := 10; id >= 5; id-- {
		k, err := s.frags.KeyFor("home.html", "card", id)
		if err != nil {
			t.Fatal(err)
		}
		cardKeys = append(cardKeys, k)
	}
	results := func(e loggedEvent) map[observe.Result]int {
		m := map[observe.Result]int{}
		for _, r := range e.results {
			m[r]++
		}
		return m
	}
	check := func(what string, events []loggedEvent, want map[observe.Result]int) {
		t.Helper()
		rs := reads(events, cardKeys)
		if len(rs) != 1 || rs[0].op != observe.OpGetOrCreateMulti || !slices.Equal(rs[0].keys, cardKeys) {
			t.Fatalf("%s: the cards were read by %d region calls, want one get_or_create_multi of the 6 cards: %+v", what, len(rs), rs)
		}
		if got := results(rs[0]); !maps.Equal(got, want) {
			t.Errorf("%s: results %v, want %v", what, got, want)
		}
	}

	check("cold", log.during(func() { get(t, s, "/") }), map[observe.Result]int{observe.Created: 6})
	// Warm, the section holds the cards: no card is read at all.
	if rs := reads(log.during(func() { get(t, s, "/") }), cardKeys); len(rs) != 0 {
		t.Errorf("warm: the cards were read %d times inside the cached section", len(rs))
	}
	// An edit of post 10 retires its card and the section: one read again,
	// and one card rendered.
	edit(t, s, 10, "Warming caches early", "Text.", "ops")
	check("after an edit", log.during(func() { get(t, s, "/") }), map[observe.Result]int{observe.Hit: 5, observe.Created: 1})

	// The tag and author pages' cachedEach: one call for the cards, which
	// are the fragments tmplcache gives its context; and, cold, one read of
	// the versions of the posts' tags, which the list adds at once.
	htmlCards := func(path string, want map[observe.Result]int) {
		t.Helper()
		var calls []loggedEvent
		tagReads := 0
		for _, e := range log.during(func() { get(t, s, path) }) {
			switch {
			case e.op == observe.OpCreate:
			case slices.ContainsFunc(e.keys, func(k string) bool { return strings.HasPrefix(k, "tmpl:site:card:") }):
				calls = append(calls, e)
			case slices.ContainsFunc(e.keys, func(k string) bool { return strings.HasPrefix(k, "tmpl:tag:post:") }):
				tagReads++
			}
		}
		n := 0
		for _, c := range want {
			n += c
		}
		if len(calls) != 1 || calls[0].op != observe.OpGetOrCreateMulti || len(calls[0].keys) != n || len(calls[0].fragments) != n {
			t.Fatalf("GET %s: %d calls read cards, want one get_or_create_multi of %d cards: %+v", path, len(calls), n, calls)
		}
		for i, f := range calls[0].fragments {
			if f.Template != htmlSet || f.Name != "card" || calls[0].keys[i] != f.FullKey {
				t.Errorf("GET %s: card %d is fragment %s › %s of key %s, read as %s", path, i, f.Template, f.Name, f.FullKey, calls[0].keys[i])
			}
		}
		if got := results(calls[0]); !maps.Equal(got, want) {
			t.Errorf("GET %s: the cards' results %v, want %v", path, got, want)
		}
		if tagReads > 1 {
			t.Errorf("GET %s: the versions of the posts' tags were read by %d region calls, want at most 1", path, tagReads)
		}
	}
	htmlCards("/tags/caching", map[observe.Result]int{observe.Created: 5})                 // posts 7, 4, 3, 2, 1
	htmlCards("/authors/mira", map[observe.Result]int{observe.Hit: 2, observe.Created: 2}) // 10, 9 new; 4, 1 shared
}

// TestTagDependents checks the edit message's account of each kind of tag
// against the templates: with every page cached, retiring a tag renders
// again exactly the fragments tagKinds names for it.
func TestTagDependents(t *testing.T) {
	t.Parallel()
	s, log := newObservedSite(t)
	pages := []string{"/", "/posts/10", "/posts/3", "/archive", "/tags/ops", "/tags/caching", "/tags/redis", "/authors/mira", "/authors/june", "/stats"}
	for _, p := range pages {
		get(t, s, p)
	}
	for _, tag := range []string{postTag(10), tagListTag("ops"), authorTag("mira"), titlesTag, tagCountsTag} {
		events := log.during(func() {
			if err := s.frags.InvalidateTags(context.Background(), tag); err != nil {
				t.Fatal(err)
			}
			for _, p := range pages {
				if r := get(t, s, p); r.status != 200 {
					t.Fatalf("GET %s: status %d", p, r.status)
				}
			}
		})
		// The fragments whose key a creation wrote.
		got := map[string]bool{}
		for _, e := range events {
			if e.op != observe.OpCreate {
				continue
			}
			for _, f := range e.fragments {
				if slices.Contains(e.keys, s.frags.Key(f)) {
					got[s.frags.TemplateName(f.Template)+" › "+f.Name] = true
				}
			}
		}
		want := map[string]bool{}
		for _, d := range dependentsOf(tag) {
			want[d.Template+" › "+d.Name] = true
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("fragments rendered again after retiring %s (-tagKinds +rendered):\n%s", tag, diff)
		}
	}
	if dependentsOf("nosuch") != nil || dependentsOf("posts") != nil {
		t.Error("dependentsOf knows tags the site does not use")
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

// pyramidConfig is a Pyramid application's .ini file, as Python reads it:
// [DEFAULT] keys, a value continued on indented lines, %(here)s, keys
// repeated in other sections, and a second application section.
const pyramidConfig = `[DEFAULT]
debug = true

[app:main]
use = egg:cache_notes
pyramid.includes =
    pyramid_debugtoolbar
    pyramid_tm
cache.default.backend = dogpile.cache.dbm
cache.default.expiration_time = 120
cache.default.arguments.filename = %(here)s/notes.db
cache.local.backend = dogpile.cache.memcached
cache.local.arguments.url =
    127.0.0.1:11211
    127.0.0.1:11212

[app:admin]
use = egg:cache_notes
cache.default.backend = dogpile.cache.memory_pickle

[server:main]
use = egg:waitress#main
debug = false
`

func TestConfigPyramidFile(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "development.ini", pyramidConfig)
	settings, err := loadSettings(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"cache.default.backend":            "dogpile.cache.dbm",
		"cache.default.expiration_time":    "120",
		"cache.default.arguments.filename": filepath.Join(filepath.Dir(path), "notes.db"),
		"cache.local.backend":              "dogpile.cache.memcached",
		"cache.local.arguments.url":        "\n127.0.0.1:11211\n127.0.0.1:11212",
	}
	if diff := cmp.Diff(want, settings); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}

	// The default region from the file; the other section by name.
	delete(settings, "cache.local.backend")
	delete(settings, "cache.local.arguments.url")
	s := newTestSite(t, 0, settings)
	if r := get(t, s, "/"); r.status != 200 {
		t.Errorf("GET /: status %d", r.status)
	}
	if _, err := os.Stat(want["cache.default.arguments.filename"].(string)); err != nil {
		t.Errorf("the dbm region's file: %v", err)
	}
	admin, err := loadSettings(path + "#admin")
	if err != nil {
		t.Fatal(err)
	}
	if got := admin["cache.default.backend"]; got != "dogpile.cache.memory_pickle" || len(admin) != 1 {
		t.Errorf("[app:admin] settings: %v", admin)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ text, want string }{
		{"[app:main]\ncache.a = 1\ncache.a = 2\n", `key "cache.a" given twice`},
		{"cache.default.backend = dogpile.cache.memory\n", "no section [app:main]"},
		{"[app:main]\nother = 1\n", "has no cache.<region>.backend"},
		{"[app:main]\ncache.default.arguments.filename = %(nowhere)s/x\n", "refers to no key"},
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

// TestDebugPanelGuard: the panel and the Server-Timing header are for the
// browsers of this machine only; a request a proxy on this machine
// forwarded (forwarding headers, forged or not) is a stranger's.
func TestDebugPanelGuard(t *testing.T) {
	s := newTestSite(t, 0, nil)
	for _, tc := range []struct {
		name   string
		remote string
		header [2]string
		admit  bool
	}{
		{"this machine", "127.0.0.1:40000", [2]string{}, true},
		{"this machine, IPv6", "[::1]:40000", [2]string{}, true},
		{"another machine", "203.0.113.9:40000", [2]string{}, false},
		{"forwarded by a local proxy", "127.0.0.1:40000", [2]string{"X-Forwarded-For", "203.0.113.9"}, false},
		{"forged loopback X-Forwarded-For", "127.0.0.1:40000", [2]string{"X-Forwarded-For", "127.0.0.1"}, false},
		{"Forwarded", "127.0.0.1:40000", [2]string{"Forwarded", "for=203.0.113.9"}, false},
		{"X-Real-IP", "127.0.0.1:40000", [2]string{"X-Real-IP", "203.0.113.9"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/_dogpile/", "/"} {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.RemoteAddr = tc.remote
				if tc.header[0] != "" {
					req.Header.Set(tc.header[0], tc.header[1])
				}
				r := do(t, s, req)
				if path == "/_dogpile/" {
					if want := map[bool]int{true: http.StatusOK, false: http.StatusForbidden}[tc.admit]; r.status != want {
						t.Errorf("%s: status %d, want %d", path, r.status, want)
					}
					continue
				}
				if r.status != http.StatusOK {
					t.Fatalf("%s: status %d", path, r.status)
				}
				if got := r.header.Get("Server-Timing") != ""; got != tc.admit {
					t.Errorf("%s: Server-Timing sent %v, want %v", path, got, tc.admit)
				}
			}
		})
	}
}
