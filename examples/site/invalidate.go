package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// The fragments of the site, by the names KeyFor and Invalidate know them:
// pongo2 fragments by template file and {% cached %} name, html/template
// fragments by the set's name (htmlSet) and the fragment's template name.
// Keep them in step with the templates: newSite checks that each is
// declared, so a renamed fragment fails at start-up rather than leaving
// stale pages after an edit.
var (
	// pongo2 (templates/pongo2)
	pgArticle = fragmentRef{"pongo2", "post.html", "article"} // a post's page, vary post ID
	pgCard    = fragmentRef{"pongo2", "card.html", "card"}    // a card on the home page, vary post ID
	pgLatest  = fragmentRef{"pongo2", "home.html", "latest"}  // the home page's cards (holds pgCard)
	pgRecent  = fragmentRef{"pongo2", "base.html", "recent"}  // sidebar: recent titles, region "local"
	pgTags    = fragmentRef{"pongo2", "base.html", "tags"}    // sidebar: tag cloud, region "local"
	htCard    = fragmentRef{"html/template", htmlSet, "card"} // a card on tag and author pages, vary post ID
	htArchive = fragmentRef{"html/template", htmlSet, "archive-list"}
	htTag     = fragmentRef{"html/template", htmlSet, "tag-posts"}    // vary tag (holds htCard)
	htAuthor  = fragmentRef{"html/template", htmlSet, "author-posts"} // vary author slug (holds htCard)
	htRecent  = fragmentRef{"html/template", htmlSet, "sidebar-recent"}
	htTags    = fragmentRef{"html/template", htmlSet, "sidebar-tags"}

	allFragments = []fragmentRef{pgArticle, pgCard, pgLatest, pgRecent, pgTags,
		htCard, htArchive, htTag, htAuthor, htRecent, htTags}
)

// fragmentRef names a cached fragment of a template.
type fragmentRef struct {
	Engine   string // "pongo2" or "html/template", for people
	Template string // the template (pongo2) or template set (html/template)
	Name     string // the fragment's name
}

// fragment is one rendering of a fragment: a fragmentRef and the values it
// varies on.
type fragment struct {
	fragmentRef
	Vary []any
}

func (r fragmentRef) with(vary ...any) fragment { return fragment{r, vary} }

// String describes f for people: "pongo2 post.html › article [3]".
func (f fragment) String() string {
	s := fmt.Sprintf("%s %s › %s", f.Engine, f.Template, f.Name)
	if len(f.Vary) > 0 {
		s += fmt.Sprint(f.Vary)
	}
	return s
}

// affectedBy returns the fragments that show something an edit of a post
// from before to after changed: exactly those, so an edit leaves the rest
// of the cache warm.
//
//   - the post's own renderings: its article and its cards, in both engines;
//   - the fragments that contain its cards (Russian-doll caching): the home
//     page's list, its author's page and the pages of its tags, old and
//     new. Rebuilding them is cheap, since the other cards in them are
//     still cached;
//   - the archive and the recent-posts sidebars when the title changed;
//   - the tag clouds when the tags changed.
func affectedBy(before, after Post) []fragment {
	id := after.ID
	out := []fragment{
		pgArticle.with(id), pgCard.with(id), pgLatest.with(),
		htCard.with(id), htAuthor.with(after.Author),
	}
	tags := slices.Concat(before.Tags, after.Tags)
	slices.Sort(tags)
	for _, t := range slices.Compact(tags) {
		out = append(out, htTag.with(t))
	}
	if before.Title != after.Title {
		out = append(out, pgRecent.with(), htRecent.with(), htArchive.with())
	}
	if !slices.Equal(before.Tags, after.Tags) {
		out = append(out, pgTags.with(), htTags.with())
	}
	return out
}

// invalidatePost deletes the fragments an edit affected and updates the
// cached functions that hold the post, and returns a line per cache key it
// touched, for the flash message.
func (s *site) invalidatePost(ctx context.Context, before, after Post) ([]string, error) {
	var done []string
	for _, f := range affectedBy(before, after) {
		key, err := s.frags.KeyFor(f.Template, f.Name, f.Vary...)
		if err != nil {
			return done, err
		}
		if err := s.frags.Invalidate(ctx, f.Template, f.Name, f.Vary...); err != nil {
			return done, err
		}
		done = append(done, fmt.Sprintf("%s — deleted %s", f, key))
	}
	// The cached data: the post is known, so store it rather than delete
	// it, and spare the next reader the query.
	if err := s.post.Set(ctx, after, after.ID); err != nil {
		return done, err
	}
	key, err := s.post.Key(after.ID)
	if err != nil {
		return done, err
	}
	done = append(done, "function cache — set "+key)
	if !slices.Equal(before.Tags, after.Tags) {
		if err := s.tagCounts.Invalidate(ctx); err != nil {
			return done, err
		}
		if key, err = s.tagCounts.Key(); err != nil {
			return done, err
		}
		done = append(done, "function cache — deleted "+key)
	}
	return done, nil
}

// checkFragments reports fragments of allFragments that no template
// declared, and checks that tmplcache knows them all.
func (s *site) checkFragments() error {
	var missing []string
	for _, f := range allFragments {
		if _, err := s.frags.KeyFor(f.Template, f.Name); err != nil {
			missing = append(missing, f.with().String())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("fragments not declared by any template: %s", strings.Join(missing, ", "))
	}
	return nil
}
