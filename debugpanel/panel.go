package debugpanel

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// DefaultPrefix is the path the panel is usually mounted at.
const DefaultPrefix = "/_dogpile"

// Options configure a Panel. The zero value is usable: 50 requests of at
// most 1000 operations, mounted at /_dogpile, with no guard.
type Options struct {
	// MaxRequests is how many requests the panel keeps, the most recent
	// ones (DefaultMaxRequests).
	MaxRequests int
	// Limits bound each request's operations.
	Limits Limits
	// Prefix is the path the panel is mounted at (DefaultPrefix). The
	// middleware does not record requests under it.
	Prefix string
	// Guard decides who may see the panel: a request for which it returns
	// false gets 403 Forbidden. Without a guard, anyone who can reach the
	// panel sees every recorded request's paths and cache keys: never
	// mount it on a production server without one.
	Guard func(*http.Request) bool
	// Skip, when set, replaces the default choice of requests the
	// middleware does not record (those under Prefix).
	Skip func(*http.Request) bool
	// NoServerTiming turns the Server-Timing response header off.
	NoServerTiming bool
}

// Panel keeps the last requests' cache operations and shows them: an
// http.Handler serving an HTML page per request and the same data as
// JSON. Its Middleware records the requests. A Panel is safe for
// concurrent use.
type Panel struct {
	opts   Options
	nextID atomic.Uint64

	mu   sync.Mutex
	reqs []*Recorder // oldest first
}

// New returns a Panel configured by o.
func New(o Options) *Panel {
	if o.MaxRequests <= 0 {
		o.MaxRequests = DefaultMaxRequests
	}
	o.Limits = o.Limits.withDefaults()
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	o.Prefix = "/" + strings.Trim(o.Prefix, "/")
	return &Panel{opts: o}
}

func (p *Panel) skip(r *http.Request) bool {
	if p.opts.Skip != nil {
		return p.opts.Skip(r)
	}
	return r.URL.Path == p.opts.Prefix || strings.HasPrefix(r.URL.Path, p.opts.Prefix+"/")
}

func (p *Panel) add(rec *Recorder) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, rec)
	if over := len(p.reqs) - p.opts.MaxRequests; over > 0 {
		p.reqs = slices.Delete(p.reqs, 0, over)
	}
}

// Requests returns the kept requests, most recent first, without their
// operations.
func (p *Panel) Requests() []Request {
	p.mu.Lock()
	recs := slices.Clone(p.reqs)
	p.mu.Unlock()
	out := make([]Request, len(recs))
	for i, rec := range recs {
		out[len(recs)-1-i] = rec.summary()
	}
	return out
}

// Request returns the kept request with the given ID, with its
// operations.
func (p *Panel) Request(id uint64) (Request, bool) {
	p.mu.Lock()
	var rec *Recorder
	for _, r := range p.reqs {
		if r.id == id {
			rec = r
			break
		}
	}
	p.mu.Unlock()
	if rec == nil {
		return Request{}, false
	}
	return rec.Snapshot(), true
}

// Reset forgets every kept request.
func (p *Panel) Reset() {
	p.mu.Lock()
	p.reqs = nil
	p.mu.Unlock()
}

// ServeHTTP serves the panel. Mount it at its Prefix:
//
//	mux.Handle("/_dogpile/", panel)
//
// Its links are relative, so it also works behind http.StripPrefix; keep
// Options.Prefix the public path, which the middleware does not record.
//
// Paths below the prefix:
//
//	/                    the list of kept requests (HTML; ?format=json for JSON)
//	/requests.json       the same list as JSON
//	/requests/{id}       one request: statistics and operations (HTML)
//	/requests/{id}.json  the same as JSON (also /requests/{id}?format=json)
//	/latest              redirects to the most recent request
//
// Only GET and HEAD are served. The pages hold no cached values, only keys
// and sizes, and carry a Content-Security-Policy allowing their own inline
// script and style alone.
func (p *Panel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.opts.Guard != nil && !p.opts.Guard(r) {
		http.Error(w, "403 Forbidden", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")

	path := r.URL.Path
	if path == p.opts.Prefix {
		http.Redirect(w, r, p.opts.Prefix+"/", http.StatusMovedPermanently)
		return
	}
	path = strings.TrimPrefix(path, p.opts.Prefix)
	asJSON := r.URL.Query().Get("format") == "json"
	switch {
	case path == "" || path == "/":
		p.serveList(w, asJSON)
	case path == "/requests.json":
		p.serveList(w, true)
	case path == "/latest":
		reqs := p.Requests()
		if len(reqs) == 0 {
			http.Error(w, "no request recorded yet", http.StatusNotFound)
			return
		}
		http.Redirect(w, r, "requests/"+strconv.FormatUint(reqs[0].ID, 10), http.StatusFound)
	case strings.HasPrefix(path, "/requests/"):
		id := strings.TrimPrefix(path, "/requests/")
		if s, ok := strings.CutSuffix(id, ".json"); ok {
			id, asJSON = s, true
		}
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		req, ok := p.Request(n)
		if !ok {
			http.Error(w, "request not kept (the panel keeps the last "+strconv.Itoa(p.opts.MaxRequests)+")", http.StatusNotFound)
			return
		}
		if asJSON {
			writeJSON(w, req)
			return
		}
		p.renderPage(w, "detail", newDetailView(req, p.opts.MaxRequests))
	default:
		http.NotFound(w, r)
	}
}

func (p *Panel) serveList(w http.ResponseWriter, asJSON bool) {
	reqs := p.Requests()
	if asJSON {
		writeJSON(w, struct {
			MaxRequests int       `json:"max_requests"`
			Requests    []Request `json:"requests"`
		}{p.opts.MaxRequests, reqs})
		return
	}
	p.renderPage(w, "list", newListView(reqs, p.opts.MaxRequests))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// renderPage executes a page template with a fresh CSP nonce.
func (p *Panel) renderPage(w http.ResponseWriter, name string, data pageData) {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	nonce := base64.RawURLEncoding.EncodeToString(raw[:])
	data.setNonce(nonce)
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "debugpanel: rendering the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+
		"'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
	_, _ = buf.WriteTo(w)
}
