package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The dependency tags of the site's fragments. A fragment depends on the
// tags it declares, on those the Go code it calls adds while it renders
// (tmplcache.AddTags) and on every tag of the fragments rendered inside it,
// so a list that holds cached cards depends on the tags of its cards
// without saying so. An edit retires tags (tmplcache.Cache.InvalidateTags),
// never keys: whatever depends on them is rendered again on its next read.
//
//	post:<id>      what shows the post: its article (post.html), its card on
//	               the home page ({% cachedfor %} in home.html) and on the tag
//	               and author pages ({{cachedEach "card"}}); the lists around
//	               the cards ("latest", "tag-posts", "author-posts") get it
//	               from them, and the last two also add it for the posts they
//	               list (addPostTags)
//	tag:<tag>      the list of the tag's posts ("tag-posts")
//	author:<slug>  the list of the author's posts ("author-posts")
//	titles         the lists of titles: the archive and the recent-posts
//	               sidebars
//	tag-counts     the tag clouds, added by the Go code that reads the counts
//
// The templates spell the tags out ("post:"|add:post.ID in pongo2, printf
// "post:%d" in html/template); these functions are the Go side's spelling.
//
// A save whose InvalidateTags lands while a fragment renders retires it,
// whenever the fragment read its data or named its tags (tmplcache records
// no version newer than the rendering's start): the home page's cards read
// their posts inside the "latest" block, the tag and author lists inside
// theirs. The article is the exception: the handler reads the post before
// the template runs, so a save between that read and the rendering leaves
// the old article until it expires (see tmplcache's Limits).
const (
	titlesTag    = "titles"
	tagCountsTag = "tag-counts"
)

func postTag(id int) string        { return "post:" + strconv.Itoa(id) }
func tagListTag(tag string) string { return "tag:" + tag }
func authorTag(slug string) string { return "author:" + slug }

// retiredBy returns the tags an edit of a post from before to after
// retires, in the order the edit's message lists them:
//
//   - the post's own, always: its article and cards show it;
//   - the lists it is in or was in: its author's and those of its tags, old
//     and new (a list of a tag it gained does not hold its card yet);
//   - titles when the title changed;
//   - tag-counts when the set of its tags changed.
func retiredBy(before, after Post) []string {
	tags := []string{postTag(after.ID), authorTag(after.Author)} // the form does not change the author
	for _, t := range union(before.Tags, after.Tags) {
		tags = append(tags, tagListTag(t))
	}
	if before.Title != after.Title {
		tags = append(tags, titlesTag)
	}
	if !sameTags(before.Tags, after.Tags) {
		tags = append(tags, tagCountsTag)
	}
	return tags
}

// union returns the strings of a and b, sorted, each once.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// sameTags reports whether a and b hold the same tags, in any order.
func sameTags(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// dependent is a fragment that depends on a kind of tag, for the edit's
// message: tmplcache retires fragments by their tags' versions without
// knowing which entries depend on a tag, so the site says which fragments
// of its templates do.
type dependent struct {
	Engine   string // "pongo2" or "html/template"
	Template string // the template (pongo2) or template set (html/template), as KeyFor takes it
	Name     string // the fragment's name, or "#n" for a nameless block
	How      string // how it depends on the tag
}

// String describes d for people: "pongo2 post.html › article (declares it)".
func (d dependent) String() string {
	return fmt.Sprintf("%s %s › %s (%s)", d.Engine, d.Template, d.Name, d.How)
}

// tagKinds lists, for each kind of tag, the fragments that depend on it.
// TestTagDependents renders every page, retires each kind of tag and checks
// that exactly these fragments are rendered again.
var tagKinds = []struct {
	prefix     string // the tag, or the start of the tags of its kind
	dependents []dependent
}{
	{"post:", []dependent{
		{"pongo2", "post.html", "article", "declares it"},
		{"pongo2", "home.html", "card", "declares it, for each item of {% cachedfor %}"},
		{"html/template", htmlSet, "card", "adds it with addtags, for each item of cachedEach"},
		{"pongo2", "home.html", "latest", "holds the post's card, which brings it"},
		{"html/template", htmlSet, "tag-posts", "lists the post: .TaggedPosts adds it, and its card brings it"},
		{"html/template", htmlSet, "author-posts", "lists the post: .AuthorPosts adds it, and its card brings it"},
	}},
	{"tag:", []dependent{{"html/template", htmlSet, "tag-posts", "declares it"}}},
	{"author:", []dependent{{"html/template", htmlSet, "author-posts", "declares it"}}},
	{titlesTag, []dependent{
		{"pongo2", "base.html", "recent", "declares it"},
		{"html/template", htmlSet, "sidebar-recent", "declares it"},
		{"html/template", htmlSet, "archive-list", "declares it"},
	}},
	{tagCountsTag, []dependent{
		{"pongo2", "base.html", "#2", "tag_cloud() adds it"},
		{"html/template", htmlSet, "sidebar-tags", ".TagCloud adds it"},
	}},
}

// dependentsOf returns the fragments that depend on tag.
func dependentsOf(tag string) []dependent {
	for _, k := range tagKinds {
		if tag == k.prefix || strings.HasSuffix(k.prefix, ":") && strings.HasPrefix(tag, k.prefix) {
			return k.dependents
		}
	}
	return nil
}

// retiredTag is a tag an edit retired and the fragments that depend on it,
// for the edit's message.
type retiredTag struct {
	Tag       string
	Fragments []string
}

// invalidatePost updates the cached functions that hold the post, then
// retires the tags an edit from before to after affects. It returns the
// tags with the fragments that depend on them, and a line per function
// cache key it touched, for the edit's message.
//
// The function cache is updated first: a fragment rendered after the tags
// are retired reads the new post from it.
func (s *site) invalidatePost(ctx context.Context, before, after Post) ([]retiredTag, []string, error) {
	var done []string
	// The post is known, so store it rather than delete it, and spare the
	// next reader the query.
	if err := s.post.Set(ctx, after, after.ID); err != nil {
		return nil, done, err
	}
	key, err := s.post.Key(after.ID)
	if err != nil {
		return nil, done, err
	}
	done = append(done, "function cache — set "+key)
	if !sameTags(before.Tags, after.Tags) {
		if err := s.tagCounts.Invalidate(ctx); err != nil {
			return nil, done, err
		}
		if key, err = s.tagCounts.Key(); err != nil {
			return nil, done, err
		}
		done = append(done, "function cache — deleted "+key)
	}

	tags := retiredBy(before, after)
	if err := s.frags.InvalidateTags(ctx, tags...); err != nil {
		return nil, done, err
	}
	retired := make([]retiredTag, len(tags))
	for i, tag := range tags {
		retired[i].Tag = tag
		for _, d := range dependentsOf(tag) {
			retired[i].Fragments = append(retired[i].Fragments, d.String())
		}
	}
	return retired, done, nil
}
