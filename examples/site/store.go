package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// errNotFound is returned by the store for a post or author it does not
// hold.
var errNotFound = errors.New("not found")

// Post is a blog post. Values are copies: changing one does not change the
// store, and the memory regions keep them as they are, so code that gets a
// Post from a cache must not modify it.
type Post struct {
	ID        int
	Title     string
	Author    string // the author's slug
	Tags      []string
	Body      string // paragraphs separated by blank lines
	Published time.Time
	Updated   time.Time
	Version   int // 1 when published, one more at every edit
}

// URL is the post's page.
func (p Post) URL() string { return fmt.Sprintf("/posts/%d", p.ID) }

// EditURL is the post's edit form.
func (p Post) EditURL() string { return p.URL() + "/edit" }

// Paragraphs splits the body at blank lines.
func (p Post) Paragraphs() []string {
	var out []string
	for para := range strings.SplitSeq(strings.ReplaceAll(p.Body, "\r\n", "\n"), "\n\n") {
		if para = strings.TrimSpace(para); para != "" {
			out = append(out, para)
		}
	}
	return out
}

// Excerpt is the start of the first paragraph, cut at a word boundary.
func (p Post) Excerpt() string {
	paras := p.Paragraphs()
	if len(paras) == 0 {
		return ""
	}
	const limit = 180
	s := paras[0]
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	cut := []rune(s)[:limit]
	if i := strings.LastIndexByte(string(cut), ' '); i > 0 {
		return string(cut)[:i] + "…"
	}
	return string(cut) + "…"
}

// Edited reports whether the post was changed after it was published.
func (p Post) Edited() bool { return p.Version > 1 }

func (p Post) clone() Post {
	p.Tags = slices.Clone(p.Tags)
	return p
}

// Author writes posts.
type Author struct {
	Slug string
	Name string
	Bio  string
}

// URL is the author's page.
func (a Author) URL() string { return "/authors/" + a.Slug }

// TagCount is a tag with the number of posts carrying it, for the tag cloud.
type TagCount struct {
	Tag   string
	Count int
	Size  int // 1 (rare) to 4 (frequent), for the cloud's font size
}

// PostEdit is what the edit form changes.
type PostEdit struct {
	Title string
	Body  string
	Tags  []string
}

// queryRecord is one query the store ran.
type queryRecord struct {
	Name string    // the query and its argument: "CommentCount(3)"
	At   time.Time // when it started
	Path string    // the path of the request that caused it; "" outside requests
}

// slowStore is the blog's data layer: an in-memory database in which every
// query takes delay, as a query over the network would. It counts the
// queries it runs, in all and by name, so the site's /stats page and the
// tests can see what the caches saved. It is safe for concurrent use;
// queries run concurrently (the delay is not spent under a lock).
type slowStore struct {
	delay time.Duration

	mu       sync.RWMutex
	posts    map[int]Post
	authors  map[string]Author
	comments map[int]int // number of comments per post

	total  atomic.Int64
	logMu  sync.Mutex
	counts map[string]int
	recent []queryRecord // the last maxQueryLog queries, oldest first
}

// maxQueryLog is how many queries slowStore remembers for /stats.
const maxQueryLog = 20

// newSlowStore returns a store holding the demo blog whose queries take
// delay.
func newSlowStore(delay time.Duration) *slowStore {
	s := &slowStore{
		delay:    delay,
		posts:    map[int]Post{},
		authors:  map[string]Author{},
		comments: map[int]int{},
		counts:   map[string]int{},
	}
	for _, a := range seedAuthors {
		s.authors[a.Slug] = a
	}
	for i, p := range seedPosts {
		p.ID = i + 1
		p.Version = 1
		p.Updated = p.Published
		s.posts[p.ID] = p
		s.comments[p.ID] = (p.ID * 7) % 11
	}
	return s
}

// query accounts for one query and waits for it to "run". The request whose
// context carries requestStats (see stats.go) is charged with it.
func (s *slowStore) query(ctx context.Context, format string, args ...any) error {
	name := fmt.Sprintf(format, args...)
	s.total.Add(1)
	rec := queryRecord{Name: name, At: time.Now()}
	if rs := requestStatsFrom(ctx); rs != nil {
		rs.queries.Add(1)
		rec.Path = rs.path
	}
	s.logMu.Lock()
	s.counts[name]++
	s.recent = append(s.recent, rec)
	if len(s.recent) > maxQueryLog {
		s.recent = slices.Delete(s.recent, 0, len(s.recent)-maxQueryLog)
	}
	s.logMu.Unlock()

	if s.delay <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Total is the number of queries run so far.
func (s *slowStore) Total() int64 { return s.total.Load() }

// Counts returns how many times each query ran, by name ("Post(3)").
func (s *slowStore) Counts() map[string]int {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Recent returns the last queries, newest first.
func (s *slowStore) Recent() []queryRecord {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	out := slices.Clone(s.recent)
	slices.Reverse(out)
	return out
}

// ResetCounters forgets the queries counted so far.
func (s *slowStore) ResetCounters() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.total.Store(0)
	s.counts = map[string]int{}
	s.recent = nil
}

// sortedPosts returns copies of the posts, newest first, that keep says to
// keep. The caller holds s.mu.
func (s *slowStore) sortedPosts(keep func(Post) bool) []Post {
	var out []Post
	for _, p := range s.posts {
		if keep == nil || keep(p) {
			out = append(out, p.clone())
		}
	}
	slices.SortFunc(out, func(a, b Post) int {
		return cmp.Or(b.Published.Compare(a.Published), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// RecentPosts returns the n newest posts.
func (s *slowStore) RecentPosts(ctx context.Context, n int) ([]Post, error) {
	if err := s.query(ctx, "RecentPosts(%d)", n); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	posts := s.sortedPosts(nil)
	return posts[:min(n, len(posts))], nil
}

// AllPosts returns every post, newest first.
func (s *slowStore) AllPosts(ctx context.Context) ([]Post, error) {
	if err := s.query(ctx, "AllPosts()"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sortedPosts(nil), nil
}

// Post returns the post id, or errNotFound.
func (s *slowStore) Post(ctx context.Context, id int) (Post, error) {
	if err := s.query(ctx, "Post(%d)", id); err != nil {
		return Post{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.posts[id]
	if !ok {
		return Post{}, fmt.Errorf("post %d: %w", id, errNotFound)
	}
	return p.clone(), nil
}

// PostsByTag returns the posts tagged tag, newest first.
func (s *slowStore) PostsByTag(ctx context.Context, tag string) ([]Post, error) {
	if err := s.query(ctx, "PostsByTag(%s)", tag); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sortedPosts(func(p Post) bool { return slices.Contains(p.Tags, tag) }), nil
}

// PostsByAuthor returns the posts of the author slug, newest first.
func (s *slowStore) PostsByAuthor(ctx context.Context, slug string) ([]Post, error) {
	if err := s.query(ctx, "PostsByAuthor(%s)", slug); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sortedPosts(func(p Post) bool { return p.Author == slug }), nil
}

// Author returns the author slug, or errNotFound.
func (s *slowStore) Author(ctx context.Context, slug string) (Author, error) {
	if err := s.query(ctx, "Author(%s)", slug); err != nil {
		return Author{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.authors[slug]
	if !ok {
		return Author{}, fmt.Errorf("author %q: %w", slug, errNotFound)
	}
	return a, nil
}

// TagCounts returns every tag with its number of posts, by name.
func (s *slowStore) TagCounts(ctx context.Context) ([]TagCount, error) {
	if err := s.query(ctx, "TagCounts()"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	counts := map[string]int{}
	for _, p := range s.posts {
		for _, t := range p.Tags {
			counts[t]++
		}
	}
	s.mu.RUnlock()
	most := 0
	for _, n := range counts {
		most = max(most, n)
	}
	out := make([]TagCount, 0, len(counts))
	for t, n := range counts {
		out = append(out, TagCount{Tag: t, Count: n, Size: 1 + 3*(n-1)/max(most-1, 1)})
	}
	slices.SortFunc(out, func(a, b TagCount) int { return strings.Compare(a.Tag, b.Tag) })
	return out, nil
}

// CommentCount returns the number of comments on post id.
func (s *slowStore) CommentCount(ctx context.Context, id int) (int, error) {
	if err := s.query(ctx, "CommentCount(%d)", id); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.comments[id], nil
}

// UpdatePost applies e to post id and returns the post before and after.
func (s *slowStore) UpdatePost(ctx context.Context, id int, e PostEdit) (before, after Post, err error) {
	if err := s.query(ctx, "UpdatePost(%d)", id); err != nil {
		return Post{}, Post{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.posts[id]
	if !ok {
		return Post{}, Post{}, fmt.Errorf("post %d: %w", id, errNotFound)
	}
	before = p.clone()
	p.Title, p.Body, p.Tags = e.Title, e.Body, slices.Clone(e.Tags)
	p.Version++
	p.Updated = time.Now().UTC().Truncate(time.Second)
	s.posts[id] = p
	return before, p.clone(), nil
}

var seedAuthors = []Author{
	{Slug: "mira", Name: "Mira Okafor", Bio: "Runs the platform team; has been paged by a cache stampede more than once."},
	{Slug: "tomas", Name: "Tomás Lindqvist", Bio: "Writes templates for a living and benchmarks them for fun."},
	{Slug: "june", Name: "June Park", Bio: "Operates Redis and Memcached fleets; collects TTL horror stories."},
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t.Add(9 * time.Hour)
}

var seedPosts = []Post{
	{Title: "What a cache stampede looks like", Author: "mira", Tags: []string{"caching", "performance"}, Published: day("2025-01-14"),
		Body: "At 09:00 the homepage's cached fragment expired, and two hundred requests asked the database for the same list of posts at once. The database answered all of them, slowly, and the pages timed out while it did.\n\nThe dogpile lock lets one of those requests regenerate the value while the others are served the previous one. Nobody waits, and the database sees one query."},
	{Title: "Russian-doll caching, step by step", Author: "tomas", Tags: []string{"templates", "caching"}, Published: day("2025-02-03"),
		Body: "Cache each card, then cache the list that contains them. When one post changes, its card is rendered again and the list is rebuilt from the other cards, which are still cached.\n\nThe outer fragment is cheap to rebuild because its inner fragments are hits. The trick is to expire the outer one whenever an inner one changes."},
	{Title: "Choosing expiration times", Author: "june", Tags: []string{"caching", "ops"}, Published: day("2025-02-21"),
		Body: "An expiration time is a promise about staleness, not a cleanup schedule. Pick it from how long a reader may see old data, then let the server keep entries longer so expired values can still be served while one caller regenerates them.\n\nEntries that nobody reads again should still leave the server eventually: give the backend a time to live."},
	{Title: "Soft and hard invalidation", Author: "mira", Tags: []string{"caching"}, Published: day("2025-03-10"),
		Body: "Hard invalidation makes every cached value absent: the next readers wait for a new one. Soft invalidation makes them expired: readers keep getting the old values while one of them regenerates each.\n\nSoft is what you want after a deploy; hard is what you want after fixing a bug in the data."},
	{Title: "Redis or Memcached?", Author: "june", Tags: []string{"redis", "memcached", "ops"}, Published: day("2025-03-29"),
		Body: "Both answer a GET in a network round trip, both shard. Redis gives you a distributed lock that holds across processes, persistence if you want it, and richer commands; Memcached gives you a simple, very fast slab allocator.\n\nFor fragment caching either works: the region decides expiry, the backend only keeps bytes."},
	{Title: "Fragment keys that never collide", Author: "tomas", Tags: []string{"templates", "go"}, Published: day("2025-04-16"),
		Body: "Joining key parts with a colon looks harmless until [\"a:\", \"b\"] and [\"a\", \":b\"] produce the same key. Length-prefix every part, then hash.\n\nA readable prefix in front of the hash keeps keys debuggable in redis-cli."},
	{Title: "Template digests retire stale fragments", Author: "tomas", Tags: []string{"templates", "caching"}, Published: day("2025-05-05"),
		Body: "Put a digest of the fragment's source in its key and a deploy that edits the template stops using the old renderings at once, without a flush.\n\nEdits elsewhere in the file keep the fragment's key, so its cached renderings stay warm."},
	{Title: "Sharing a cache between Go and Python", Author: "june", Tags: []string{"python", "go", "redis"}, Published: day("2025-06-02"),
		Body: "dogpile.cache stores a small JSON header, a bar, then the payload. Configure the Python region with a JSON serializer and a Go process reads the same entries.\n\nKeys of cached functions follow the same rule in both languages: module, function name, arguments."},
	{Title: "Measuring hit rates without lying to yourself", Author: "mira", Tags: []string{"performance", "ops"}, Published: day("2025-06-30"),
		Body: "A 99% hit rate can still mean a slow site if the 1% are the expensive pages. Count creations per key and time them.\n\nAnd watch stale serves: they are hits for the reader, but they tell you regeneration is lagging."},
	{Title: "Warming caches at deploy time", Author: "mira", Tags: []string{"ops", "caching"}, Published: day("2025-07-22"),
		Body: "A cold cache after a deploy is a stampede waiting for traffic. Render the most visited pages once from the deploy script, before the new processes take requests.\n\nOr keep the cache outside the processes, in Redis, so a deploy does not empty it at all."},
}
