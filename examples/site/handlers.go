package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/htmltmpl"
	"github.com/dogpilego/dogpile/tmplcache"
)

// routes registers the pages:
//
//	GET  /                  pongo2: the latest posts (cached section around a {% cachedfor %} of cards)
//	GET  /posts/{id}        pongo2: a post (cached article; the post from a cached function)
//	GET  /posts/{id}/edit   pongo2: the edit form (not cached)
//	POST /posts/{id}/edit   saves, retires the tags the edit affects, redirects to the post
//	GET  /archive           html/template: every title by month (cached)
//	GET  /tags/{tag}        html/template: a tag's posts (cached section around a cachedEach of cards)
//	GET  /authors/{slug}    html/template: an author's posts (likewise)
//	GET  /stats             html/template: queries, request timings, the regions (not cached)
//	POST /stats/stampede    50 concurrent requests for / after a hard or soft invalidation
//	POST /stats/invalidate  invalidates every region
//	POST /stats/reset       forgets the counters
//	GET  /static/           the stylesheet
func (s *site) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /posts/{id}", s.showPost)
	mux.HandleFunc("GET /posts/{id}/edit", s.editForm)
	mux.HandleFunc("POST /posts/{id}/edit", s.savePost)
	mux.HandleFunc("GET /archive", s.archive)
	mux.HandleFunc("GET /tags/{tag}", s.tagPage)
	mux.HandleFunc("GET /authors/{slug}", s.authorPage)
	mux.HandleFunc("GET /stats", s.stats)
	mux.HandleFunc("POST /stats/stampede", s.runStampede)
	mux.HandleFunc("POST /stats/invalidate", s.invalidateAll)
	mux.HandleFunc("POST /stats/reset", s.resetStats)
	static, _ := fs.Sub(files, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { s.notFound(w, r, "There is no page here.") })
}

func (s *site) home(w http.ResponseWriter, r *http.Request) {
	s.renderPongo(w, r, http.StatusOK, "home.html", pongo2.Context{"title": "Latest posts"})
}

// lookupPost returns the post named by the path's {id}, through the cached
// function; it answers 404 itself and returns false when there is none.
func (s *site) lookupPost(w http.ResponseWriter, r *http.Request) (Post, bool) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id <= 0 {
		s.notFound(w, r, "There is no such post.")
		return Post{}, false
	}
	p, err := s.post.Call(r.Context(), id)
	if s.failed(w, r, err, "There is no such post.") {
		return Post{}, false
	}
	return p, true
}

func (s *site) showPost(w http.ResponseWriter, r *http.Request) {
	p, ok := s.lookupPost(w, r)
	if !ok {
		return
	}
	s.renderPongo(w, r, http.StatusOK, "post.html", pongo2.Context{"title": p.Title, "post": p})
}

// editForm shows the form. It reads the post from the store, not from the
// cache: an editor should see the current text.
func (s *site) editForm(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		s.notFound(w, r, "There is no such post.")
		return
	}
	p, err := s.store.Post(r.Context(), id)
	if s.failed(w, r, err, "There is no such post.") {
		return
	}
	s.renderEdit(w, r, http.StatusOK, p, editValues{Title: p.Title, Body: p.Body, Tags: strings.Join(p.Tags, ", ")}, nil)
}

// editValues are the form's fields as typed.
type editValues struct {
	Title, Body, Tags string
}

func (s *site) renderEdit(w http.ResponseWriter, r *http.Request, status int, p Post, v editValues, problems []string) {
	s.renderPongo(w, r, status, "edit.html", pongo2.Context{
		"title": "Edit “" + p.Title + "”", "post": p, "form": v, "problems": problems,
	})
}

// maxFormBytes bounds the edit form's body.
const maxFormBytes = 64 << 10

// savePost updates the post, retires the tags the edit affects (see
// retiredBy), so that exactly the fragments that show what changed are
// rendered again, and redirects to the post with a message listing the tags
// and the fragments that depend on them.
func (s *site) savePost(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		s.notFound(w, r, "There is no such post.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}
	v := editValues{Title: r.PostFormValue("title"), Body: r.PostFormValue("body"), Tags: r.PostFormValue("tags")}
	edit, problems := v.validate()
	if len(problems) > 0 {
		p, err := s.store.Post(r.Context(), id)
		if err != nil {
			s.notFound(w, r, "There is no such post.")
			return
		}
		s.renderEdit(w, r, http.StatusUnprocessableEntity, p, v, problems)
		return
	}
	before, after, err := s.store.UpdatePost(r.Context(), id, edit)
	if s.failed(w, r, err, "There is no such post.") {
		return
	}
	tags, done, err := s.invalidatePost(r.Context(), before, after)
	if err != nil {
		s.fail(w, r, fmt.Errorf("invalidating post %d: %w", id, err))
		return
	}
	s.flashes.set(w, &flash{
		Text:  fmt.Sprintf("Saved “%s”. These tags were retired: the fragments that depend on one are rendered again when next read, every other fragment is still cached.", after.Title),
		Tags:  tags,
		Items: done,
	})
	http.Redirect(w, r, after.URL(), http.StatusSeeOther)
}

// tagPattern is what a tag may look like.
var tagPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// validate checks the form and returns the edit it asks for, or what is
// wrong with it.
func (v editValues) validate() (PostEdit, []string) {
	var e PostEdit
	var problems []string
	e.Title = strings.TrimSpace(v.Title)
	e.Body = strings.TrimSpace(strings.ReplaceAll(v.Body, "\r\n", "\n"))
	switch n := utf8.RuneCountInString(e.Title); {
	case n == 0:
		problems = append(problems, "The title is empty.")
	case n > 120:
		problems = append(problems, "The title is longer than 120 characters.")
	}
	if e.Body == "" {
		problems = append(problems, "The text is empty.")
	}
	for t := range strings.SplitSeq(v.Tags, ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		switch {
		case t == "" || slices.Contains(e.Tags, t):
		case !tagPattern.MatchString(t):
			problems = append(problems, fmt.Sprintf("The tag %q is not lower-case letters, digits and dashes.", t))
		default:
			e.Tags = append(e.Tags, t)
		}
	}
	if len(e.Tags) > 6 {
		problems = append(problems, "A post has at most 6 tags.")
	}
	return e, problems
}

func (s *site) archive(w http.ResponseWriter, r *http.Request) {
	s.renderHTML(w, r, http.StatusOK, "archive", htmlPage{Title: "Archive"})
}

// tagPage lists a tag's posts. The tags are known from the cached tag
// counts, so an unknown tag is a 404 and never makes a cache entry.
func (s *site) tagPage(w http.ResponseWriter, r *http.Request) {
	tag := r.PathValue("tag")
	counts, err := s.tagCounts.Call(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !slices.ContainsFunc(counts, func(c TagCount) bool { return c.Tag == tag }) {
		s.notFound(w, r, "No post has this tag.")
		return
	}
	s.renderHTML(w, r, http.StatusOK, "tag", htmlPage{Title: "#" + tag, Tag: tag})
}

func (s *site) authorPage(w http.ResponseWriter, r *http.Request) {
	a, err := s.author.Call(r.Context(), r.PathValue("slug"))
	if s.failed(w, r, err, "There is no such author.") {
		return
	}
	s.renderHTML(w, r, http.StatusOK, "author", htmlPage{Title: a.Name, Author: a})
}

func (s *site) stats(w http.ResponseWriter, r *http.Request) {
	s.renderHTML(w, r, http.StatusOK, "stats", htmlPage{Title: "Stats", Stats: s.statsView()})
}

// stampedeSize is how many concurrent requests /stats/stampede sends.
const stampedeSize = 50

func (s *site) runStampede(w http.ResponseWriter, r *http.Request) {
	hard := r.PostFormValue("mode") != "soft"
	res, err := s.stampede(r.Context(), s.pages, hard, stampedeSize)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flashes.set(w, &flash{Text: res.String()})
	http.Redirect(w, r, "/stats", http.StatusSeeOther)
}

func (s *site) invalidateAll(w http.ResponseWriter, r *http.Request) {
	if err := s.frags.InvalidateAll(r.Context(), true); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flashes.set(w, &flash{Text: "Every region was invalidated (hard): the next request of each page renders it again."})
	http.Redirect(w, r, "/stats", http.StatusSeeOther)
}

func (s *site) resetStats(w http.ResponseWriter, r *http.Request) {
	s.store.ResetCounters()
	s.requests.reset()
	http.Redirect(w, r, "/stats", http.StatusSeeOther)
}

func (s *site) notFound(w http.ResponseWriter, r *http.Request, msg string) {
	s.renderPongo(w, r, http.StatusNotFound, "error.html", pongo2.Context{"title": "Not found", "message": msg})
}

// htmlPage is the data of the html/template pages. It embeds htmltmpl.Data,
// which carries the context: the request's in a page, the rendering's in a
// fragment (htmltmpl gives each fragment a copy of the page with its own
// context). The methods that query use it, so the queries of a fragment
// run with the rendering's context, and are charged to the request that
// rendered it.
type htmlPage struct {
	htmltmpl.Data
	site   *site
	Title  string
	Flash  *flash
	Tag    string     // the tag page's tag
	Author Author     // the author page's author
	Stats  *statsView // the stats page's figures
}

// RecentPosts returns the n newest posts (a query).
func (p htmlPage) RecentPosts(n int) ([]Post, error) { return p.site.store.RecentPosts(p.Context(), n) }

// TagCloud returns the tags (from the cached function), and adds the
// tag-counts tag to the fragment being rendered (see site.tagCloud).
func (p htmlPage) TagCloud() ([]TagCount, error) { return p.site.tagCloud(p.Context()) }

// TaggedPosts returns the posts of the page's tag (a query), and adds
// their tags to the list being rendered (see addPostTags).
func (p htmlPage) TaggedPosts() ([]Post, error) {
	posts, err := p.site.store.PostsByTag(p.Context(), p.Tag)
	addPostTags(p.Context(), posts)
	return posts, err
}

// AuthorPosts returns the posts of the page's author (a query), and adds
// their tags to the list being rendered (see addPostTags).
func (p htmlPage) AuthorPosts() ([]Post, error) {
	posts, err := p.site.store.PostsByAuthor(p.Context(), p.Author.Slug)
	addPostTags(p.Context(), posts)
	return posts, err
}

// addPostTags adds the tags of posts to the fragment being rendered in
// ctx, a list of them. A list depends on its posts through its cards anyway
// (each card adds its post's tag); adding them all at once reads the
// versions this process lacks in one round trip, where the cards would
// read them one by one.
func addPostTags(ctx context.Context, posts []Post) {
	tags := make([]string, len(posts))
	for i, post := range posts {
		tags[i] = postTag(post.ID)
	}
	tmplcache.AddTags(ctx, tags...)
}

// month is a month of the archive.
type month struct {
	Name  string
	Posts []Post
}

// Months returns every post, by month, newest first (a query).
func (p htmlPage) Months() ([]month, error) {
	posts, err := p.site.store.AllPosts(p.Context())
	if err != nil {
		return nil, err
	}
	var out []month
	for _, post := range posts {
		name := post.Published.Format("January 2006")
		if len(out) == 0 || out[len(out)-1].Name != name {
			out = append(out, month{Name: name})
		}
		out[len(out)-1].Posts = append(out[len(out)-1].Posts, post)
	}
	return out, nil
}

// RequestSummary is the footer's line: the queries and time so far.
func (p htmlPage) RequestSummary() string { return requestStatsFrom(p.Context()).summary() }

// failed answers an error from the store: 404 with missing for
// errNotFound, 500 for anything else. It reports whether it answered.
func (s *site) failed(w http.ResponseWriter, r *http.Request, err error, missing string) bool {
	switch {
	case errors.Is(err, errNotFound):
		s.notFound(w, r, missing)
	case err != nil:
		s.fail(w, r, err)
	default:
		return false
	}
	return true
}
