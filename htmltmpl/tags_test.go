package htmltmpl_test

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/htmltmpl"
	"github.com/dogpilego/dogpile/tmplcache"
)

// counters counts calls of {{ count "name" }} by name.
type counters struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counters) funcs() template.FuncMap {
	return template.FuncMap{"count": func(name string) string {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.n == nil {
			c.n = map[string]int{}
		}
		c.n[name]++
		return ""
	}}
}

// take returns the counts so far and starts again from zero.
func (c *counters) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = nil
	if n == nil {
		n = map[string]int{}
	}
	return n
}

func sameCounts(got, want map[string]int) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	for k, v := range got {
		if want[k] != v {
			return false
		}
	}
	return true
}

func invalidate(t *testing.T, c *tmplcache.Cache, tags ...string) {
	t.Helper()
	if err := c.InvalidateTags(context.Background(), tags...); err != nil {
		t.Fatal(err)
	}
}

func TestDeclaredTags(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour))
	var renders counters
	tm := parse(t, "page", `{{ cached "card" . .Value.ID (tags (printf "post:%d" .Value.ID) "posts") (tags .Value.More) }}
{{- define "card" }}{{ count (print .Value.ID) }}<c>{{ .Value.ID }} {{ .Value.Title }}</c>{{ end }}`, renders.funcs())
	bind(t, tm, c)
	type post struct {
		ID    int
		Title string
		More  []string
	}
	show := func(p post) string { return run(t, tm, "page", htmltmpl.WithContext(ctx, p)) }
	show(post{7, "seven", nil})
	show(post{8, "eight", []string{"extra"}})
	if got := renders.take(); !sameCounts(got, map[string]int{"7": 1, "8": 1}) {
		t.Fatalf("first renders: %v", got)
	}
	// Tags are not part of the key: other tags, same entry.
	if got := show(post{7, "changed", []string{"other"}}); got != "<c>7 seven</c>" {
		t.Errorf("other tags gave another entry: %s", got)
	}
	key, err := c.KeyFor("page", "card", 7)
	if err != nil {
		t.Fatal(err)
	}
	if html, ok, err := storedHTML(ctx, mustRegion(t, c), key); err != nil || !ok || html != "<c>7 seven</c>" {
		t.Errorf("KeyFor without the tags: %q, %v, %v", html, ok, err)
	}
	for _, tc := range []struct {
		tag  string
		want map[string]int
	}{
		{"post:7", map[string]int{"7": 1}},
		{"post:9", map[string]int{}},
		{"extra", map[string]int{"8": 1}},
		{"posts", map[string]int{"7": 1, "8": 1}},
	} {
		invalidate(t, c, tc.tag)
		show(post{7, "seven " + tc.tag, nil})
		show(post{8, "eight " + tc.tag, []string{"extra"}})
		show(post{7, "again", nil})
		if got := renders.take(); !sameCounts(got, tc.want) {
			t.Errorf("after invalidating %s: renders %v, want %v", tc.tag, got, tc.want)
		}
	}
	if got := show(post{8, "", []string{"extra"}}); got != "<c>8 eight posts</c>" {
		t.Errorf("after invalidating posts: %s", got)
	}

	// tags takes strings and lists of strings only.
	bad := parse(t, "bad", `{{ cached "f" . (tags 7) }}{{ define "f" }}f{{ end }}`, nil)
	bind(t, bad, c)
	if err := bad.Execute(new(strings.Builder), htmltmpl.WithContext(ctx, nil)); err == nil || !strings.Contains(err.Error(), "tag 1 is a int") {
		t.Errorf("tags 7: %v", err)
	}
}

func mustRegion(t *testing.T, c *tmplcache.Cache) *dogpile.Region {
	t.Helper()
	r, err := c.Region("")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// article is application data that embeds Data: Go funcs the templates
// call get the rendering's context from it.
type article struct {
	htmltmpl.Data
	ID int
}

func TestAddTagsFromGoFuncs(t *testing.T) {
	ctx := context.Background()
	c := tmplcache.New(memRegion(t, time.Hour))
	var renders counters
	funcs := renders.funcs()
	// comments stands for a data access layer that tags what it reads.
	funcs["comments"] = func(ctx context.Context, id int) []string {
		tmplcache.AddTags(ctx, fmt.Sprintf("comments:%d", id))
		return []string{"first!", "nice"}
	}
	tm := parse(t, "page", `{{ cached "post" . .ID }}|{{ cached "side" . }}|{{ len (comments .Context .ID) }}
{{- define "post" }}{{ count "post" }}{{ range comments .Context .ID }}<c>{{ . }}</c>{{ end }}{{ end }}
{{- define "side" }}{{ count "side" }}{{ addtags . "side" (printf "post:%d" .ID) }}<aside>{{ .ID }}</aside>{{ end }}`, funcs)
	bind(t, tm, c)
	show := func() string {
		return run(t, tm, "page", article{Data: htmltmpl.Data{Ctx: ctx}, ID: 7})
	}
	if got := show(); got != "<c>first!</c><c>nice</c>|<aside>7</aside>|2" {
		t.Fatalf("render: %s", got)
	}
	renders.take()
	for _, tc := range []struct {
		tag  string
		want map[string]int
	}{
		{"comments:8", map[string]int{}},
		{"comments:7", map[string]int{"post": 1}},
		{"side", map[string]int{"side": 1}},
		{"post:7", map[string]int{"side": 1}},
	} {
		invalidate(t, c, tc.tag)
		show()
		show()
		if got := renders.take(); !sameCounts(got, tc.want) {
			t.Errorf("after invalidating %s: renders %v, want %v", tc.tag, got, tc.want)
		}
	}
	// addtags takes what tags takes.
	bad := parse(t, "bad", `{{ addtags . 1.5 }}`, nil)
	bind(t, bad, c)
	if err := bad.Execute(new(strings.Builder), nil); err == nil || !strings.Contains(err.Error(), "tag 1 is a float64") {
		t.Errorf("addtags 1.5: %v", err)
	}
}

// nestedPage renders, inside "outer", a cached fragment with a declared
// tag, a fragment rendered uncached with one, a collection whose items tag
// themselves and an included template calling a Go func that adds a tag.
const nestedPage = `{{ cached "outer" . }}
{{- define "outer" }}{{ count "outer" }}<o>{{ cached "inner" . (tags "t:inner") }}{{ cachedIf false "plain" . (tags "t:plain") }}{{ cachedEach "item" . .Value }}{{ template "incl" . }}</o>{{ end }}
{{- define "inner" }}{{ count "inner" }}<in>{{ cached "innermost" . }}</in>{{ end }}
{{- define "innermost" }}{{ count "innermost" }}{{ addtags . "t:innermost" }}<x>{{ end }}
{{- define "plain" }}{{ count "plain" }}<p>{{ end }}
{{- define "item" }}{{ count (print "item" .Value) }}{{ addtags . (print "t:item" .Value) }}<i>{{ .Value }}</i>{{ end }}
{{- define "incl" }}{{ tagged .Context "t:incl" }}{{ end }}
{{- define "innerPage" }}{{ cached "inner" . (tags "t:inner") }}{{ end }}`

func TestTagsPropagateUp(t *testing.T) {
	ctx := context.Background()
	var renders counters
	funcs := renders.funcs()
	funcs["tagged"] = func(ctx context.Context, tag string) string { tmplcache.AddTags(ctx, tag); return "" }
	for _, innerFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("inner hit %v", innerFirst), func(t *testing.T) {
			c := tmplcache.New(memRegion(t, time.Hour))
			tm := parse(t, "page", nestedPage, funcs)
			bind(t, tm, c)
			data := htmltmpl.WithContext(ctx, []int{1, 2})
			renders.take()
			if innerFirst {
				// The inner fragment is a hit when the outer one renders: its
				// entry carries its tags and those of what it contains.
				if got := run(t, tm, "innerPage", data); got != "<in><x></in>" {
					t.Fatalf("inner page: %s", got)
				}
			}
			const want = "<o><in><x></in><p><i>1</i><i>2</i></o>"
			if got := run(t, tm, "page", data); got != want {
				t.Fatalf("page: %s", got)
			}
			first := renders.take()
			if first["outer"] != 1 || first["inner"] != 1 || first["innermost"] != 1 {
				t.Fatalf("first renders: %v", first)
			}
			for _, tc := range []struct {
				tag  string
				want map[string]int
			}{
				{"t:none", map[string]int{}},
				{"t:inner", map[string]int{"outer": 1, "inner": 1, "plain": 1}},
				{"t:innermost", map[string]int{"outer": 1, "inner": 1, "innermost": 1, "plain": 1}},
				{"t:plain", map[string]int{"outer": 1, "plain": 1}},
				{"t:item2", map[string]int{"outer": 1, "plain": 1, "item2": 1}},
				{"t:incl", map[string]int{"outer": 1, "plain": 1}},
			} {
				invalidate(t, c, tc.tag)
				for range 2 {
					if got := run(t, tm, "page", data); got != want {
						t.Errorf("after invalidating %s: %s", tc.tag, got)
					}
				}
				if got := renders.take(); !sameCounts(got, tc.want) {
					t.Errorf("after invalidating %s: renders %v, want %v", tc.tag, got, tc.want)
				}
			}
		})
	}
}

func TestTagsInvalidArguments(t *testing.T) {
	c := tmplcache.New(memRegion(t, time.Hour))
	tm := parse(t, "page", `{{ cachedEach "f" . .Value (tags "a" true) }}{{ define "f" }}f{{ end }}`, nil)
	bind(t, tm, c)
	err := tm.Execute(new(strings.Builder), htmltmpl.WithContext(context.Background(), []int{1}))
	if err == nil || errors.Is(err, tmplcache.ErrVaryValue) || !strings.Contains(err.Error(), "tag 2 is a bool") {
		t.Errorf("tags with a bool: %v", err)
	}
}
