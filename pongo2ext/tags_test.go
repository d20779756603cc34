package pongo2ext_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/pongo2ext"
	"github.com/dogpilego/dogpile/tmplcache"
)

type post struct {
	ID    int
	Title string
	Tags  []string
}

func (e *env) invalidateTags(tags ...string) {
	e.t.Helper()
	if err := e.cache.InvalidateTags(context.Background(), tags...); err != nil {
		e.t.Fatal(err)
	}
}

func TestDeclaredTags(t *testing.T) {
	for _, tc := range []struct {
		name, tag string
		retiring  []string // tags that retire the fragment
		keeping   []string // tags that do not
	}{
		{"built from a field", `tags="post:"|add:post.ID`, []string{"post:7"}, []string{"post:8", "post:"}},
		{"a list", `tags=post.Tags`, []string{"a", "b"}, []string{"c", "post:7"}},
		{"repeated tag=", `tag="x" tag="post:"|add:post.ID tag=post.Title`, []string{"x", "post:7", "<Title>"}, []string{"y"}},
		{"tags= and tag=", `tag="x" tags=post.Tags`, []string{"x", "a", "b"}, []string{"post:7"}},
		{"with vary", `post.ID tags=post.Tags`, []string{"b"}, []string{"post:7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{})
			tpl := e.parse(`{% cached ` + tc.tag + ` %}<h2>{{ post.Title }}</h2>{{ count("p") }}{% endcached %}`)
			data := pongo2.Context{"post": post{7, "<Title>", []string{"a", "b"}}}
			want := 1
			check := func(what string) {
				t.Helper()
				if got := render(t, tpl, data); got != fmt.Sprintf("<h2>&lt;Title&gt;</h2>p#%d", want) {
					t.Errorf("%s: %q, want rendering %d", what, got, want)
				}
			}
			check("first")
			for _, tag := range tc.keeping {
				e.invalidateTags(tag)
				check("after invalidating " + tag)
			}
			for _, tag := range tc.retiring {
				e.invalidateTags(tag)
				want++
				check("after invalidating " + tag)
				check("then")
			}
		})
	}
}

func TestTagsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		tags any
		msg  string
	}{
		{"a number", 7, "7, of type int, is not a string or a list of strings"},
		{"empty", "", "a tag is empty"},
		{"undefined", nil, "tags are nil (an undefined variable?)"},
		{"a list of numbers", []int{1, 2}, "element 0, 1 of type int, is not a string"},
		{"an empty tag in a list", []string{"a", ""}, "a tag is empty"},
		{"a map", map[string]int{"a": 1}, "is not a string or a list of strings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{})
			tpl := e.parse("\n {% cached tag=\"ok\" tags=t %}{{ count(\"t\") }}{% endcached %}")
			data := pongo2.Context{}
			if tc.tags != nil {
				data["t"] = tc.tags
			}
			_, err := execute(t, tpl, data)
			if !errors.Is(pongo2ext.Cause(err), pongo2ext.ErrTags) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want ErrTags: %s", err, tc.msg)
			}
			var pe *pongo2.Error
			if !errors.As(err, &pe) || pe.Line != 2 || pe.Column != 26 {
				t.Errorf("error at %#v, want line 2 col 26", pe)
			}
			if e.count("t") != 0 || len(e.observedKeys()) != 0 {
				t.Errorf("rendered %d times, region asked for %q", e.count("t"), e.observedKeys())
			}
		})
	}
	// A list of pongo2 values, as filters make them, is a list of strings.
	e := newEnv(t, envConfig{})
	tpl := e.parse(`{% cached tags=tags %}{{ count("v") }}{% endcached %}`)
	render(t, tpl, pongo2.Context{"tags": []*pongo2.Value{pongo2.AsValue("v1")}})
	e.invalidateTags("v1")
	if got := render(t, tpl, pongo2.Context{"tags": []*pongo2.Value{pongo2.AsValue("v1")}}); got != "v#2" {
		t.Errorf("pongo2 values as tags: %q", got)
	}
}

// postFunc returns a template function that loads a post the way a data
// layer would, adding its tag to the fragment being rendered.
func (e *env) postFunc(posts map[int]string) func(*pongo2.ExecutionContext, int) string {
	return func(ec *pongo2.ExecutionContext, id int) string {
		tmplcache.AddTags(pongo2ext.Context(ec), fmt.Sprint("post:", id))
		e.mu.Lock()
		defer e.mu.Unlock()
		e.counts["load"]++
		return posts[id]
	}
}

func TestTagsAddedByGoFunctions(t *testing.T) {
	e := newEnv(t, envConfig{files: map[string]string{
		"inc.html":    `{% for id in ids %}{{ post(id) }};{% endfor %}`,
		"macros.html": `{% macro m(id) export %}{{ post(id) }};{% endmacro %}`,
	}})
	posts := map[int]string{1: "one", 2: "two", 3: "three"}
	e.set.Globals["post"] = e.postFunc(posts)
	for _, tc := range []struct{ name, src string }{
		{"in the block", `{% cached %}{{ post(1) }};{{ post(2) }};{% endcached %}`},
		{"in a loop in the block", `{% cached %}{% for id in ids %}{{ post(id) }};{% endfor %}{% endcached %}`},
		{"in an included template", `{% cached %}{% include "inc.html" %}{% endcached %}`},
		{"in a macro defined in the block", `{% cached %}{% macro m(id) %}{{ post(id) }};{% endmacro %}{{ m(1) }}{{ m(2) }}{% endcached %}`},
		{"in a macro imported in the block", `{% cached %}{% import "macros.html" m %}{{ m(1) }}{{ m(2) }}{% endcached %}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpl := e.parse(tc.src)
			data := pongo2.Context{"ids": []int{1, 2}}
			loads := func() int { return e.count("load") }
			before := loads()
			if got := render(t, tpl, data); got != "one;two;" {
				t.Fatalf("first: %q", got)
			}
			render(t, tpl, data)
			e.invalidateTags("post:3")
			render(t, tpl, data)
			if n := loads() - before; n != 2 {
				t.Errorf("%d loads before post:2 changed, want 2 (one rendering)", n)
			}
			e.invalidateTags("post:2")
			render(t, tpl, data)
			if n := loads() - before; n != 4 {
				t.Errorf("%d loads after post:2 changed, want 4 (two renderings)", n)
			}
		})
	}
	// Outside any block, AddTags does nothing, and the function works.
	if got := render(t, e.parse(`{{ post(3) }}`), nil); got != "three" {
		t.Errorf("outside a block: %q", got)
	}
}

// A macro runs in the context it was defined in (pongo2 binds it when the
// {% macro %} tag executes): defined outside a block, the Go functions it
// calls and the blocks in it do not see the block being rendered, so the
// tags they add are not the block's. The documented limit: define or
// import the macro inside the block, or declare the tag with tags=.
func TestMacroDefinedOutsideTheBlock(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.set.Globals["post"] = e.postFunc(map[int]string{1: "one"})
	tpl := e.parse(`{% macro m(id) %}{{ post(id) }}{% endmacro %}{% cached %}{{ m(1) }}{% endcached %}`)
	render(t, tpl, nil)
	e.invalidateTags("post:1")
	render(t, tpl, nil)
	if n := e.count("load"); n != 1 {
		t.Errorf("%d loads: the block was retired by a tag its macro added; update the documentation", n)
	}
}

func TestTagsPropagateToOuterFragments(t *testing.T) {
	e := newEnv(t, envConfig{files: map[string]string{
		"card.html": `{% cached "card" tags="post:"|add:id %}{{ count("card") }}{% endcached %}`,
	}})
	e.set.Globals["post"] = e.postFunc(map[int]string{1: "one"})
	tpl := e.parse(`{% cached "outer" %}<{% cached "inner" tag="inner" %}{{ post(1) }}{{ count("inner") }}{% endcached %}` +
		`|{% include "card.html" with id=9 %}{{ count("outer") }}>{% endcached %}`)
	out := func() string { t.Helper(); return render(t, tpl, nil) }
	ctx := context.Background()
	if got := out(); got != "<oneinner#1|card#1outer#1>" {
		t.Fatalf("first: %q", got)
	}
	for _, tc := range []struct {
		what string
		do   func()
		want string
	}{
		{"an unrelated tag", func() { e.invalidateTags("post:2") }, "<oneinner#1|card#1outer#1>"},
		{"the inner block's declared tag", func() { e.invalidateTags("inner") }, "<oneinner#2|card#1outer#2>"},
		{"a tag the inner block's Go code added", func() { e.invalidateTags("post:1") }, "<oneinner#3|card#1outer#3>"},
		{"an included block's tag", func() { e.invalidateTags("post:9") }, "<oneinner#3|card#2outer#4>"},
		// The outer block rendered again over inner hits keeps their tags.
		{"the outer block alone", func() {
			if err := e.cache.Invalidate(ctx, "<string>", "outer"); err != nil {
				t.Fatal(err)
			}
		}, "<oneinner#3|card#2outer#5>"},
		{"then an inner tag", func() { e.invalidateTags("post:1") }, "<oneinner#4|card#2outer#6>"},
		{"then the included block's", func() { e.invalidateTags("post:9") }, "<oneinner#4|card#3outer#7>"},
	} {
		tc.do()
		if got := out(); got != tc.want {
			t.Errorf("after %s: %q, want %q", tc.what, got, tc.want)
		}
		if got := out(); got != tc.want {
			t.Errorf("after %s, a hit: %q, want %q", tc.what, got, tc.want)
		}
	}
}
