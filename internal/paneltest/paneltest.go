// Package paneltest drives the debug panel in headless Chromium, for the
// browser tests of package debugpanel and of the sites that mount it.
package paneltest

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

	"github.com/dogpilego/dogpile/internal/webdriver"
)

// Browser is a headless Chromium session on one site.
type Browser struct {
	t      *testing.T
	ctx    context.Context
	s      *webdriver.Session
	base   string
	client *http.Client
}

// Open starts chromedriver and a headless Chromium session for the site at
// base, whose JSON views client can fetch; both stop when t ends. Without
// chromium and chromedriver the test is skipped, or fails under CI=true
// (scripts/test-deps.sh installs them).
func Open(t *testing.T, base string, client *http.Client) *Browser {
	t.Helper()
	browser, driverPath, err := webdriver.FindChrome()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	driver, err := webdriver.Start(ctx, webdriver.DriverOptions{Path: driverPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(driver.Stop)
	s, err := driver.NewSession(ctx, webdriver.ChromeOptions{
		Binary: browser, Headless: true, UserDataDir: t.TempDir(), Width: 1400, Height: 1250,
	})
	if err != nil {
		t.Fatalf("%v\nchromedriver log:\n%s", err, driver.Log())
	}
	t.Cleanup(func() { _ = s.Delete(context.Background()) })
	return &Browser{t: t, ctx: ctx, s: s, base: base, client: client}
}

// Visit navigates to path on the site.
func (b *Browser) Visit(path string) {
	b.t.Helper()
	if err := b.s.Navigate(b.ctx, b.base+path); err != nil {
		b.t.Fatalf("navigate %s: %v", path, err)
	}
}

func (b *Browser) find(css string) *webdriver.Element {
	b.t.Helper()
	e, err := b.s.FindElement(b.ctx, webdriver.ByCSS, css)
	if err != nil {
		b.t.Fatalf("find %s: %v", css, err)
	}
	return e
}

// Text returns the text of the first element matching css.
func (b *Browser) Text(css string) string {
	b.t.Helper()
	txt, err := b.find(css).Text(b.ctx)
	if err != nil {
		b.t.Fatal(err)
	}
	return txt
}

// Script runs js in the page and decodes its result into out.
func (b *Browser) Script(js string, args []any, out any) {
	b.t.Helper()
	if err := b.s.ExecuteScript(b.ctx, js, args, out); err != nil {
		b.t.Fatalf("script: %v", err)
	}
}

// getJSON fetches a panel JSON view outside the browser.
func (b *Browser) getJSON(path string, out any) {
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
func (b *Browser) visibleColumn(id string, i int) []string {
	b.t.Helper()
	var vals []string
	b.Script(`var out = [], id = arguments[0], col = arguments[1];
		Array.prototype.forEach.call(document.getElementById(id).tBodies[0].rows, function (r) {
			if (r.hidden) { return; }
			var c = r.cells[col];
			out.push(c.hasAttribute("data-v") ? c.getAttribute("data-v") : c.textContent.trim());
		});
		return out;`, []any{id, i}, &vals)
	return vals
}

func (b *Browser) visibleRows(id string) int {
	b.t.Helper()
	var n int
	b.Script(`return Array.prototype.filter.call(document.getElementById(arguments[0]).tBodies[0].rows,
		function (r) { return !r.hidden && r.offsetParent !== null; }).length`, []any{id}, &n)
	return n
}

// Screenshot saves the page as a PNG named name under $DOGPILE_ARTIFACTS,
// or the test's temporary directory, and logs the path.
func (b *Browser) Screenshot(name string) {
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

// CheckPanel checks the panel mounted at /_dogpile/ against its own JSON
// views: the request count in the list page's title and header, one row
// per request, the oldest request's page with one row per operation, the
// key filter (one term, two terms that must both match, letter case), and
// sorting by a number and a text column. It saves screenshots of both
// pages. The site must have served at least one request through the panel's
// middleware.
func (b *Browser) CheckPanel() {
	t := b.t
	var list panelList
	b.getJSON("/_dogpile/requests.json", &list)
	if len(list.Requests) == 0 {
		t.Fatal("the panel recorded no request")
	}

	// The list page: the count in the title and the header, one row per
	// request.
	b.Visit("/_dogpile/")
	title, err := b.s.Title(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Dogpile · %d requests", len(list.Requests)); title != want {
		t.Errorf("list title %q, want %q", title, want)
	}
	if got := b.Text("#count"); got != fmt.Sprint(len(list.Requests)) {
		t.Errorf("list header count %q", got)
	}
	if n := b.visibleRows("requests"); n != len(list.Requests) {
		t.Errorf("%d request rows, want %d", n, len(list.Requests))
	}
	b.Screenshot("debugpanel-requests.png")

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
	// Operations without keys (invalidations) match no term.
	var first, other string // a key, and a key of an operation without first
	for _, o := range req.Operations {
		if len(o.Keys) > 0 {
			first = o.Keys[0]
			break
		}
	}
	for _, o := range req.Operations {
		if len(o.Keys) > 0 && !slices.Contains(o.Keys, first) {
			other = o.Keys[0]
			break
		}
	}
	if first == "" {
		t.Fatal("no operation of the oldest request has a key: the filter cannot be checked")
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
		if got := b.Text("#shown"); got != fmt.Sprint(want) {
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
	b.Screenshot("debugpanel-request.png")
}
