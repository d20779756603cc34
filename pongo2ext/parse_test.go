package pongo2ext_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/flosch/pongo2/v6"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		src       string // the tag is on line 2
		line, col int
		msg       string
	}{
		{"empty name", `{% cached "" %}x{% endcached %}`, 2, 13, "must not be empty"},
		{"name of a place", `{% cached "#1" %}x{% endcached %}`, 2, 13, "places of nameless blocks"},
		{"nameless without digest", `{% cached digest=false %}x{% endcached %}`, 2, 6, "give the block a name"},
		{"unknown option", `{% cached "x" regoin="r" %}x{% endcached %}`, 2, 17, `unknown option "regoin"`},
		{"duplicate option", `{% cached "x" region="a" expires=5 region="b" %}x{% endcached %}`, 2, 38, "region= given twice"},
		{"duplicate if", `{% cached "x" if=a if=b %}x{% endcached %}`, 2, 22, "if= given twice"},
		{"region not a literal", `{% cached "x" region=name %}x{% endcached %}`, 2, 24, "string literal"},
		{"option without value", `{% cached "x" region= %}x{% endcached %}`, 2, 23, "needs a value"},
		{"expires a string", `{% cached "x" expires="60" %}x{% endcached %}`, 2, 25, "whole number"},
		{"expires a float", `{% cached "x" expires=1.5 %}x{% endcached %}`, 2, 25, "whole number"},
		{"expires with a unit", `{% cached "x" expires=60s %}x{% endcached %}`, 2, 25, "whole number"},
		{"expires zero", `{% cached "x" expires=0 %}x{% endcached %}`, 2, 25, "expires=0"},
		{"expires negative", `{% cached "x" expires=-5 %}x{% endcached %}`, 2, 25, "-1 for never"},
		{"expires huge", `{% cached "x" expires=99999999999999999999 %}x{% endcached %}`, 2, 25, "out of range"},
		{"digest not a bool", `{% cached "x" digest=no %}x{% endcached %}`, 2, 24, "true or false"},
		{"bad key expression", `{% cached "x" key=) %}x{% endcached %}`, 2, 21, ""},
		{"key with vary", `{% cached "x" key=k user.id %}x{% endcached %}`, 2, 23, "key= replaces"},
		{"bad vary expression", `{% cached "x" a.) %}x{% endcached %}`, 2, 19, ""},
		{"no end tag", `{% cached "x" %}x`, 2, 19, "endcached"},
		{"end tag arguments", `{% cached "x" %}x{% endcached "x" %}`, 2, 33, "no arguments"},
		{"nameless end tag arguments", `{% cached %}x{% endcached "x" %}`, 2, 29, "no arguments"},
		{"nameless unknown option", `{% cached regoin="r" %}x{% endcached %}`, 2, 13, `unknown option "regoin"`},
		{"tags twice", `{% cached tags=a tags=b %}x{% endcached %}`, 2, 20, "tags= given twice"},
		{"tags without value", `{% cached tag= %}x{% endcached %}`, 2, 16, "needs a value"},
		{"by on cached", `{% cached by=x %}x{% endcached %}`, 2, 13, `unknown option "by"`},
		{"for without loop", `{% cachedfor posts %}x{% endcachedfor %}`, 2, 16, "one variable"},
		{"for with two variables", `{% cachedfor k, v in m %}x{% endcachedfor %}`, 2, 17, "one variable"},
		{"for over forloop", `{% cachedfor forloop in posts %}x{% endcachedfor %}`, 2, 16, "forloop"},
		{"for with key", `{% cachedfor p in posts key="k" %}x{% endcachedfor %}`, 2, 27, `unknown option "key"`},
		{"for name of a place", `{% cachedfor "#2" p in posts %}x{% endcachedfor %}`, 2, 16, "places of nameless blocks"},
		{"for expires zero", `{% cachedfor p in posts expires=0 %}x{% endcachedfor %}`, 2, 35, "expires=0"},
		{"for no end tag", `{% cachedfor p in posts %}x`, 2, 29, "endcachedfor"},
		{"for end tag arguments", `{% cachedfor p in posts %}x{% empty %}y{% endcachedfor p %}`, 2, 58, "no arguments"},
		{"for empty arguments", `{% cachedfor p in posts %}x{% empty 1 %}y{% endcachedfor %}`, 2, 39, "no arguments"},
		{"for bad items", `{% cachedfor p in ) %}x{% endcachedfor %}`, 2, 21, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{})
			_, err := e.set.FromString("<html>\n  " + tc.src)
			var pe *pongo2.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *pongo2.Error", err)
			}
			if pe.Sender != "parser" || pe.Line != tc.line || pe.Column != tc.col || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v (sender %s, line %d, col %d)\nwant line %d col %d, containing %q",
					err, pe.Sender, pe.Line, pe.Column, tc.line, tc.col, tc.msg)
			}
		})
	}
}

func TestValidTags(t *testing.T) {
	for _, src := range []string{
		`{% cached "x" %}{% endcached %}`,
		`{% cached %}{% endcached %}`,
		`{% cached name %}{% endcached %}`, // a nameless block varying on name
		`{% cached 5 %}{% endcached %}`,
		`{% cached "x" expires=ttl %}{% endcached %}`,
		`{% cached expires=ttl * 60 region="local" %}{% endcached %}`,
		`{% cached expires=(60*5) a %}{% endcached %}`,
		`{% cached tags="post:"|add:id tag="user:1" tag=more %}{% endcached %}`,
		`{% cached "named" digest=false %}{% endcached %}`,
		`{% cachedfor p in posts %}{% endcachedfor %}`,
		`{% cachedfor "cards" p in posts reversed sorted by=p.ID region="local" expires=-1 if=a unless=b digest=false tags=p.Tags tag="x" lang %}{% empty %}none{% endcachedfor %}`,
		`{% cached 'x' region="local" expires=60 key="k" + id if=a unless=b digest=false %}{% endcached %}`,
		`{% cached "x" a b.c d|lower "lit" 3 expires=-1 e %}{% endcached %}`,
		`{% cached "x" -a expires=5 -1 %}{% endcached %}`,
		`{%- cached "x" -%}  {%- endcached -%}`,
		`{% cached "x" digest=true %}{% endcached %}`,
	} {
		e := newEnv(t, envConfig{})
		if _, err := e.set.FromString(src); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
}

func TestBlockInsideCachedNeedsVary(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		ok        bool
	}{
		{"block inside", `{% cached "nav" %}<nav>{% block nav %}{% endblock %}</nav>{% endcached %}`, false},
		{"block nested deeper", `{% cached "nav" %}{% if a %}{% block nav %}{% endblock %}{% endif %}{% endcached %}`, false},
		{"block with trim", `{% cached "nav" %}{%- block nav -%}{% endblock %}{% endcached %}`, false},
		{"inner cached wraps the block", `{% cached "out" %}{% cached "in" page %}{% block nav %}{% endblock %}{% endcached %}{% endcached %}`, false},
		{"with vary", `{% cached "nav" page.name %}{% block nav %}{% endblock %}{% endcached %}`, true},
		{"with key", `{% cached "nav" key="nav-" + page.name %}{% block nav %}{% endblock %}{% endcached %}`, true},
		{"cached inside the block", `{% block nav %}{% cached "nav" %}x{% endcached %}{% endblock %}`, true},
		{"no block", `{% cached "nav" %}{{ block }}{% endcached %}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{})
			_, err := e.set.FromString(tc.src)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var pe *pongo2.Error
			if !errors.As(err, &pe) || pe.Line != 1 || pe.Column != 4 ||
				!strings.Contains(err.Error(), "extends this one") || !strings.Contains(err.Error(), "{% block nav %}") {
				t.Fatalf("error %v, want the block trap at the cached tag", err)
			}
		})
	}
}

// The trap's reason, shown: two pages extend one base whose cached
// fragment wraps a block; with a vary-on value per page each gets its own.
func TestBlockInsideCachedWithVaryPerPage(t *testing.T) {
	e := newEnv(t, envConfig{files: map[string]string{
		"base.html": `{% cached "nav" page %}<nav>{% block nav %}base{% endblock %}</nav>{% endcached %}`,
		"a.html":    `{% extends "base.html" %}{% block nav %}A{% endblock %}`,
		"b.html":    `{% extends "base.html" %}{% block nav %}B{% endblock %}`,
	}})
	for _, page := range []string{"a.html", "b.html", "a.html"} {
		tpl, err := e.set.FromCache(page)
		if err != nil {
			t.Fatal(err)
		}
		want := "<nav>" + strings.ToUpper(page[:1]) + "</nav>"
		if got := render(t, tpl, pongo2.Context{"page": page}); got != want {
			t.Errorf("%s: %q, want %q", page, got, want)
		}
	}
}
