package debugpanel_test

import (
	"bufio"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/debugpanel"
	"github.com/dogpilego/dogpile/dogpile"
)

// serverTimingEntry is one metric of a Server-Timing header: a token name,
// then an optional dur and desc (RFC 8941-style parameters as the W3C
// Server Timing specification writes them).
var serverTimingEntry = regexp.MustCompile(`^([!#$%&'*+\-.^_` + "`" + `|~0-9A-Za-z]+)(?:;dur=([0-9]+(?:\.[0-9]+)?))?(?:;desc="([^"\\]*)")?$`)

type timingMetric struct {
	name string
	dur  float64
	desc string
}

// parseServerTiming checks that h is well formed and returns its metrics.
func parseServerTiming(t *testing.T, h string) []timingMetric {
	t.Helper()
	if h == "" {
		t.Fatal("no Server-Timing header")
	}
	// Split on the commas outside quoted strings.
	var parts []string
	quoted, from := false, 0
	for i := 0; i < len(h); i++ {
		switch h[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				parts = append(parts, strings.TrimSpace(h[from:i]))
				from = i + 1
			}
		}
	}
	if quoted {
		t.Fatalf("unterminated quoted string in %q", h)
	}
	parts = append(parts, strings.TrimSpace(h[from:]))
	var out []timingMetric
	for _, part := range parts {
		m := serverTimingEntry.FindStringSubmatch(part)
		if m == nil {
			t.Fatalf("malformed Server-Timing entry %q in %q", part, h)
		}
		dur, _ := strconv.ParseFloat(m[2], 64)
		out = append(out, timingMetric{m[1], dur, m[3]})
	}
	return out
}

func TestServerTiming(t *testing.T) {
	r := observedRegion(t, "timing", "dogpile.cache.memory")
	ctx := context.Background()
	if err := r.Set(ctx, "warm", 1); err != nil {
		t.Fatal(err)
	}
	cacheCalls := func(req *http.Request) {
		_, _ = dogpile.GetOrCreate(req.Context(), r, "warm", constant(1))               // hit
		_, _ = dogpile.GetOrCreate(req.Context(), r, "cold-"+req.URL.Path, constant(2)) // created
		_, _ = dogpile.GetMulti[int](req.Context(), r, []string{"warm", "none"})        // hit, miss
	}
	flushed := make(chan struct{})
	handlers := map[string]http.HandlerFunc{
		"/write": func(w http.ResponseWriter, req *http.Request) {
			cacheCalls(req)
			_, _ = io.WriteString(w, "body")
		},
		"/writeheader": func(w http.ResponseWriter, req *http.Request) {
			cacheCalls(req)
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, "body")
		},
		"/flush": func(w http.ResponseWriter, req *http.Request) {
			cacheCalls(req)
			_, _ = io.WriteString(w, "first\n")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("flush through the middleware: %v", err)
			}
			select { // the client read the first line: the header was sent
			case <-flushed:
			case <-time.After(5 * time.Second):
				t.Error("the flushed part never reached the client")
			}
			// Too late for the header; the panel still has it.
			_, _, _ = dogpile.Get[any](req.Context(), r, "after-flush")
			_, _ = io.WriteString(w, "second\n")
		},
		"/flusher": func(w http.ResponseWriter, req *http.Request) {
			cacheCalls(req)
			w.(http.Flusher).Flush() // flush before anything is written
			_, _ = io.WriteString(w, "body")
		},
		"/empty": func(w http.ResponseWriter, req *http.Request) {
			cacheCalls(req) // and write nothing
		},
		"/readfrom": func(w http.ResponseWriter, req *http.Request) {
			cacheCalls(req)
			_, _ = w.(io.ReaderFrom).ReadFrom(strings.NewReader("body"))
		},
		"/earlyhints": func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Link", "</app.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			cacheCalls(req)
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "body")
		},
	}
	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.AllowAll})
	mux := http.NewServeMux()
	for p, h := range handlers {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(panel.Middleware(mux))
	defer srv.Close()

	for path, status := range map[string]int{"/write": 200, "/writeheader": 201, "/flush": 200, "/flusher": 200, "/empty": 200, "/readfrom": 200, "/earlyhints": 200} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			resp, err := srv.Client().Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if path == "/flush" {
				line, err := bufio.NewReader(resp.Body).ReadString('\n')
				if err != nil || line != "first\n" {
					t.Fatalf("first line %q, %v", line, err)
				}
				close(flushed)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != status {
				t.Errorf("status %d, want %d", resp.StatusCode, status)
			}
			if n := len(resp.Header.Values("Server-Timing")); n != 1 {
				t.Fatalf("%d Server-Timing headers", n)
			}
			metrics := parseServerTiming(t, resp.Header.Get("Server-Timing"))
			if metrics[0].name != "dogpile" {
				t.Fatalf("first metric %q, want dogpile", metrics[0].name)
			}
			if want := "4 ops, 2 hits, 1 miss, 1 created"; metrics[0].desc != want {
				t.Errorf("desc %q, want %q", metrics[0].desc, want)
			}
			byName := map[string]timingMetric{}
			for _, m := range metrics[1:] {
				byName[m.name] = m
			}
			for name, desc := range map[string]string{
				"dogpile-get_or_create": "2 calls, 1 hit, 1 created",
				"dogpile-get_multi":     "1 call, 1 hit, 1 miss",
				"dogpile-create":        "1 call, 1 created",
			} {
				if byName[name].desc != desc {
					t.Errorf("%s desc %q, want %q (header %q)", name, byName[name].desc, desc, resp.Header.Get("Server-Timing"))
				}
			}
			if metrics[0].dur <= 0 || byName["dogpile-get_or_create"].dur <= 0 {
				t.Errorf("durations %+v", metrics)
			}
		})
	}
	// The flushing request's late operation is in the panel.
	for _, req := range panel.Requests() {
		if req.Path == "/flush" && req.Stats.Ops != 5 {
			t.Errorf("/flush recorded %d operations, want 5 (one after the header)", req.Stats.Ops)
		}
		if req.Path == "/writeheader" && req.Status != http.StatusCreated {
			t.Errorf("/writeheader status %d", req.Status)
		}
	}
}

func TestServerTimingOff(t *testing.T) {
	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.AllowAll, ServerTiming: debugpanel.ServerTimingOff})
	w := httptest.NewRecorder()
	panel.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "x")
	})).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if h := w.Header().Get("Server-Timing"); h != "" {
		t.Errorf("Server-Timing %q with ServerTimingOff", h)
	}
	if len(panel.Requests()) != 1 {
		t.Error("request not recorded")
	}
}

// TestServerTimingModes: by default only the clients the guard admits get
// Server-Timing (none without a guard); ServerTimingAll sends it to every
// client, ServerTimingOff to none.
func TestServerTimingModes(t *testing.T) {
	developer := func(r *http.Request) bool { return r.Header.Get("X-Developer") == "yes" }
	for _, c := range []struct {
		name                string
		opts                debugpanel.Options
		developer, stranger bool
	}{
		{"no guard", debugpanel.Options{}, false, false},
		{"guarded", debugpanel.Options{Guard: developer}, true, false},
		{"all", debugpanel.Options{Guard: developer, ServerTiming: debugpanel.ServerTimingAll}, true, true},
		{"all without a guard", debugpanel.Options{ServerTiming: debugpanel.ServerTimingAll}, true, true},
		{"off", debugpanel.Options{Guard: developer, ServerTiming: debugpanel.ServerTimingOff}, false, false},
		{"allow all", debugpanel.Options{Guard: debugpanel.AllowAll}, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := observedRegion(t, "modes", "dogpile.cache.memory")
			panel := debugpanel.New(c.opts)
			h := panel.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				_, _ = dogpile.GetOrCreate(req.Context(), r, "k", constant(1))
				_, _ = io.WriteString(w, "x")
			}))
			for _, dev := range []bool{true, false} {
				w := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				if dev {
					req.Header.Set("X-Developer", "yes")
				}
				h.ServeHTTP(w, req)
				want := c.stranger
				if dev {
					want = c.developer
				}
				if got := w.Header().Get("Server-Timing"); (got != "") != want {
					t.Errorf("developer %v: Server-Timing %q, want one: %v", dev, got, want)
				} else if want {
					parseServerTiming(t, got)
				}
			}
			// Every client's request is recorded, whoever gets the header.
			if n := len(panel.Requests()); n != 2 {
				t.Errorf("%d requests recorded, want 2", n)
			}
		})
	}
}

func TestResponseControllerThroughMiddleware(t *testing.T) {
	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.AllowAll})
	srv := httptest.NewServer(panel.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetReadDeadline: %v", err)
		}
		_, _ = io.WriteString(w, "ok")
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Server-Timing") == "" {
		t.Error("no Server-Timing")
	}
}

func TestHijackThroughMiddleware(t *testing.T) {
	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.AllowAll})
	srv := httptest.NewServer(panel.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		_ = buf.Flush()
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hijacked" {
		t.Errorf("body %q", body)
	}
	// The client has its response before the handler returns, and the
	// middleware keeps the request when it does.
	deadline := time.Now().Add(5 * time.Second)
	for len(panel.Requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if reqs := panel.Requests(); len(reqs) != 1 || reqs[0].Status != http.StatusSwitchingProtocols {
		t.Errorf("hijacked request kept as %+v", reqs)
	}
}

func TestPanickingHandlerIsKept(t *testing.T) {
	r := observedRegion(t, "panics", "dogpile.cache.memory")
	panel := debugpanel.New(debugpanel.Options{Guard: debugpanel.AllowAll})
	srv := httptest.NewUnstartedServer(panel.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _, _ = dogpile.Get[any](req.Context(), r, "before-panic")
		panic("handler bug")
	})))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	defer srv.Close()
	if resp, err := srv.Client().Get(srv.URL); err == nil {
		resp.Body.Close()
	}
	reqs := panel.Requests()
	if len(reqs) != 1 || reqs[0].Status != 0 || reqs[0].Stats.Ops != 1 || !reqs[0].Finished {
		t.Fatalf("kept %+v", reqs)
	}
}
