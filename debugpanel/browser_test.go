package debugpanel_test

import (
	"strings"
	"testing"

	"github.com/dogpilego/dogpile/debugpanel"
	"github.com/dogpilego/dogpile/internal/paneltest"
)

// TestBrowser drives the panel in headless Chromium through chromedriver:
// it loads a page of the test site, then the panel, checks the rows, the
// key filter and column sorting (internal/paneltest), and that a key with
// markup is shown as text. The demo site's tests run the same scenario.
func TestBrowser(t *testing.T) {
	site := newTestSite(t, debugpanel.Options{})
	b := paneltest.Open(t, site.URL, site.Client())
	// The first visit creates every value, the second finds them.
	b.Visit("/page")
	if txt := b.Text("body"); !strings.Contains(txt, "user 1") {
		t.Fatalf("the page shows %q", txt)
	}
	b.Visit("/page")
	b.CheckPanel()

	// The user-controlled key is shown as text: no script ran (an alert
	// would make every later command fail) and its text is intact.
	b.Visit("/_dogpile/requests/1")
	var found bool
	b.Script(`var k = arguments[0]; return Array.prototype.some.call(document.querySelectorAll("#ops td.keys code"),
		function (c) { return c.textContent === k; })`, []any{xssKey}, &found)
	if !found {
		t.Error("the key with markup is not shown as text")
	}
}
