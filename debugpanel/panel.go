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

// DefaultMaxBytes is the memory budget of a Panel (Options.MaxBytes): 4 MiB.
const DefaultMaxBytes = 4 << 20

// Options configure a Panel. The zero value is usable and safe: 50
// requests of at most 1000 operations within 4 MiB, mounted at /_dogpile,
// static files left out, shown to no one until Guard says who may see
// them.
type Options struct {
	// MaxRequests is how many requests the panel keeps, the most recent
	// ones (DefaultMaxRequests).
	MaxRequests int
	// MaxBytes is the memory budget of the panel, in bytes
	// (DefaultMaxBytes): everything the recordings of its requests keep,
	// those still running included, is charged to it before it is
	// allocated. To make room the panel lets go of its oldest requests;
	// when the requests still running hold the whole budget, their next
	// operations are counted but not kept, and a new request is not
	// recorded (Unrecorded counts those).
	MaxBytes int
	// Limits bound each request's recording; Limits.MaxBytes is at most
	// MaxBytes.
	Limits Limits
	// Prefix is the path the panel is mounted at (DefaultPrefix). The
	// middleware does not record requests under it.
	Prefix string
	// Guard decides who may see the panel, and who gets the Server-Timing
	// header (see ServerTiming). A request it rejects gets 403 Forbidden.
	// A nil Guard admits no one: set it to Loopback() for the browsers of
	// this machine, to the application's own check of a signed-in
	// developer, or to AllowAll, deliberately, for anyone who can reach
	// the panel. The panel shows every recorded request's paths and cache
	// keys, whoever made them.
	Guard func(*http.Request) bool
	// ServerTiming chooses who gets the Server-Timing response header:
	// by default (ServerTimingGuarded) only the clients Guard admits.
	ServerTiming ServerTimingMode
	// Skip chooses requests the middleware does not record, besides those
	// under Prefix, which it never records. When nil, StaticAsset decides
	// on the request's path: static files and the favicon are not
	// recorded. Set it to replace that choice, for example to record every
	// request:
	//
	//	Skip: func(*http.Request) bool { return false }
	//
	// or to skip more:
	//
	//	Skip: func(r *http.Request) bool { return debugpanel.StaticAsset(r.URL.Path) || r.URL.Path == "/healthz" }
	Skip func(*http.Request) bool
}

// staticDirs and staticExts are the paths StaticAsset reports.
var (
	staticDirs = []string{"/static/", "/assets/", "/public/", "/dist/", "/.well-known/"}
	staticExts = []string{
		".css", ".js", ".mjs", ".map",
		".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp", ".avif", ".bmp",
		".woff", ".woff2", ".ttf", ".otf", ".eot",
		".mp3", ".mp4", ".webm", ".ogg", ".wasm",
	}
)

// StaticAsset reports whether path looks like a static asset's, which the
// middleware does not record by default (see Options.Skip):
// /favicon.ico, /robots.txt, paths under /static/, /assets/, /public/,
// /dist/ and /.well-known/, and files ending in .css, .js, .mjs, .map,
// .png, .jpg, .jpeg, .gif, .svg, .ico, .webp, .avif, .bmp, .woff,
// .woff2, .ttf, .otf, .eot, .mp3, .mp4, .webm, .ogg or .wasm, in any
// letter case.
func StaticAsset(path string) bool {
	if path == "/favicon.ico" || path == "/robots.txt" {
		return true
	}
	for _, d := range staticDirs {
		if strings.HasPrefix(path, d) {
			return true
		}
	}
	base := path[strings.LastIndexByte(path, '/')+1:]
	dot := strings.LastIndexByte(base, '.')
	if dot < 0 {
		return false
	}
	ext := base[dot:]
	for _, e := range staticExts {
		if strings.EqualFold(ext, e) {
			return true
		}
	}
	return false
}

// ServerTimingMode chooses which responses carry the Server-Timing header.
type ServerTimingMode uint8

// The Server-Timing modes.
const (
	// ServerTimingGuarded sends the header only in answer to requests the
	// Guard admits: with no Guard, to no one.
	ServerTimingGuarded ServerTimingMode = iota
	// ServerTimingOff never sends it.
	ServerTimingOff
	// ServerTimingAll sends it to every client. It tells them how many
	// values each page found in the cache, so whether someone else viewed
	// it just before: choose it deliberately.
	ServerTimingAll
)

// AllowAll is a Guard that admits every request. Give it to
// Options.Guard only where whoever can reach the panel may see every
// request's paths and cache keys, such as a developer's own machine.
func AllowAll(*http.Request) bool { return true }

// Panel keeps the last requests' cache operations and shows them: an
// http.Handler serving an HTML page per request and the same data as
// JSON. Its Middleware records the requests. A Panel is safe for
// concurrent use.
type Panel struct {
	opts       Options
	maxBytes   int64
	nextID     atomic.Uint64
	unrecorded atomic.Uint64

	mu   sync.Mutex
	reqs []*Recorder // finished, oldest first
	used int64       // bytes charged by kept and running requests
}

// New returns a Panel configured by o.
func New(o Options) *Panel {
	if o.MaxRequests <= 0 {
		o.MaxRequests = DefaultMaxRequests
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	o.Limits = o.Limits.withDefaults()
	o.Limits.MaxBytes = min(o.Limits.MaxBytes, o.MaxBytes)
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	o.Prefix = "/" + strings.Trim(o.Prefix, "/")
	return &Panel{opts: o, maxBytes: int64(o.MaxBytes)}
}

func (p *Panel) skip(r *http.Request) bool {
	if r.URL.Path == p.opts.Prefix || strings.HasPrefix(r.URL.Path, p.opts.Prefix+"/") {
		return true
	}
	if p.opts.Skip != nil {
		return p.opts.Skip(r)
	}
	return StaticAsset(r.URL.Path)
}

// admits reports whether the guard lets r see the panel.
func (p *Panel) admits(r *http.Request) bool { return p.opts.Guard != nil && p.opts.Guard(r) }

// serverTiming reports whether the response to r gets a Server-Timing
// header.
func (p *Panel) serverTiming(r *http.Request) bool {
	switch p.opts.ServerTiming {
	case ServerTimingOff:
		return false
	case ServerTimingAll:
		return true
	}
	return p.admits(r)
}

// add keeps rec, a finished request, letting go of the oldest beyond
// MaxRequests.
func (p *Panel) add(rec *Recorder) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, rec)
	for len(p.reqs) > p.opts.MaxRequests {
		p.evictOldest()
	}
}

// Memory returns the bytes the panel's recordings keep, running requests
// included, and its budget (Options.MaxBytes).
func (p *Panel) Memory() (used, budget int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used, p.maxBytes
}

// Unrecorded returns the number of requests the middleware did not record
// because the requests then running held the whole memory budget.
func (p *Panel) Unrecorded() uint64 { return p.unrecorded.Load() }

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
	defer p.mu.Unlock()
	for len(p.reqs) > 0 {
		p.evictOldest()
	}
	p.reqs = nil
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
// Only GET and HEAD are served, and only to requests Options.Guard
// admits: others get 403 Forbidden (every request, without a Guard). The
// pages hold no cached values, only keys and sizes, and carry a
// Content-Security-Policy allowing their own inline script and style
// alone.
func (p *Panel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.admits(r) {
		w.Header().Set("Cache-Control", "no-store")
		msg := "403 Forbidden"
		if p.opts.Guard == nil {
			msg += "\n\nThis debug panel admits no one: its Options.Guard is not set. Set it to debugpanel.Loopback()" +
				" for the browsers of this machine, to the application's own check of a signed-in developer," +
				" or to debugpanel.AllowAll for anyone who can reach it."
		}
		http.Error(w, msg, http.StatusForbidden)
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
			http.Error(w, "request not kept (the panel keeps the last "+strconv.Itoa(p.opts.MaxRequests)+
				" within "+formatBytes(p.maxBytes)+")", http.StatusNotFound)
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
		used, budget := p.Memory()
		writeJSON(w, struct {
			MaxRequests int       `json:"max_requests"`
			Memory      int64     `json:"memory"`
			MaxBytes    int64     `json:"max_bytes"`
			Unrecorded  uint64    `json:"unrecorded"`
			Requests    []Request `json:"requests"`
		}{p.opts.MaxRequests, used, budget, p.Unrecorded(), reqs})
		return
	}
	p.renderPage(w, "list", p.newListView(reqs))
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
