package htmltmpl_test

import (
	"context"
	"html/template"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/htmltmpl"
	"github.com/dogpilego/dogpile/tmplcache"
)

const checkedPage = `<body>
{{ cached "frag" . }}
<p title="{{ cached "frag" . }}">
<p title={{ cached "frag" . }}>
<a href="{{ cached "frag" . }}">x</a>
<script>var x = {{ cached "frag" . }};</script>
<style>p { color: {{ cached "frag" . }} }</style>
<p style="color: {{ cached "frag" . }}">
<title>{{ cached "frag" . }}</title>
<textarea>{{ cached "frag" . }}</textarea>
{{ cached "frag" . | printf "%s" }}
{{ cached "missing" . }}
{{ cached "frag" }}
{{ $x := cached "frag" . }}{{ $x }}
{{ if true }}<div>{{ cached "frag" . }}</div>{{ else }}{{ cached "frag" . }}{{ end }}
<p title="{{ template "wrapper" . }}">
<div>{{ template "wrapper" . }}</div>
{{ sideEffect }}
<!-- {{ cached "frag" . }} -->
</body>
{{- define "frag" }}<b>fragment</b>{{ end }}
{{- define "wrapper" }}{{ cached "frag" . }}{{ end }}`

func TestCheck(t *testing.T) {
	var sideEffects atomic.Int64
	var regionCalls atomic.Int64
	obs := observe.Func(func(context.Context, observe.Event) { regionCalls.Add(1) })
	tm := parse(t, "page", checkedPage, template.FuncMap{"sideEffect": func() string { sideEffects.Add(1); return "" }})
	bind(t, tm, tmplcache.New(memRegion(t, time.Hour, dogpile.WithObserver(obs))))

	problems := htmltmpl.Check(tm)
	type found struct {
		line    string
		context string
	}
	var got []found
	for _, p := range problems {
		if p.Template != "page" {
			t.Errorf("problem in template %q: %s", p.Template, p)
		}
		// page:LINE:COL
		parts := strings.Split(p.Location, ":")
		if len(parts) != 3 {
			t.Errorf("location %q", p.Location)
			continue
		}
		got = append(got, found{parts[1], p.Context})
		if p.Message == "" || !strings.HasPrefix(p.String(), p.Location+": ") {
			t.Errorf("problem %#v", p)
		}
	}
	want := []found{
		{"3", "attribute"},
		{"4", "unquoted attribute"},
		{"5", "URL"},
		{"6", "JavaScript"},
		{"7", "CSS"},
		{"8", "CSS"},
		{"9", "RCDATA"},
		{"10", "RCDATA"},
		{"11", ""}, // piped through printf
		{"12", ""}, // undefined fragment
		{"13", ""}, // no data
		{"16", "attribute"},
		{"19", "comment"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Check found\n%v\nwant\n%v", got, want)
		for _, p := range problems {
			t.Log(p)
		}
	}
	for _, p := range problems {
		switch {
		case strings.HasPrefix(p.Location, "page:11:"):
			if !strings.Contains(p.Message, "printf") {
				t.Errorf("pipe problem: %s", p)
			}
		case strings.HasPrefix(p.Location, "page:12:"):
			if p.Fragment != "missing" || !strings.Contains(p.Message, "not a template") {
				t.Errorf("undefined fragment problem: %s", p)
			}
		case strings.HasPrefix(p.Location, "page:16:"):
			if !strings.Contains(p.Message, `"wrapper"`) {
				t.Errorf("included template problem: %s", p)
			}
		default:
			if p.Fragment != "frag" {
				t.Errorf("problem without its fragment: %#v", p)
			}
		}
	}
	if n := sideEffects.Load(); n != 0 {
		t.Errorf("Check ran a func of the template %d times", n)
	}
	if n := regionCalls.Load(); n != 0 {
		t.Errorf("Check touched the region %d times", n)
	}
	// The set is still unexecuted and usable.
	if err := htmltmpl.Bind(tm, tmplcache.New(memRegion(t, time.Hour))); err != nil {
		t.Errorf("Bind after Check: %v", err)
	}
}

func TestCheckCleanSet(t *testing.T) {
	tm := parse(t, "page", `<main>{{ cached "a" . }}<ul>{{ range .Value }}<li>{{ cached "a" (withctx $ .) . }}</li>{{ end }}</ul></main>
{{- define "a" }}<p title="{{ .Value }}">{{ template "b" . }}</p>{{ end }}{{ define "b" }}<a href="{{ .Value }}">b</a>{{ end }}`, nil)
	if problems := htmltmpl.Check(tm); len(problems) != 0 {
		t.Errorf("problems in a clean set: %v", problems)
	}
}

func TestCheckEscapingError(t *testing.T) {
	tm := parse(t, "page", `{{ cached "open" . }}{{ define "open" }}<a href="{{ end }}`, nil)
	problems := htmltmpl.Check(tm)
	if len(problems) != 1 || problems[0].Template != "open" || !strings.Contains(problems[0].Message, "non-text context") {
		t.Errorf("fragment ending in an attribute: %v", problems)
	}
}

func TestCheckAfterExecute(t *testing.T) {
	tm := parse(t, "page", `<p title="{{ cached "f" . }}">{{ define "f" }}x{{ end }}`, nil)
	bind(t, tm, tmplcache.New(memRegion(t, time.Hour)))
	run(t, tm, "page", nil)
	problems := htmltmpl.Check(tm)
	if len(problems) != 1 || problems[0].Context != "attribute" {
		t.Errorf("Check of an executed set: %v", problems)
	}
}

func TestCheckFragmentFuncs(t *testing.T) {
	tm := parse(t, "page", `<div>{{ cachedIf .C "frag" . }}{{ cachedUnless .C "frag" . 1 }}{{ cachedEach "frag" . .Items }}</div>
<p title="{{ cachedIf .C "frag" . }}">
<a href="{{ cachedEach "frag" . .Items }}">x</a>
{{ cachedIf .C "missing" . }}
{{ cachedUnless .C "frag" }}
{{ cachedEach "frag" . }}
{{ cachedEach "nope" . .Items }}
<script>var x = {{ cachedUnless .C "frag" . }};</script>
{{ cachedEach "frag" . .Items | printf "%s" }}
{{- define "frag" }}<b>fragment</b>{{ end }}`, nil)
	for _, bound := range []bool{false, true} {
		if bound {
			bind(t, tm, tmplcache.New(memRegion(t, time.Hour)))
		}
		var got []string
		for _, p := range htmltmpl.Check(tm) {
			line := strings.Split(p.Location, ":")[1]
			got = append(got, line+" "+p.Fragment+" "+p.Context)
			if !strings.Contains(p.Message, "cached") && !strings.Contains(p.Message, "not a template") {
				t.Errorf("message without the func: %s", p)
			}
		}
		want := []string{
			"2 frag attribute",
			"3 frag URL",
			"4 missing ",
			"5 frag ",
			"6 frag ",
			"7 nope ",
			"8 frag JavaScript",
			"9 frag ",
		}
		if !slices.Equal(got, want) {
			t.Errorf("bound %v: Check found\n%q\nwant\n%q", bound, got, want)
		}
	}
}
