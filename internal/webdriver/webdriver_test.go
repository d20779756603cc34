package webdriver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDriver answers WebDriver commands the way chromedriver does and
// records what it was sent.
type fakeDriver struct {
	mu   sync.Mutex
	seen []string          // "METHOD path"
	body map[string][]byte // last body per "METHOD path"
}

func (f *fakeDriver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	cmd := r.Method + " " + r.URL.Path
	f.mu.Lock()
	f.seen = append(f.seen, cmd)
	if f.body == nil {
		f.body = map[string][]byte{}
	}
	f.body[cmd] = b
	f.mu.Unlock()
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"value": v})
	}
	el := map[string]string{elementKey: "e1"}
	switch cmd {
	case "POST /session":
		reply(200, map[string]any{"sessionId": "s1", "capabilities": map[string]any{}})
	case "POST /session/s1/url", "DELETE /session/s1", "POST /session/s1/element/e1/click",
		"POST /session/s1/element/e1/value", "POST /session/s1/element/e1/clear":
		reply(200, nil)
	case "GET /session/s1/title":
		reply(200, "Dogpile · 3 requests")
	case "POST /session/s1/element":
		var q struct{ Using, Value string }
		_ = json.Unmarshal(b, &q)
		if q.Value == "#missing" {
			reply(404, map[string]string{"error": "no such element", "message": "Unable to locate element"})
			return
		}
		reply(200, el)
	case "POST /session/s1/elements":
		reply(200, []any{el, map[string]string{elementKey: "e2"}})
	case "GET /session/s1/element/e1/text":
		reply(200, "hello")
	case "GET /session/s1/element/e1/attribute/data-x":
		reply(200, "42")
	case "GET /session/s1/element/e1/attribute/nope":
		reply(200, nil)
	case "POST /session/s1/execute/sync":
		reply(200, 7)
	case "GET /session/s1/screenshot":
		reply(200, base64.StdEncoding.EncodeToString([]byte("\x89PNG fake")))
	default:
		reply(404, map[string]string{"error": "unknown command", "message": cmd})
	}
}

func TestProtocolAgainstFakeServer(t *testing.T) {
	f := &fakeDriver{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	d := &Driver{client: client{base: srv.URL, http: srv.Client()}}
	ctx := context.Background()

	s, err := d.NewSession(ctx, ChromeOptions{Headless: true, UserDataDir: "/profile", Binary: "/bin/chromium"})
	if err != nil {
		t.Fatal(err)
	}
	var caps struct {
		Capabilities struct {
			AlwaysMatch struct {
				Chrome struct {
					Binary string   `json:"binary"`
					Args   []string `json:"args"`
				} `json:"goog:chromeOptions"`
			} `json:"alwaysMatch"`
		} `json:"capabilities"`
	}
	if err := json.Unmarshal(f.body["POST /session"], &caps); err != nil {
		t.Fatal(err)
	}
	args := caps.Capabilities.AlwaysMatch.Chrome.Args
	for _, want := range []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=/profile"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	if caps.Capabilities.AlwaysMatch.Chrome.Binary != "/bin/chromium" {
		t.Errorf("binary = %q", caps.Capabilities.AlwaysMatch.Chrome.Binary)
	}

	if err := s.Navigate(ctx, "http://127.0.0.1:1/x"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(f.body["POST /session/s1/url"]), `"url":"http://127.0.0.1:1/x"`) {
		t.Errorf("navigate body %s", f.body["POST /session/s1/url"])
	}
	if title, err := s.Title(ctx); err != nil || title != "Dogpile · 3 requests" {
		t.Errorf("Title = %q, %v", title, err)
	}
	e, err := s.FindElement(ctx, ByCSS, "#filter")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SendKeys(ctx, "user"); err != nil {
		t.Fatal(err)
	}
	if got := string(f.body["POST /session/s1/element/e1/value"]); got != `{"text":"user"}` {
		t.Errorf("send keys body %s", got)
	}
	if err := e.Click(ctx); err != nil {
		t.Fatal(err)
	}
	if txt, err := e.Text(ctx); err != nil || txt != "hello" {
		t.Errorf("Text = %q, %v", txt, err)
	}
	if v, ok, err := e.Attribute(ctx, "data-x"); err != nil || !ok || v != "42" {
		t.Errorf("Attribute = %q %v %v", v, ok, err)
	}
	if _, ok, err := e.Attribute(ctx, "nope"); err != nil || ok {
		t.Errorf("missing Attribute = %v %v", ok, err)
	}
	es, err := s.FindElements(ctx, ByCSS, "tr")
	if err != nil || len(es) != 2 {
		t.Fatalf("FindElements = %v, %v", es, err)
	}
	var n int
	if err := s.ExecuteScript(ctx, "return arguments[0] ? 7 : 0", []any{e}, &n); err != nil || n != 7 {
		t.Errorf("ExecuteScript = %d, %v", n, err)
	}
	if got := string(f.body["POST /session/s1/execute/sync"]); !strings.Contains(got, `"args":[{"`+elementKey+`":"e1"}]`) {
		t.Errorf("script body %s", got)
	}
	png, err := s.Screenshot(ctx)
	if err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Errorf("Screenshot = %q, %v", png, err)
	}
	_, err = s.FindElement(ctx, ByCSS, "#missing")
	var we *Error
	if !errors.Is(err, ErrNoSuchElement) || !errors.As(err, &we) || we.Status != 404 {
		t.Errorf("missing element error = %v", err)
	}
	if err := s.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}

// requireChrome returns the browser and driver, skipping the test when they
// are missing, or failing it under CI, where scripts/test-deps.sh must
// have installed them.
func requireChrome(t *testing.T) (browser, driver string) {
	t.Helper()
	browser, driver, err := FindChrome()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return browser, driver
}

func TestRealChromium(t *testing.T) {
	browser, driverPath := requireChrome(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><title>wd test</title>
<input id="in"><button id="b">go</button><p id="out"></p>
<script>document.getElementById("b").onclick = function () {
  document.getElementById("out").textContent = "got " + document.getElementById("in").value;
};</script>`)
	}))
	defer srv.Close()

	d, err := Start(ctx, DriverOptions{Path: driverPath})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	s, err := d.NewSession(ctx, ChromeOptions{Binary: browser, Headless: true, UserDataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("%v\n%s", err, d.Log())
	}
	defer func() { _ = s.Delete(context.Background()) }()

	if err := s.Navigate(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	if title, err := s.Title(ctx); err != nil || title != "wd test" {
		t.Fatalf("Title = %q, %v", title, err)
	}
	in, err := s.FindElement(ctx, ByCSS, "#in")
	if err != nil {
		t.Fatal(err)
	}
	if err := in.SendKeys(ctx, "dogpile"); err != nil {
		t.Fatal(err)
	}
	b, err := s.FindElement(ctx, ByCSS, "#b")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Click(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := s.FindElement(ctx, ByCSS, "#out")
	if err != nil {
		t.Fatal(err)
	}
	if txt, err := out.Text(ctx); err != nil || txt != "got dogpile" {
		t.Fatalf("Text = %q, %v", txt, err)
	}
	var sum int
	if err := s.ExecuteScript(ctx, "return arguments[0] + arguments[1]", []any{40, 2}, &sum); err != nil || sum != 42 {
		t.Fatalf("ExecuteScript = %d, %v", sum, err)
	}
	if _, err := s.FindElement(ctx, ByCSS, "#absent"); !errors.Is(err, ErrNoSuchElement) {
		t.Fatalf("absent element: %v", err)
	}
	png, err := s.Screenshot(ctx)
	if err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Fatalf("Screenshot: %d bytes, %v", len(png), err)
	}
	if err := s.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}
