package pongo2ext_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/pongo2ext"
	"github.com/dogpilego/dogpile/tmplcache"
)

// xssTitles are item data that must come out escaped, cached or not.
var xssTitles = []string{
	`<script>alert(1)</script>`,
	`"><img src=x onerror=alert(1)>`,
	`' onmouseover='alert(1)`,
	`{{ secret }}{% cached %}x{% endcached %}<% cached %>`,
	`&amp; &lt;`,
	"\u2028</script>",
}

func xssPosts() []post {
	posts := make([]post, len(xssTitles))
	for i, title := range xssTitles {
		posts[i] = post{ID: i + 1, Title: title, Tags: []string{"t" + fmt.Sprint(i), "<b>"}}
	}
	return posts
}

func TestCachedForRendersLikeFor(t *testing.T) {
	data := pongo2.Context{
		"posts":  xssPosts(),
		"groups": [][]string{{"a", "b"}, {"<c>"}},
		"m":      map[string]int{"b": 2, "a": 1, "<c>": 3},
		"s":      "x<y",
		"none":   []int{},
		"secret": "s3cr3t",
		"lang":   "en",
	}
	for _, tc := range []struct {
		name, cached, plain string
		autoescape          bool
	}{
		{"escaped fields and forloop",
			`{% cachedfor p in posts %}<h2 title="{{ p.Title }}">{{ p.Title }}</h2>{{ forloop.Counter }}{{ forloop.Counter0 }}{{ forloop.Revcounter }}{{ forloop.Revcounter0 }}{{ forloop.First }}{{ forloop.Last }};{% endcachedfor %}`,
			`{% for p in posts %}<h2 title="{{ p.Title }}">{{ p.Title }}</h2>{{ forloop.Counter }}{{ forloop.Counter0 }}{{ forloop.Revcounter }}{{ forloop.Revcounter0 }}{{ forloop.First }}{{ forloop.Last }};{% endfor %}`, true},
		{"filters and safe",
			`{% cachedfor p in posts by=p.ID %}{{ p.Title|upper }}|{{ p.Title|safe }}|{{ p.Title|escapejs }}{% endcachedfor %}`,
			`{% for p in posts %}{{ p.Title|upper }}|{{ p.Title|safe }}|{{ p.Title|escapejs }}{% endfor %}`, true},
		{"autoescape off",
			`{% autoescape off %}{% cachedfor p in posts %}{{ p.Title }}{% endcachedfor %}{% endautoescape %}`,
			`{% autoescape off %}{% for p in posts %}{{ p.Title }}{% endfor %}{% endautoescape %}`, true},
		{"global autoescape off",
			`{% cachedfor p in posts lang %}<i>{{ p.Title }}</i>{% endcachedfor %}`,
			`{% for p in posts %}<i>{{ p.Title }}</i>{% endfor %}`, false},
		{"a for inside",
			`{% cachedfor p in posts %}{% for t in p.Tags %}{{ forloop.Parentloop.Counter }}.{{ forloop.Counter }}={{ t }};{% endfor %}{% endcachedfor %}`,
			`{% for p in posts %}{% for t in p.Tags %}{{ forloop.Parentloop.Counter }}.{{ forloop.Counter }}={{ t }};{% endfor %}{% endfor %}`, true},
		{"inside a for",
			`{% for g in groups %}{% cachedfor x in g %}{{ forloop.Parentloop.Counter }}.{{ forloop.Counter }}={{ x }};{% endcachedfor %}{% endfor %}`,
			`{% for g in groups %}{% for x in g %}{{ forloop.Parentloop.Counter }}.{{ forloop.Counter }}={{ x }};{% endfor %}{% endfor %}`, true},
		{"reversed", `{% cachedfor p in posts reversed %}{{ p.ID }}{{ forloop.First }};{% endcachedfor %}`, `{% for p in posts reversed %}{{ p.ID }}{{ forloop.First }};{% endfor %}`, true},
		{"map keys sorted", `{% cachedfor k in m sorted %}{{ k }}={{ m[k] }};{% endcachedfor %}`, `{% for k in m sorted %}{{ k }}={{ m[k] }};{% endfor %}`, true},
		{"a string", `{% cachedfor c in s %}[{{ c }}]{% endcachedfor %}`, `{% for c in s %}[{{ c }}]{% endfor %}`, true},
		{"empty", `{% cachedfor x in none %}{{ x }}{% empty %}<none>{{ forloop }}{% endcachedfor %}`, `{% for x in none %}{{ x }}{% empty %}<none>{% endfor %}`, true},
		{"undefined", `{% cachedfor x in nothing %}{{ x }}{% endcachedfor %}`, `{% for x in nothing %}{{ x }}{% endfor %}`, true},
		{"set stays inside", `{% set y = "out" %}{% cachedfor p in posts %}{% set y = p.ID %}{{ y }}{% endcachedfor %}{{ y }}`, `{% set y = "out" %}{% for p in posts %}{% set y = p.ID %}{{ y }}{% endfor %}{{ y }}`, true},
		{"nested in a cached block", `{% cached %}<{% cachedfor p in posts %}{{ p.Title }}{% endcachedfor %}>{% endcached %}`, `<{% for p in posts %}{{ p.Title }}{% endfor %}>`, true},
		{"if false", `{% cachedfor p in posts if=false %}{{ p.Title }}{{ forloop.Counter }}{% endcachedfor %}`, `{% for p in posts %}{{ p.Title }}{{ forloop.Counter }}{% endfor %}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pongo2.SetAutoescape(tc.autoescape)
			defer pongo2.SetAutoescape(true)
			e := newEnv(t, envConfig{})
			want := render(t, e.parse(tc.plain), data)
			if strings.Contains(want, "s3cr3t") {
				t.Fatal("the data was evaluated as a template")
			}
			tpl := e.parse(tc.cached)
			miss := render(t, tpl, data)
			hit := render(t, tpl, data)
			if miss != want || hit != want {
				t.Errorf("uncached %q\nmiss     %q\nhit      %q", want, miss, hit)
			}
		})
	}
}

// Escaping states are part of each item's key, so an item rendered
// without escaping is never served where escaping was due.
func TestCachedForEscapingStates(t *testing.T) {
	const macro = `{% macro list(posts) %}{% cachedfor p in posts %}{{ p.Title }};{% endcachedfor %}{% endmacro %}`
	e := newEnv(t, envConfig{})
	e.write("list.html", macro+`{% autoescape off %}{{ list(posts) }}{% endautoescape %}|{{ list(posts) }}`)
	tpl, err := e.set.FromFile("list.html")
	if err != nil {
		t.Fatal(err)
	}
	posts := xssPosts()
	var raw, escaped strings.Builder
	for _, p := range posts {
		raw.WriteString(p.Title + ";")
		escaped.WriteString(render(t, e.parse(`{{ t }};`), pongo2.Context{"t": p.Title}))
	}
	want := raw.String() + "|" + escaped.String()
	for range 2 {
		if got := render(t, tpl, pongo2.Context{"posts": posts}); got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	}
	if keys := e.observedKeys(); len(keys) != 4*len(posts) {
		t.Errorf("%d keys read, want %d", len(keys), 4*len(posts))
	}
}

func TestCachedForOneRoundTrip(t *testing.T) {
	e := newEnv(t, envConfig{})
	posts := make([]post, 100)
	for i := range posts {
		posts[i] = post{ID: i + 1, Title: fmt.Sprint("post ", i+1)}
	}
	var rendered sync.Map
	e.set.Globals["mark"] = func(id int) string {
		n, _ := rendered.LoadOrStore(id, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		return ""
	}
	tpl := e.parse(`<ul>{% cachedfor p in posts by=p.ID region="local" %}<li>{{ mark(p.ID) }}{{ p.Title }}</li>{% endcachedfor %}</ul>`)
	var want strings.Builder
	want.WriteString("<ul>")
	for _, p := range posts {
		fmt.Fprintf(&want, "<li>%s</li>", p.Title)
	}
	want.WriteString("</ul>")
	data := pongo2.Context{"posts": posts}
	renders := func() (n int64) {
		rendered.Range(func(_, v any) bool { n += v.(*atomic.Int64).Load(); return true })
		return n
	}
	for i, wantCalls := range []map[string]int{
		{"local.GetMulti": 1, "local.SetMulti": 1}, // cold
		{"local.GetMulti": 1},                      // every item a hit
	} {
		if got := render(t, tpl, data); got != want.String() {
			t.Fatalf("render %d: %q", i, got)
		}
		if calls := e.backendCalls(); fmt.Sprint(calls) != fmt.Sprint(wantCalls) {
			t.Errorf("render %d: backend calls %v, want %v", i, calls, wantCalls)
		}
	}
	if n := renders(); n != 100 {
		t.Errorf("%d renders, want 100", n)
	}
	// Invalidate two items, by the values of by=.
	ctx := context.Background()
	for _, id := range []any{7, "42"} { // by canonical text: the string "42" is post 42's key
		if err := e.cache.Invalidate(ctx, "<string>", "#1", id); err != nil {
			t.Fatal(err)
		}
	}
	e.backendCalls()
	posts[6].Title, posts[41].Title, posts[50].Title = "new 7", "new 42", "new 51"
	out := render(t, tpl, data)
	if !strings.Contains(out, "<li>new 7</li>") || !strings.Contains(out, "<li>new 42</li>") || !strings.Contains(out, "<li>post 51</li>") {
		t.Errorf("after invalidating 7 and 42: %q", out)
	}
	if calls := e.backendCalls(); fmt.Sprint(calls) != fmt.Sprint(map[string]int{"local.GetMulti": 1, "local.SetMulti": 1}) {
		t.Errorf("after invalidating two items: backend calls %v, want one read and one write", calls)
	}
	if n := renders(); n != 102 {
		t.Errorf("%d renders, want 102", n)
	}
}

func TestCachedForDuplicatesAndOrder(t *testing.T) {
	e := newEnv(t, envConfig{})
	tpl := e.parse(`{% cachedfor x in xs %}[{{ x }}{{ count(x) }}:{{ forloop.Counter }}]{% endcachedfor %}`)
	if got := render(t, tpl, pongo2.Context{"xs": []string{"a", "b", "a", "c", "a"}}); got != "[aa#1:1][bb#1:2][aa#1:1][cc#1:4][aa#1:1]" {
		t.Errorf("duplicates: %q, want a rendered once, at its first place", got)
	}
	// Another order serves the items as they were cached, counters included.
	if got := render(t, tpl, pongo2.Context{"xs": []string{"c", "b", "a", "d"}}); got != "[cc#1:4][bb#1:2][aa#1:1][dd#1:4]" {
		t.Errorf("reordered: %q", got)
	}
	// The items are keyed structurally, so equal values share a fragment
	// and different ones never do.
	tpl = e.parse(`{% cachedfor x in xs %}({{ count("s") }}){% endcachedfor %}`)
	got := render(t, tpl, pongo2.Context{"xs": []any{[]string{"a b"}, []string{"a", "b"}, []string{"a b"}, map[string]int{"k": 1}, 7, "7"}})
	if got != "(s#1)(s#2)(s#1)(s#3)(s#4)(s#4)" {
		t.Errorf("structural keys: %q", got)
	}
}

func TestCachedForVaryAndTags(t *testing.T) {
	e := newEnv(t, envConfig{})
	tpl := e.parse(`{% cached "page" lang %}{% cachedfor p in posts by=p.ID tags="post:"|add:p.ID tag="cards" lang %}{{ lang }}{{ p.ID }}{{ count(p.Title) }};{% endcachedfor %}{{ count("page") }}{% endcached %}`)
	posts := []post{{1, "one", nil}, {2, "two", nil}, {3, "three", nil}}
	data := func(lang string) pongo2.Context { return pongo2.Context{"posts": posts, "lang": lang} }
	for _, tc := range []struct {
		do   func()
		lang string
		want string
	}{
		{nil, "en", "en1one#1;en2two#1;en3three#1;page#1"},
		{nil, "fr", "fr1one#2;fr2two#2;fr3three#2;page#2"},
		{func() { e.invalidateTags("post:2") }, "en", "en1one#1;en2two#3;en3three#1;page#3"},
		{nil, "fr", "fr1one#2;fr2two#4;fr3three#2;page#4"},
		{func() { e.invalidateTags("cards") }, "en", "en1one#3;en2two#5;en3three#3;page#5"},
		{func() { e.invalidateTags("post:9") }, "en", "en1one#3;en2two#5;en3three#3;page#5"},
		{nil, "fr", "fr1one#4;fr2two#6;fr3three#4;page#6"},
	} {
		if tc.do != nil {
			tc.do()
		}
		if got := render(t, tpl, data(tc.lang)); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	// Items' Go code adds tags to the item being rendered.
	e.set.Globals["post"] = e.postFunc(map[int]string{1: "one", 2: "two"})
	tpl = e.parse(`{% cachedfor id in ids %}{{ post(id) }};{% endcachedfor %}`)
	ids := pongo2.Context{"ids": []int{1, 2}}
	render(t, tpl, ids)
	e.invalidateTags("post:2")
	if got := render(t, tpl, ids); got != "one;two;" || e.count("load") != 3 {
		t.Errorf("%q after %d loads, want 3 (post 2 rendered again)", got, e.count("load"))
	}
}

func TestCachedForErrors(t *testing.T) {
	e := newEnv(t, envConfig{})
	var fail atomic.Bool
	fail.Store(true)
	e.set.Globals["check"] = func(x string) (string, error) {
		if fail.Load() && x == "b" {
			return "", errors.New("backend down")
		}
		return x, nil
	}
	tpl := e.parse("{% cachedfor x in xs %}\n{{ check(x) }}{{ count(x) }}{% endcachedfor %}")
	data := pongo2.Context{"xs": []string{"a", "b"}}
	_, err := execute(t, tpl, data)
	var pe *pongo2.Error
	if !errors.As(err, &pe) || pe.Line != 2 || !strings.Contains(err.Error(), "backend down") {
		t.Fatalf("error %v, want the body's own error at line 2", err)
	}
	fail.Store(false)
	if got := render(t, tpl, data); got != "\naa#2\nbb#1" {
		t.Errorf("after the error went away: %q (nothing of the failed rendering is cached)", got)
	}

	for _, tc := range []struct {
		name, src string
		data      pongo2.Context
		cause     error
		msg       string
	}{
		{"sorted string", `{% cachedfor c in s sorted %}{{ c }}{% endcachedfor %}`, pongo2.Context{"s": "ba"}, nil, "sorted cannot order"},
		{"unknown region", `{% cachedfor x in xs region="nowhere" %}{{ x }}{% endcachedfor %}`, pongo2.Context{"xs": []int{1}}, nil, `"nowhere"`},
		{"by failing", `{% cachedfor x in xs by=x.y.z() %}{{ x }}{% endcachedfor %}`, pongo2.Context{"xs": []int{1}}, nil, ""},
		{"unencodable item", `{% cachedfor x in xs %}{{ x }}{% endcachedfor %}`, pongo2.Context{"xs": []any{func() {}}}, nil, "item 1"},
		{"bad expires", `{% cachedfor x in xs expires=ttl %}{{ x }}{% endcachedfor %}`, pongo2.Context{"xs": []int{1}, "ttl": "5"}, pongo2ext.ErrExpires, `"5"`},
		{"bad tags", `{% cachedfor x in xs tags=x %}{{ x }}{% endcachedfor %}`, pongo2.Context{"xs": []int{1}}, pongo2ext.ErrTags, "of type int"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := execute(t, e.parse(tc.src), tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.msg) || (tc.cause != nil && !errors.Is(pongo2ext.Cause(err), tc.cause)) {
				t.Errorf("error %v, want %q", err, tc.msg)
			}
		})
	}
}

func TestCachedForConcurrentColdStart(t *testing.T) {
	e := newEnv(t, envConfig{})
	var renders [20]atomic.Int64
	started, release := make(chan struct{}), make(chan struct{})
	e.set.Globals["mark"] = func(i int) string {
		if renders[i].Add(1) == 1 && i == 0 {
			close(started)
			<-release // hold the first rendering while the others arrive
		}
		return ""
	}
	items := make([]int, len(renders))
	for i := range items {
		items[i] = i
	}
	tpl := e.parse(`{% cachedfor i in items %}{{ mark(i) }}{{ i }},{% endcachedfor %}`)
	const goroutines = 50
	var wg, arrived sync.WaitGroup
	outs := make([]string, goroutines)
	arrived.Add(goroutines)
	for g := range goroutines {
		wg.Go(func() {
			arrived.Done()
			out, err := tpl.Execute(pongo2.Context{"items": items})
			if err != nil {
				t.Error(err)
			}
			outs[g] = out
		})
	}
	<-started
	arrived.Wait()
	close(release)
	wg.Wait()
	want := render(t, e.parse(`{% for i in items %}{{ i }},{% endfor %}`), pongo2.Context{"items": items})
	for g, out := range outs {
		if out != want {
			t.Fatalf("goroutine %d: %q", g, out)
		}
	}
	for i := range renders {
		if n := renders[i].Load(); n != 1 {
			t.Errorf("item %d rendered %d times, want once", i, n)
		}
	}
}

// With asynchronous creation, multi calls still render in the foreground:
// the items of a collection in a loop see the loop as it is (and -race
// stays quiet), also when they expire and when a tag retires them.
func TestCachedForInLoopWithAsyncCreation(t *testing.T) {
	var now atomic.Int64
	r := dogpile.NewRegion(dogpile.WithAsyncCreation(), dogpile.WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
	if err := r.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Minute}); err != nil {
		t.Fatal(err)
	}
	c := tmplcache.New(r)
	set := pongo2ext.NewSet("async", c)
	var renders atomic.Int64
	set.Globals["mark"] = func() string { renders.Add(1); return "" }
	tpl, err := set.FromString(`{% for i in items %}{% cachedfor j in items i tag="t" %}{{ mark() }}` +
		`{{ forloop.Parentloop.Counter }}.{{ forloop.Counter }}={{ i }}{{ j }};{% endcachedfor %}{% endfor %}`)
	if err != nil {
		t.Fatal(err)
	}
	data := pongo2.Context{"items": []string{"a", "b", "c"}}
	const want = "1.1=aa;1.2=ab;1.3=ac;2.1=ba;2.2=bb;2.3=bc;3.1=ca;3.2=cb;3.3=cc;"
	for i, step := range []func(){
		func() {},
		func() { now.Add(int64(2 * time.Minute)) },
		func() {
			if err := c.InvalidateTags(context.Background(), "t"); err != nil {
				t.Fatal(err)
			}
		},
	} {
		step()
		if got := render(t, tpl, data); got != want {
			t.Fatalf("step %d: %q", i, got)
		}
		if n := renders.Load(); n != int64(9*(i+1)) {
			t.Errorf("step %d: %d renders, want %d", i, n, 9*(i+1))
		}
	}
}

func TestCachedForCancelledRequestStopsWaiting(t *testing.T) {
	e := newEnv(t, envConfig{})
	release := make(chan struct{})
	started := make(chan struct{})
	e.set.Globals["slow"] = func(x string) string {
		if x == "b" {
			close(started)
			<-release
		}
		return x
	}
	tpl := e.parse(`{% for k in outer %}{% cachedfor x in xs %}{{ k }}{{ slow(x) }};{% endcachedfor %}{% endfor %}`)
	first := make(chan string)
	go func() { first <- render(t, tpl, pongo2.Context{"xs": []string{"a", "b"}, "outer": []int{1}}) }()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tpl.Execute(pongo2ext.WithContext(ctx, pongo2.Context{"xs": []string{"a", "b"}, "outer": []int{1}}))
	if !errors.Is(pongo2ext.Cause(err), context.Canceled) {
		t.Errorf("a waiter whose request ended: %v", err)
	}
	close(release)
	if got := <-first; got != "1a;1b;" {
		t.Errorf("the rendering went on: %q", got)
	}
}
