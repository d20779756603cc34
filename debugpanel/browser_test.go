package debugpanel_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/debugpanel"
	"github.com/dogpilego/dogpile/internal/webdriver"
)

// TestBrowser drives the panel in headless Chromium through chromedriver:
// it loads a page of the site, then the panel, checks the rows, the key
// filter and column sorting, and saves screenshots (under
// $DOGPILE_ARTIFACTS when set). Without chromium and chromedriver it is
// skipped, or fails under CI=true (scripts/test-deps.sh installs them).
func TestBrowser(t *testing.T) {
	browser, driverPath, err := webdriver.FindChrome()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	site := newTestSite(t, debugpanel.Options{})
	driver, err := webdriver.Start(ctx, webdriver.DriverOptions{Path: driverPath})
	if err != nil {
		t.Fatal(err)
	}
	defer driver.Stop()
	s, err := driver.NewSession(ctx, webdriver.ChromeOptions{
		Binary: browser, Headless: true, UserDataDir: t.TempDir(), Width: 1400, Height: 1250,
	})
	if err != nil {
		t.Fatalf("%v\nchromedriver log:\n%s", err, driver.Log())
	}
	defer func() { _ = s.Delete(context.Background()) }()

	b := &browserRun{t: t, ctx: ctx, s: s, base: site.URL, client: site.Client()}
	// The first visit creates every value, the second finds them.
	b.open("/page")
	if txt := b.text("body"); !strings.Contains(txt, "user 1") {
		t.Fatalf("the page shows %q", txt)
	}
	b.open("/page")
	b.checkPanel()

	// The user-controlled key is shown as text: no script ran (an alert
	// would make every later command fail) and its text is intact.
	b.open("/_dogpile/requests/1")
	var found bool
	b.script(`var k = arguments[0]; return Array.prototype.some.call(document.querySelectorAll("#ops td.keys code"),
		function (c) { return c.textContent === k; })`, []any{xssKey}, &found)
	if !found {
		t.Error("the key with markup is not shown as text")
	}
}

// browserRun is the panel scenario, against any site behind the
// middleware with the panel at /_dogpile/ (the test site today, the demo
// site later).
type browserRun struct {
	t      *testing.T
	ctx    context.Context
	s      *webdriver.Session
	base   string
	client *http.Client
}

func (b *browserRun) open(path string) {
	b.t.Helper()
	if err := b.s.Navigate(b.ctx, b.base+path); err != nil {
		b.t.Fatalf("navigate %s: %v", path, err)
	}
}

func (b *browserRun) find(css string) *webdriver.Element {
	b.t.Helper()
	e, err := b.s.FindElement(b.ctx, webdriver.ByCSS, css)
	if err != nil {
		b.t.Fatalf("find %s: %v", css, err)
	}
	return e
}

func (b *browserRun) text(css string) string {
	b.t.Helper()
	txt, err := b.find(css).Text(b.ctx)
	if err != nil {
		b.t.Fatal(err)
	}
	return txt
}

func (b *browserRun) script(js string, args []any, out any) {
	b.t.Helper()
	if err := b.s.ExecuteScript(b.ctx, js, args, out); err != nil {
		b.t.Fatalf("script: %v", err)
	}
}

// getJSON fetches a panel JSON view outside the browser.
func (b *browserRun) getJSON(path string, out any) {
	b.t.Helper()
	resp, err := b.client.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		b.t.Fatalf("%s: %v", path, err)
	}
}

// visibleColumn returns the sort value (data-v, else the text) of column
// i of the visible rows of table id, top to bottom.
func (b *browserRun) visibleColumn(id string, i int) []string {
	b.t.Helper()
	var vals []string
	b.script(`var out = [], id = arguments[0], col = arguments[1];
		Array.prototype.forEach.call(document.getElementById(id).tBodies[0].rows, function (r) {
			if (r.hidden) { return; }
			var c = r.cells[col];
			out.push(c.hasAttribute("data-v") ? c.getAttribute("data-v") : c.textContent.trim());
		});
		return out;`, []any{id, i}, &vals)
	return vals
}

func (b *browserRun) visibleRows(id string) int {
	b.t.Helper()
	var n int
	b.script(`return Array.prototype.filter.call(document.getElementById(arguments[0]).tBodies[0].rows,
		function (r) { return !r.hidden && r.offsetParent !== null; }).length`, []any{id}, &n)
	return n
}

func (b *browserRun) screenshot(name string) {
	b.t.Helper()
	png, err := b.s.Screenshot(b.ctx)
	if err != nil {
		b.t.Fatal(err)
	}
	dir := os.Getenv("DOGPILE_ARTIFACTS")
	if dir == "" {
		dir = b.t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

type panelList struct {
	Requests []struct {
		ID    uint64 `json:"id"`
		Stats struct {
			Ops int `json:"ops"`
		} `json:"stats"`
	} `json:"requests"`
}

type panelRequest struct {
	Operations []struct {
		Keys []string `json:"keys"`
	} `json:"operations"`
}

func (b *browserRun) checkPanel() {
	t := b.t
	var list panelList
	b.getJSON("/_dogpile/requests.json", &list)
	if len(list.Requests) == 0 {
		t.Fatal("the panel recorded no request")
	}

	// The list page: the count in the title and the header, one row per
	// request.
	b.open("/_dogpile/")
	title, err := b.s.Title(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Dogpile · %d requests", len(list.Requests)); title != want {
		t.Errorf("list title %q, want %q", title, want)
	}
	if got := b.text("#count"); got != fmt.Sprint(len(list.Requests)) {
		t.Errorf("list header count %q", got)
	}
	if n := b.visibleRows("requests"); n != len(list.Requests) {
		t.Errorf("%d request rows, want %d", n, len(list.Requests))
	}
	b.screenshot("debugpanel-requests.png")

	// Open the oldest request: the one that created values.
	oldest := list.Requests[len(list.Requests)-1]
	links, err := b.s.FindElements(b.ctx, webdriver.ByCSS, "#requests tbody tr td:first-child a")
	if err != nil || len(links) != len(list.Requests) {
		t.Fatalf("%d links, %v", len(links), err)
	}
	if err := links[len(links)-1].Click(b.ctx); err != nil {
		t.Fatal(err)
	}
	u, _ := b.s.CurrentURL(b.ctx)
	if !strings.HasSuffix(u, fmt.Sprintf("/_dogpile/requests/%d", oldest.ID)) {
		t.Fatalf("the link went to %s", u)
	}
	var req panelRequest
	b.getJSON(fmt.Sprintf("/_dogpile/requests/%d.json", oldest.ID), &req)
	ops := len(req.Operations)
	if title, _ := b.s.Title(b.ctx); !strings.HasPrefix(title, fmt.Sprintf("Dogpile · %d ops", oldest.Stats.Ops)) {
		t.Errorf("request title %q", title)
	}
	if n := b.visibleRows("ops"); n != ops || ops == 0 {
		t.Fatalf("%d operation rows, want %d", n, ops)
	}
	if n := b.visibleRows("stats"); n == 0 {
		t.Error("no statistics rows")
	}

	// The filter: space-separated terms, all must match a row's keys.
	expect := func(query string) int {
		terms := strings.Fields(strings.ToLower(query))
		n := 0
		for _, o := range req.Operations {
			text := strings.ToLower(strings.Join(o.Keys, "\n"))
			if !slices.ContainsFunc(terms, func(term string) bool { return !strings.Contains(text, term) }) {
				n++
			}
		}
		return n
	}
	first := req.Operations[0].Keys[0]
	var other string // a key of an operation without first
	for _, o := range req.Operations {
		if !slices.Contains(o.Keys, first) {
			other = o.Keys[0]
			break
		}
	}
	box := b.find("#filter")
	for _, query := range []string{first, first + " " + other, strings.ToUpper(first)} {
		if err := box.Clear(b.ctx); err != nil {
			t.Fatal(err)
		}
		if err := box.SendKeys(b.ctx, query); err != nil {
			t.Fatal(err)
		}
		want := expect(query)
		if got := b.visibleRows("ops"); got != want {
			t.Errorf("filter %q shows %d rows, want %d", query, got, want)
		}
		if got := b.text("#shown"); got != fmt.Sprint(want) {
			t.Errorf("filter %q: counter %q, want %d", query, got, want)
		}
		if query == first && want == ops {
			t.Errorf("filter %q hides nothing: the test proves nothing", query)
		}
	}
	if err := box.Clear(b.ctx); err != nil {
		t.Fatal(err)
	}
	if err := box.SendKeys(b.ctx, " "); err != nil { // no term: every row
		t.Fatal(err)
	}
	if got := b.visibleRows("ops"); got != ops {
		t.Errorf("an empty filter shows %d rows, want %d", got, ops)
	}

	// Sorting: a click on "time (ms)" sorts ascending, a second descending.
	const timeCol = 2
	head := b.find("#ops thead th:nth-child(3)")
	numbers := func() []float64 {
		var out []float64
		for _, v := range b.visibleColumn("ops", timeCol) {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("time cell %q: %v", v, err)
			}
			out = append(out, f)
		}
		return out
	}
	for _, dir := range []string{"ascending", "descending"} {
		if err := head.Click(b.ctx); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := head.Attribute(b.ctx, "aria-sort"); got != dir {
			t.Errorf("aria-sort %q, want %q", got, dir)
		}
		got := numbers()
		sorted := slices.IsSorted(got)
		if dir == "descending" {
			sorted = slices.IsSortedFunc(got, func(a, b float64) int { return cmp.Compare(b, a) })
		}
		if !sorted || len(got) != ops {
			t.Errorf("%s by time: %v", dir, got)
		}
	}
	// Text columns sort too; back to chronological order by the start
	// column for the screenshot.
	if err := b.find("#ops thead th:nth-child(4)").Click(b.ctx); err != nil {
		t.Fatal(err)
	}
	if ops := b.visibleColumn("ops", 3); !slices.IsSorted(ops) {
		t.Errorf("operations not sorted by name: %v", ops)
	}
	if err := b.find("#ops thead th:nth-child(2)").Click(b.ctx); err != nil {
		t.Fatal(err)
	}
	b.screenshot("debugpanel-request.png")
}
