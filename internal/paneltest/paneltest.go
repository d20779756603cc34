// Package paneltest drives the debug panel in headless Chromium, for the
// browser tests of package debugpanel and of the sites that mount it. It
// speaks the DevTools protocol to Chromium through chromedp.
package paneltest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser is a headless Chromium tab on one site.
type Browser struct {
	t      *testing.T
	ctx    context.Context
	base   string
	client *http.Client
}

// FindChromium returns the path of a Chromium (or Chrome) browser found in
// PATH, or an error naming what is missing.
func FindChromium() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium in PATH (Debian package chromium; scripts/test-deps.sh installs it)")
}

// Open starts headless Chromium with a tab for the site at base, whose
// JSON views client can fetch; the browser stops when t ends. Without
// Chromium the test is skipped, or fails under CI=true.
//
// Chromium runs with a fresh profile in a temporary directory and without
// its background connections, which a machine without a network refuses.
func Open(t *testing.T, base string, client *http.Client) *Browser {
	t.Helper()
	path, err := FindChromium()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	out := &limitedBuffer{max: 64 << 10}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // as root, Chromium has no sandbox
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1250),
		chromedp.CombinedOutput(out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	ctx, cancel := context.WithTimeout(tabCtx, 60*time.Second)
	t.Cleanup(func() {
		cancel()
		cancelTab()
		cancelAlloc() // waits for the browser to exit
	})
	// Start the browser now, so that a failure to start is reported as one.
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("starting %s: %v\nits output:\n%s", path, err, out)
	}
	return &Browser{t: t, ctx: ctx, base: base, client: client}
}

// do runs actions in the tab, failing the test on an error.
func (b *Browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// run runs one action and returns its value, failing the test on an error.
func run[T any](b *Browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// Visit navigates to path on the site and waits for the page to load.
func (b *Browser) Visit(path string) {
	b.t.Helper()
	b.do("navigate "+path, chromedp.Navigate(b.base+path))
}

// Text returns the rendered text of the first element matching css.
func (b *Browser) Text(css string) string {
	b.t.Helper()
	return run(b, "text of "+css, chromedp.Text(chromedp.CSS(css)))
}

// Script runs js in the page as the body of a function whose arguments
// are args (JSON-encoded), and decodes its return value into out.
func (b *Browser) Script(js string, args []any, out any) {
	b.t.Helper()
	if args == nil {
		args = []any{}
	}
	argv, err := json.Marshal(args)
	if err != nil {
		b.t.Fatalf("script arguments: %v", err)
	}
	raw := run(b, "script", chromedp.Evaluate[[]byte]("(function () {"+js+"\n}).apply(null, "+string(argv)+")"))
	if err := json.Unmarshal(raw, out); err != nil {
		b.t.Fatalf("script result %s: %v", raw, err)
	}
}

// Click clicks the first element matching css.
func (b *Browser) Click(css string) {
	b.t.Helper()
	b.click(css)
}

// click clicks the first element matching css.
func (b *Browser) click(css string) {
	b.t.Helper()
	b.do("click "+css, chromedp.Click(chromedp.CSS(css)))
}

// typeInto empties the input matching css as a user would, then types
// text into it.
func (b *Browser) typeInto(css, text string) {
	b.t.Helper()
	var ok bool
	b.Script(`var e = document.querySelector(arguments[0]);
		if (!e) { return false; }
		e.value = "";
		e.dispatchEvent(new Event("input", {bubbles: true}));
		return true;`, []any{css}, &ok)
	if !ok {
		b.t.Fatalf("no %s to type into", css)
	}
	b.do("type into "+css, chromedp.SendKeys(chromedp.CSS(css), text))
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

// ArtifactsEnv names the environment variable that, when set, gives the
// directory screenshots are saved in.
const ArtifactsEnv = "DOGPILE_ARTIFACTS"

// Screenshot saves the viewport as a PNG named name and logs the path:
// in $DOGPILE_ARTIFACTS when it is set, else in the test's artifact
// directory (testing.T.ArtifactDir: kept under -outputdir when the tests
// run with -artifacts, a temporary directory otherwise).
func (b *Browser) Screenshot(name string) {
	b.t.Helper()
	b.save(name, run(b, "screenshot", chromedp.CaptureScreenshot()))
}

// ScreenshotElement saves a PNG of the first element matching css, whole
// even where it is taller than the viewport, as Screenshot does.
func (b *Browser) ScreenshotElement(css, name string) {
	b.t.Helper()
	b.save(name, run(b, "screenshot of "+css, chromedp.Screenshot(chromedp.CSS(css))))
}

func (b *Browser) save(name string, png []byte) {
	b.t.Helper()
	dir := os.Getenv(ArtifactsEnv)
	if dir == "" {
		dir = b.t.ArtifactDir()
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
		Path  string `json:"path"`
		Stats struct {
			Ops int `json:"ops"`
		} `json:"stats"`
	} `json:"requests"`
}

// RequestPaths returns the paths of the requests the panel mounted at
// /_dogpile/ kept, oldest first, and the ID of the first request of each
// path.
func (b *Browser) RequestPaths() (paths []string, first map[string]uint64) {
	b.t.Helper()
	var list panelList
	b.getJSON("/_dogpile/requests.json", &list)
	first = map[string]uint64{}
	for i := len(list.Requests) - 1; i >= 0; i-- {
		r := list.Requests[i]
		paths = append(paths, r.Path)
		if _, ok := first[r.Path]; !ok {
			first[r.Path] = r.ID
		}
	}
	return paths, first
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
// pages, name+"-requests.png" and name+"-request.png". The site must have
// served at least one request through the panel's middleware.
func (b *Browser) CheckPanel(name string) {
	t := b.t
	var list panelList
	b.getJSON("/_dogpile/requests.json", &list)
	if len(list.Requests) == 0 {
		t.Fatal("the panel recorded no request")
	}

	// The list page: the count in the title and the header, one row per
	// request.
	b.Visit("/_dogpile/")
	title := run(b, "title", chromedp.Title())
	if want := fmt.Sprintf("Dogpile · %d requests", len(list.Requests)); title != want {
		t.Errorf("list title %q, want %q", title, want)
	}
	if got := b.Text("#count"); got != fmt.Sprint(len(list.Requests)) {
		t.Errorf("list header count %q", got)
	}
	if n := b.visibleRows("requests"); n != len(list.Requests) {
		t.Errorf("%d request rows, want %d", n, len(list.Requests))
	}
	b.Screenshot(name + "-requests.png")

	// Open the oldest request: the one that created values.
	oldest := list.Requests[len(list.Requests)-1]
	const links = "#requests tbody tr td:first-child a"
	if n := len(run(b, "links", chromedp.Nodes(chromedp.CSSAll(links)))); n != len(list.Requests) {
		t.Fatalf("%d links, want %d", n, len(list.Requests))
	}
	if _, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS("#requests tbody tr:last-child td:first-child a"))); err != nil {
		t.Fatalf("following the link: %v", err)
	}
	if u := run(b, "location", chromedp.Location()); !strings.HasSuffix(u, fmt.Sprintf("/_dogpile/requests/%d", oldest.ID)) {
		t.Fatalf("the link went to %s", u)
	}
	var req panelRequest
	b.getJSON(fmt.Sprintf("/_dogpile/requests/%d.json", oldest.ID), &req)
	ops := len(req.Operations)
	if title := run(b, "title", chromedp.Title()); !strings.HasPrefix(title, fmt.Sprintf("Dogpile · %d ops", oldest.Stats.Ops)) {
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
	for _, query := range []string{first, first + " " + other, strings.ToUpper(first)} {
		b.typeInto("#filter", query)
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
	b.typeInto("#filter", " ") // no term: every row
	if got := b.visibleRows("ops"); got != ops {
		t.Errorf("an empty filter shows %d rows, want %d", got, ops)
	}

	// Sorting: a click on "time (ms)" sorts ascending, a second descending.
	const timeCol = 2
	const timeHead = "#ops thead th:nth-child(3)"
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
		b.click(timeHead)
		// Read in the page: chromedp's copy of the DOM learns of changed
		// attributes from events that may still be on their way.
		var got string
		b.Script(`return document.querySelector(arguments[0]).getAttribute("aria-sort") || ""`, []any{timeHead}, &got)
		if got != dir {
			t.Errorf("aria-sort %q, want %q", got, dir)
		}
		times := numbers()
		sorted := slices.IsSorted(times)
		if dir == "descending" {
			sorted = slices.IsSortedFunc(times, func(a, b float64) int { return cmp.Compare(b, a) })
		}
		if !sorted || len(times) != ops {
			t.Errorf("%s by time: %v", dir, times)
		}
	}
	// Text columns sort too; back to chronological order by the start
	// column for the screenshot.
	b.click("#ops thead th:nth-child(4)")
	if ops := b.visibleColumn("ops", 3); !slices.IsSorted(ops) {
		t.Errorf("operations not sorted by name: %v", ops)
	}
	b.click("#ops thead th:nth-child(2)")
	b.Screenshot(name + "-request.png")
}

// limitedBuffer keeps the last max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

// String returns what was kept.
func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
