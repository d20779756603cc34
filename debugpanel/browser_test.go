package debugpanel_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dogpilego/dogpile/debugpanel"
	"github.com/dogpilego/dogpile/internal/paneltest"
)

// TestBrowser drives the panel in headless Chromium (through chromedp, in
// internal/paneltest): it loads a page of the test site, then the panel,
// checks the rows, the key filter and column sorting, and that a key with
// markup is shown as text. The demo site's tests run the same scenario.
func TestBrowser(t *testing.T) {
	site := newTestSite(t, debugpanel.Options{Guard: debugpanel.AllowAll})
	b := paneltest.Open(t, site.URL, site.Client())
	// The first visit creates every value, the second finds them.
	b.Visit("/page")
	if txt := b.Text("body"); !strings.Contains(txt, "user 1") {
		t.Fatalf("the page shows %q", txt)
	}
	b.Visit("/page")
	b.CheckPanel("debugpanel")

	// The user-controlled key is shown as text: no script ran (an alert
	// would make every later command fail) and its text is intact, in the
	// operations and in the timeline.
	b.Visit("/_dogpile/requests/1")
	for _, css := range []string{"#ops td.keys code", "#timeline code.tl-key"} {
		var found bool
		b.Script(`var k = arguments[0]; return Array.prototype.some.call(document.querySelectorAll(arguments[1]),
			function (c) { return c.textContent === k; })`, []any{xssKey, css}, &found)
		if !found {
			t.Errorf("the key with markup is not shown as text in %s", css)
		}
	}
}

// TestBrowserTimeline checks the timeline of a page of nested fragments
// and a collection in the browser (paneltest.CheckTimeline): where each
// bar lies, how rows nest and fold; then the page that found most of it
// cached, and the deletes and tag writes of an edit, which name what they
// retired. Markup in a fragment's name is text.
func TestBrowserTimeline(t *testing.T) {
	site := newTestSite(t, debugpanel.Options{Guard: debugpanel.AllowAll})
	b := paneltest.Open(t, site.URL, site.Client())
	for _, path := range []string{"/nested", "/edit", "/nested"} {
		b.Visit(path)
	}
	// 1: everything created. Layout > sidebar > widget and the post, the
	// fragment with markup, the collection of four cards, the first
	// holding an avatar.
	got := b.CheckTimeline(1, "debugpanel-nested")
	if got.Nested != 5 || got.Collections != 1 || got.Items != 4 || got.MaxDepth < 3 {
		t.Errorf("cold page's timeline: %+v; want 5 nested fragments (sidebar, widget, markup, collection, avatar), 1 collection of 4 items, 4 levels", got)
	}
	var names struct {
		Frag   bool `json:"frag"`
		Img    int  `json:"img"`
		Slow   int  `json:"slow"`
		Stripe int  `json:"stripe"`
	}
	b.Script(`var n = arguments[0];
		return {frag: Array.prototype.some.call(document.querySelectorAll("#timeline .tl-frag"), function (e) { return e.textContent === n; }),
			img: document.querySelectorAll("#timeline img").length,
			slow: document.querySelectorAll("#timeline .tl-row.slow").length,
			stripe: document.querySelectorAll("#timeline .tl-seg.seg-create").length};`, []any{markupName}, &names)
	if !names.Frag || names.Img != 0 {
		t.Errorf("the fragment name with markup: shown as text %v, %d img elements", names.Frag, names.Img)
	}
	if names.Slow == 0 || names.Stripe == 0 {
		t.Errorf("%d slow rows and %d creator stripes on a page that spends its time in creators", names.Slow, names.Stripe)
	}
	// The links to the rows with most time of their own unfold the rows
	// around them (the browser opens the <details> a link's target is in).
	b.Click("#tl-collapse")
	var targets []string
	b.Script(`return Array.prototype.map.call(document.querySelectorAll("#tl-slowest a"), function (a) { return a.getAttribute("href"); })`, nil, &targets)
	if len(targets) != 3 {
		t.Errorf("slowest rows %q, want 3", targets)
	}
	for i, target := range targets {
		b.Click(fmt.Sprintf("#tl-slowest a:nth-of-type(%d)", i+1))
		var shown bool
		b.Script(`return document.querySelector(arguments[0]).checkVisibility()`, []any{target}, &shown)
		if !shown {
			t.Errorf("the link to %s left it folded", target)
		}
	}
	// 3: after the edit, the sidebar and the second card are rendered
	// again, the rest is found.
	got = b.CheckTimeline(3, "debugpanel-nested-warm")
	if got.Nested != 4 || got.Collections != 1 || got.Items != 4 {
		t.Errorf("warm page's timeline: %+v; want 4 nested fragments (sidebar, widget, markup, collection: the avatar's card was found), 1 collection of 4 items", got)
	}
	var counts string
	b.Script(`return document.querySelector("#timeline [data-kind=collection] .tl-counts").textContent`, nil, &counts)
	if !strings.Contains(counts, "4 items") || !strings.Contains(counts, "3 hit") || !strings.Contains(counts, "1 created") {
		t.Errorf("the collection says %q, want 4 items, 3 hit, 1 created", counts)
	}
	// 2: the edit's rows name the fragment and the tag they retired.
	b.Visit("/_dogpile/requests/2")
	var retired []string
	b.Script(`return Array.prototype.map.call(document.querySelectorAll("#timeline .retired"), function (e) { return e.textContent; })`, nil, &retired)
	if strings.Join(retired, "|") != "retires fragment page.html:sidebar|retires tag post:2" {
		t.Errorf("the edit's rows say %q", retired)
	}
	b.ScreenshotElement("#timeline", "debugpanel-edit-timeline.png")
}
