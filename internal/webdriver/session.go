package webdriver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// ChromeOptions describe the browser of a new session.
type ChromeOptions struct {
	// Binary is the browser executable; "" lets chromedriver find it.
	Binary string
	// Headless runs the browser without a window, with the flags that
	// keep it quiet and offline: --headless --no-sandbox --disable-gpu
	// --disable-quic --no-first-run --disable-background-networking
	// --disable-component-update --disable-sync.
	Headless bool
	// UserDataDir is the profile directory (--user-data-dir); use a
	// temporary directory so runs share nothing.
	UserDataDir string
	// Width and Height size the window (1280×900 by default).
	Width, Height int
	// Args are more command-line flags.
	Args []string
}

func (o ChromeOptions) args() []string {
	var args []string
	if o.Headless {
		args = append(args, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync")
	}
	if o.UserDataDir != "" {
		args = append(args, "--user-data-dir="+o.UserDataDir)
	}
	w, h := o.Width, o.Height
	if w <= 0 || h <= 0 {
		w, h = 1280, 900
	}
	args = append(args, fmt.Sprintf("--window-size=%d,%d", w, h))
	return append(args, o.Args...)
}

// Session is one browser session.
type Session struct {
	c  *client
	id string
}

// NewSession starts a browser through the driver.
func (d *Driver) NewSession(ctx context.Context, o ChromeOptions) (*Session, error) {
	chrome := map[string]any{"args": o.args()}
	if o.Binary != "" {
		chrome["binary"] = o.Binary
	}
	body := map[string]any{
		"capabilities": map[string]any{
			"alwaysMatch": map[string]any{
				"browserName":        "chrome",
				"goog:chromeOptions": chrome,
			},
		},
	}
	var out struct {
		SessionID string `json:"sessionId"`
	}
	if err := d.do(ctx, http.MethodPost, "/session", body, &out); err != nil {
		return nil, err
	}
	if out.SessionID == "" {
		return nil, fmt.Errorf("webdriver: new session: no session id")
	}
	return &Session{c: &d.client, id: out.SessionID}, nil
}

// ID returns the session's id.
func (s *Session) ID() string { return s.id }

func (s *Session) path(p string) string { return "/session/" + url.PathEscape(s.id) + p }

// Delete ends the session and closes its browser.
func (s *Session) Delete(ctx context.Context) error {
	return s.c.do(ctx, http.MethodDelete, s.path(""), nil, nil)
}

// Navigate loads u and waits for the page to load.
func (s *Session) Navigate(ctx context.Context, u string) error {
	return s.c.do(ctx, http.MethodPost, s.path("/url"), map[string]string{"url": u}, nil)
}

// CurrentURL returns the page's URL.
func (s *Session) CurrentURL(ctx context.Context) (string, error) {
	var u string
	err := s.c.do(ctx, http.MethodGet, s.path("/url"), nil, &u)
	return u, err
}

// Title returns the page's title.
func (s *Session) Title(ctx context.Context) (string, error) {
	var t string
	err := s.c.do(ctx, http.MethodGet, s.path("/title"), nil, &t)
	return t, err
}

// Locator strategies for FindElement.
const (
	ByCSS   = "css selector"
	ByXPath = "xpath"
	ByLink  = "link text"
	ByTag   = "tag name"
)

// FindElement returns the first element matching value under strategy by
// (ByCSS, ...). A missing element is an error matching ErrNoSuchElement.
func (s *Session) FindElement(ctx context.Context, by, value string) (*Element, error) {
	return s.findElement(ctx, s.path("/element"), by, value)
}

// FindElements returns every element matching value, possibly none.
func (s *Session) FindElements(ctx context.Context, by, value string) ([]*Element, error) {
	return s.findElements(ctx, s.path("/elements"), by, value)
}

func (s *Session) findElement(ctx context.Context, path, by, value string) (*Element, error) {
	var ref map[string]string
	if err := s.c.do(ctx, http.MethodPost, path, map[string]string{"using": by, "value": value}, &ref); err != nil {
		return nil, err
	}
	return s.element(ref)
}

func (s *Session) findElements(ctx context.Context, path, by, value string) ([]*Element, error) {
	var refs []map[string]string
	if err := s.c.do(ctx, http.MethodPost, path, map[string]string{"using": by, "value": value}, &refs); err != nil {
		return nil, err
	}
	out := make([]*Element, 0, len(refs))
	for _, ref := range refs {
		e, err := s.element(ref)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (s *Session) element(ref map[string]string) (*Element, error) {
	id := ref[elementKey]
	if id == "" {
		return nil, fmt.Errorf("webdriver: answer %v holds no element reference", ref)
	}
	return &Element{s: s, id: id}, nil
}

// ExecuteScript runs script in the page as the body of a function whose
// arguments are args (Elements may be passed) and decodes its return value
// into out, when out is not nil.
func (s *Session) ExecuteScript(ctx context.Context, script string, args []any, out any) error {
	if args == nil {
		args = []any{}
	}
	return s.c.do(ctx, http.MethodPost, s.path("/execute/sync"), map[string]any{"script": script, "args": args}, out)
}

// Screenshot returns a PNG of the viewport.
func (s *Session) Screenshot(ctx context.Context) ([]byte, error) {
	var b64 string
	if err := s.c.do(ctx, http.MethodGet, s.path("/screenshot"), nil, &b64); err != nil {
		return nil, err
	}
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("webdriver: decoding the screenshot: %w", err)
	}
	return png, nil
}

// SetWindowSize resizes the browser window.
func (s *Session) SetWindowSize(ctx context.Context, width, height int) error {
	return s.c.do(ctx, http.MethodPost, s.path("/window/rect"), map[string]int{"width": width, "height": height}, nil)
}

// Element is an element of the page of a Session.
type Element struct {
	s  *Session
	id string
}

// MarshalJSON writes the W3C element reference, so Elements can be passed
// to ExecuteScript.
func (e *Element) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{elementKey: e.id})
}

func (e *Element) path(p string) string { return e.s.path("/element/" + url.PathEscape(e.id) + p) }

// FindElement returns the first element under e matching value.
func (e *Element) FindElement(ctx context.Context, by, value string) (*Element, error) {
	return e.s.findElement(ctx, e.path("/element"), by, value)
}

// FindElements returns every element under e matching value.
func (e *Element) FindElements(ctx context.Context, by, value string) ([]*Element, error) {
	return e.s.findElements(ctx, e.path("/elements"), by, value)
}

// Click clicks the element.
func (e *Element) Click(ctx context.Context) error {
	return e.s.c.do(ctx, http.MethodPost, e.path("/click"), map[string]any{}, nil)
}

// SendKeys types text into the element.
func (e *Element) SendKeys(ctx context.Context, text string) error {
	return e.s.c.do(ctx, http.MethodPost, e.path("/value"), map[string]string{"text": text}, nil)
}

// Clear empties an input element.
func (e *Element) Clear(ctx context.Context) error {
	return e.s.c.do(ctx, http.MethodPost, e.path("/clear"), map[string]any{}, nil)
}

// Text returns the element's rendered text; hidden elements have none.
func (e *Element) Text(ctx context.Context) (string, error) {
	var t string
	err := e.s.c.do(ctx, http.MethodGet, e.path("/text"), nil, &t)
	return t, err
}

// Attribute returns the element's attribute name, and false when it has
// none.
func (e *Element) Attribute(ctx context.Context, name string) (string, bool, error) {
	var v *string
	if err := e.s.c.do(ctx, http.MethodGet, e.path("/attribute/"+url.PathEscape(name)), nil, &v); err != nil || v == nil {
		return "", false, err
	}
	return *v, true, nil
}

// Property returns the element's DOM property name, decoded into out.
func (e *Element) Property(ctx context.Context, name string, out any) error {
	return e.s.c.do(ctx, http.MethodGet, e.path("/property/"+url.PathEscape(name)), nil, out)
}

// Displayed reports whether the element is shown.
func (e *Element) Displayed(ctx context.Context) (bool, error) {
	var b bool
	err := e.s.c.do(ctx, http.MethodGet, e.path("/displayed"), nil, &b)
	return b, err
}
