package pongo2ext_test

import (
	"testing"
)

// digestSteps edits the templates of e step by step and checks, after
// each, the output of page.html, parsed again by a fresh set, and whether
// the key of its block name changed.
type digestStep struct {
	what    string
	files   map[string]string
	want    string
	retired bool
}

func runDigestSteps(t *testing.T, e *env, name string, steps []digestStep) {
	t.Helper()
	var last string
	for i, s := range steps {
		for f, src := range s.files {
			e.write(f, src)
		}
		tpl, err := e.newSet().FromFile("page.html")
		if err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		out := render(t, tpl, nil)
		k := mustKey(t, e.cache, "page.html", name)
		if out != s.want || (i > 0 && (k != last) != s.retired) {
			t.Errorf("%s: %q under %s (was %s)\nwant %q, retired %v", s.what, out, k, last, s.want, s.retired)
		}
		last = k
	}
}

func TestDigestCoversIncludedTemplates(t *testing.T) {
	e := newEnv(t, envConfig{})
	runDigestSteps(t, e, "#1", []digestStep{
		{"first", map[string]string{
			"page.html":  `<h1>t</h1>{% cached %}[{% include "card.html" %}]{% endcached %}`,
			"card.html":  `card v1 {{ count("c") }} {% include "inner.html" %}`,
			"inner.html": `inner v1`,
			"other.html": `other v1`,
		}, "<h1>t</h1>[card v1 c#1 inner v1]", false},
		{"parsed again", nil, "<h1>t</h1>[card v1 c#1 inner v1]", false},
		{"an unrelated template edited", map[string]string{"other.html": "other v2"}, "<h1>t</h1>[card v1 c#1 inner v1]", false},
		{"the page edited outside the block", map[string]string{
			"page.html": `<h1>new</h1>{% cached %}[{% include "card.html" %}]{% endcached %}`,
		}, "<h1>new</h1>[card v1 c#1 inner v1]", false},
		{"the included template edited", map[string]string{
			"card.html": `card v2 {{ count("c") }} {% include "inner.html" %}`,
		}, "<h1>new</h1>[card v2 c#2 inner v1]", true},
		{"the template it includes edited", map[string]string{"inner.html": "inner v2"}, "<h1>new</h1>[card v2 c#3 inner v2]", true},
		{"the included template extends another", map[string]string{
			"card.html":      `{% extends "card_base.html" %}{% block b %}card v3 {{ count("c") }}{% endblock %}`,
			"card_base.html": `<div>{% block b %}{% endblock %}</div>`,
		}, "<h1>new</h1>[<div>card v3 c#4</div>]", true},
		{"the base of the included template edited", map[string]string{
			"card_base.html": `<section>{% block b %}{% endblock %}</section>`,
		}, "<h1>new</h1>[<section>card v3 c#5</section>]", true},
	})
}

func TestDigestCoversImportedMacros(t *testing.T) {
	e := newEnv(t, envConfig{})
	const page = `{% cached %}{% import "macros.html" card, badge as b %}{{ card() }}{{ b() }}{% endcached %}`
	runDigestSteps(t, e, "#1", []digestStep{
		{"first", map[string]string{
			"page.html":   page,
			"macros.html": `{% macro card() export %}card v1 {{ count("m") }}{% endmacro %}{% macro badge() export %}!{% endmacro %}{% macro other() export %}o1{% endmacro %}`,
		}, "card v1 m#1!", false},
		{"a macro it does not import edited", map[string]string{
			"macros.html": `{% macro card() export %}card v1 {{ count("m") }}{% endmacro %}{% macro badge() export %}!{% endmacro %}{% macro other() export %}o2{% endmacro %}`,
		}, "card v1 m#1!", false},
		{"an imported macro edited", map[string]string{
			"macros.html": `{% macro card() export %}card v2 {{ count("m") }}{% endmacro %}{% macro badge() export %}!{% endmacro %}{% macro other() export %}o2{% endmacro %}`,
		}, "card v2 m#2!", true},
		{"an aliased macro edited", map[string]string{
			"macros.html": `{% macro card() export %}card v2 {{ count("m") }}{% endmacro %}{% macro badge() export %}?{% endmacro %}{% macro other() export %}o2{% endmacro %}`,
		}, "card v2 m#3?", true},
		{"a template the macro includes edited", map[string]string{
			"macros.html": `{% macro card() export %}{% include "inc.html" %}{% endmacro %}{% macro badge() export %}?{% endmacro %}`,
			"inc.html":    `inc v1 {{ count("m") }}`,
		}, "inc v1 m#4?", true},
		{"", map[string]string{"inc.html": `inc v2 {{ count("m") }}`}, "inc v2 m#5?", true},
	})
}

func TestDigestCoversServerSideIncludes(t *testing.T) {
	e := newEnv(t, envConfig{})
	runDigestSteps(t, e, "#1", []digestStep{
		{"first", map[string]string{
			"page.html": `{% cached %}{% ssi "part.html" parsed %}|{% ssi "raw.txt" %}{% endcached %}`,
			"part.html": `part v1 {{ count("s") }}`,
			"raw.txt":   `raw v1`,
		}, "part v1 s#1|raw v1", false},
		{"the parsed file edited", map[string]string{"part.html": `part v2 {{ count("s") }}`}, "part v2 s#2|raw v1", true},
		{"the copied file edited", map[string]string{"raw.txt": `raw v2`}, "part v2 s#3|raw v2", true},
	})
}

// What digests cannot know: the documented limits.
func TestDigestLimits(t *testing.T) {
	t.Run("dynamic include", func(t *testing.T) {
		e := newEnv(t, envConfig{})
		runDigestSteps(t, e, "#1", []digestStep{
			{"first", map[string]string{
				"page.html": `{% with name="card.html" %}{% cached %}{% include name %}{% endcached %}{% endwith %}`,
				"card.html": `v1 {{ count("d") }}`,
			}, "v1 d#1", false},
			{"the included template edited", map[string]string{"card.html": `v2 {{ count("d") }}`}, "v1 d#1", false},
		})
	})
	t.Run("import outside the block", func(t *testing.T) {
		e := newEnv(t, envConfig{})
		runDigestSteps(t, e, "#1", []digestStep{
			{"first", map[string]string{
				"page.html":   `{% import "macros.html" card %}{% cached %}{{ card() }}{% endcached %}`,
				"macros.html": `{% macro card() export %}v1 {{ count("i") }}{% endmacro %}`,
			}, "v1 i#1", false},
			{"the macro edited", map[string]string{"macros.html": `{% macro card() export %}v2 {{ count("i") }}{% endmacro %}`}, "v1 i#1", false},
		})
	})
	t.Run("digest=false", func(t *testing.T) {
		e := newEnv(t, envConfig{})
		runDigestSteps(t, e, "nodigest", []digestStep{
			{"first", map[string]string{
				"page.html": `{% cached "nodigest" digest=false %}{% include "card.html" %}{% endcached %}`,
				"card.html": `v1 {{ count("f") }}`,
			}, "v1 f#1", false},
			{"the included template edited", map[string]string{"card.html": `v2 {{ count("f") }}`}, "v1 f#1", false},
		})
	})
}

// Digests hash what templates say, not where they are: another host, with
// the templates in another directory, has the same keys.
func TestDigestOfIncludesAcrossHosts(t *testing.T) {
	files := map[string]string{
		"page.html":      `{% cached %}{% include "sub/card.html" %}{% import "sub/m.html" m %}{{ m() }}{% endcached %}`,
		"sub/card.html":  `{% include "sub/inner.html" %}`,
		"sub/inner.html": `inner`,
		"sub/m.html":     `{% macro m() export %}{% include "sub/inner.html" %}{% endmacro %}`,
	}
	var keys []string
	for range 2 {
		e := newEnv(t, envConfig{files: files})
		if _, err := e.set.FromFile("page.html"); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, mustKey(t, e.cache, "page.html", "#1"))
	}
	if keys[0] != keys[1] {
		t.Errorf("keys %q differ", keys)
	}
}
