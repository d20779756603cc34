package debugpanel_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/dogpilego/dogpile/debugpanel"
)

func TestLoopbackGuard(t *testing.T) {
	local := netip.MustParsePrefix("127.0.0.1/32")
	proxies := []netip.Prefix{local, netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/24")}
	type hdr = map[string][]string
	for _, c := range []struct {
		name    string
		remote  string
		headers hdr
		trusted []netip.Prefix
		want    bool
	}{
		// No forwarding header: the connection's address decides.
		{"loopback v4", "127.0.0.1:5000", nil, nil, true},
		{"loopback v4 range", "127.3.4.5:5000", nil, nil, true},
		{"loopback v6", "[::1]:5000", nil, nil, true},
		{"loopback v4-mapped v6", "[::ffff:127.0.0.1]:5000", nil, nil, true},
		{"remote", "203.0.113.9:5000", nil, nil, false},
		{"private network", "10.0.0.7:5000", nil, nil, false},
		{"no port", "127.0.0.1", nil, nil, false},
		{"empty address", "", nil, nil, false},
		{"unix socket", "@", nil, nil, false},
		{"trusted proxies, no header", "127.0.0.1:5000", nil, proxies, true},

		// Forwarding headers without trusted proxies: never local.
		{"proxied stranger", "127.0.0.1:5000", hdr{"X-Forwarded-For": {"203.0.113.9"}}, nil, false},
		{"forged loopback XFF", "127.0.0.1:5000", hdr{"X-Forwarded-For": {"127.0.0.1"}}, nil, false},
		{"forged Forwarded", "127.0.0.1:5000", hdr{"Forwarded": {"for=127.0.0.1"}}, nil, false},
		{"forged X-Real-IP", "127.0.0.1:5000", hdr{"X-Real-Ip": {"127.0.0.1"}}, nil, false},
		{"empty XFF", "127.0.0.1:5000", hdr{"X-Forwarded-For": {""}}, nil, false},
		{"lower-case header", "127.0.0.1:5000", hdr{"x-forwarded-for": {"127.0.0.1"}}, nil, false},

		// Trusted proxies: the client's own address decides, right to left.
		{"local client through local proxy", "127.0.0.1:5000", hdr{"X-Forwarded-For": {"127.0.0.1"}}, proxies, true},
		{"stranger through local proxy", "127.0.0.1:5000", hdr{"X-Forwarded-For": {"203.0.113.9"}}, proxies, false},
		{"stranger forging loopback, proxy appends", "127.0.0.1:5000",
			hdr{"X-Forwarded-For": {"127.0.0.1, 203.0.113.9"}}, proxies, false},
		{"forged entry on a second header line", "127.0.0.1:5000",
			hdr{"X-Forwarded-For": {"127.0.0.1", "203.0.113.9"}}, proxies, false},
		{"local client through two trusted proxies", "127.0.0.1:5000",
			hdr{"X-Forwarded-For": {"127.0.0.1, 10.0.0.3"}}, proxies, true},
		{"stranger through two trusted proxies", "127.0.0.1:5000",
			hdr{"X-Forwarded-For": {"127.0.0.1, 198.51.100.4, 10.0.0.3"}}, proxies, false},
		{"headers from an untrusted peer", "198.51.100.4:5000", hdr{"X-Forwarded-For": {"127.0.0.1"}}, proxies, false},
		{"headers from a loopback peer that is not a trusted proxy", "127.0.0.2:5000",
			hdr{"X-Forwarded-For": {"127.0.0.1"}}, proxies, false},
		{"trusted proxy on the network, local client", "10.0.0.3:5000", hdr{"X-Forwarded-For": {"::1"}}, proxies, true},
		{"trusted proxy, all trusted, client not loopback", "10.0.0.3:5000", hdr{"X-Forwarded-For": {"10.0.0.4"}}, proxies, false},
		{"entry with port", "127.0.0.1:5000", hdr{"X-Forwarded-For": {"127.0.0.1:4711"}}, proxies, true},
		{"bracketed v6 entry", "127.0.0.1:5000", hdr{"X-Forwarded-For": {"[::1]"}}, proxies, true},
		{"garbage entry", "127.0.0.1:5000", hdr{"X-Forwarded-For": {"localhost"}}, proxies, false},
		{"garbage left of the client is ignored", "10.0.0.3:5000",
			hdr{"X-Forwarded-For": {"junk, 127.0.0.1"}}, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}, true},
		{"garbage right of the client refuses", "127.0.0.1:5000",
			hdr{"X-Forwarded-For": {"127.0.0.1, junk"}}, proxies, false},
		{"Forwarded, local client", "127.0.0.1:5000", hdr{"Forwarded": {`for="[::1]:4711";proto=https`}}, proxies, true},
		{"Forwarded, stranger", "127.0.0.1:5000", hdr{"Forwarded": {"for=127.0.0.1, for=203.0.113.9;proto=http"}}, proxies, false},
		{"Forwarded, unknown", "127.0.0.1:5000", hdr{"Forwarded": {"for=unknown"}}, proxies, false},
		{"Forwarded, obfuscated", "127.0.0.1:5000", hdr{"Forwarded": {"for=_hidden"}}, proxies, false},
		{"Forwarded, no for", "127.0.0.1:5000", hdr{"Forwarded": {"proto=https"}}, proxies, false},
		{"Forwarded, quoted comma", "127.0.0.1:5000", hdr{"Forwarded": {`for="127.0.0.1,x", for=203.0.113.9`}}, proxies, false},
		{"X-Real-IP, stranger", "127.0.0.1:5000", hdr{"X-Real-Ip": {"203.0.113.9"}}, proxies, false},
		{"X-Real-IP, local", "127.0.0.1:5000", hdr{"X-Real-Ip": {"127.0.0.1"}}, proxies, true},
		// Every header present must name a local client: a forged one
		// beside the proxy's own gains nothing.
		{"forged Forwarded beside the proxy's XFF", "127.0.0.1:5000",
			hdr{"Forwarded": {"for=127.0.0.1"}, "X-Forwarded-For": {"203.0.113.9"}}, proxies, false},
		{"forged X-Real-IP beside the proxy's XFF", "127.0.0.1:5000",
			hdr{"X-Real-Ip": {"127.0.0.1"}, "X-Forwarded-For": {"127.0.0.1, 203.0.113.9"}}, proxies, false},
		{"forged XFF beside the proxy's X-Real-IP", "127.0.0.1:5000",
			hdr{"X-Real-Ip": {"203.0.113.9"}, "X-Forwarded-For": {"127.0.0.1"}}, proxies, false},
		{"all headers local", "127.0.0.1:5000",
			hdr{"X-Real-Ip": {"127.0.0.1"}, "X-Forwarded-For": {"127.0.0.1"}, "Forwarded": {"for=127.0.0.1"}}, proxies, true},
		{"invalid trusted prefix ignored", "127.0.0.1:5000", hdr{"X-Forwarded-For": {"127.0.0.1"}}, []netip.Prefix{{}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/_dogpile/", nil)
			r.RemoteAddr = c.remote
			for k, vs := range c.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			if got := debugpanel.Loopback(c.trusted...)(r); got != c.want {
				t.Errorf("Loopback(%v) with RemoteAddr %q and headers %v: %v, want %v", c.trusted, c.remote, c.headers, got, c.want)
			}
		})
	}
}

// TestPanelClosedByDefault: a Panel without a Guard refuses every request,
// saying how to open it; AllowAll opens it deliberately.
func TestPanelClosedByDefault(t *testing.T) {
	s := newTestSite(t, debugpanel.Options{})
	s.get(t, "/page")
	for _, path := range []string{"/_dogpile/", "/_dogpile/requests.json", "/_dogpile/requests/1", "/_dogpile/requests/1.json", "/_dogpile/latest", "/_dogpile"} {
		resp, body := s.get(t, path)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Options.Guard") || strings.Contains(body, "/page") {
			t.Errorf("%s without a guard: %d %q", path, resp.StatusCode, body)
		}
		if resp.Header.Get("Server-Timing") != "" {
			t.Errorf("%s: Server-Timing for a refused client", path)
		}
	}
	// It still records, for whoever opens it later; the site works.
	if resp, _ := s.get(t, "/page"); resp.StatusCode != http.StatusOK || resp.Header.Get("Server-Timing") != "" {
		t.Errorf("/page: %d, Server-Timing %q", resp.StatusCode, resp.Header.Get("Server-Timing"))
	}
	if n := len(s.Panel.Requests()); n != 2 {
		t.Errorf("%d requests recorded, want 2", n)
	}

	open := newTestSite(t, debugpanel.Options{Guard: debugpanel.AllowAll})
	open.get(t, "/page")
	if resp, body := open.get(t, "/_dogpile/requests/1.json"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"path": "/page"`) {
		t.Errorf("AllowAll: %d %q", resp.StatusCode, body)
	}
}

// TestLoopbackGuardOverHTTP mounts the panel behind Loopback on a real
// server, reached from loopback as a same-host reverse proxy would reach
// it: forged forwarding headers do not open it, and only admitted clients
// get Server-Timing.
func TestLoopbackGuardOverHTTP(t *testing.T) {
	for _, c := range []struct {
		name    string
		trusted []netip.Prefix
		headers map[string]string
		want    bool
	}{
		{"direct", nil, nil, true},
		{"proxied stranger", nil, map[string]string{"X-Forwarded-For": "203.0.113.9"}, false},
		{"forged loopback", nil, map[string]string{"X-Forwarded-For": "127.0.0.1"}, false},
		{"forged Forwarded", nil, map[string]string{"Forwarded": "for=127.0.0.1"}, false},
		{"forged X-Real-IP", nil, map[string]string{"X-Real-IP": "::1"}, false},
		{"trusted proxy, stranger appended", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
			map[string]string{"X-Forwarded-For": "127.0.0.1, 203.0.113.9"}, false},
		{"trusted proxy, local client", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
			map[string]string{"X-Forwarded-For": "127.0.0.1"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newTestSite(t, debugpanel.Options{Guard: debugpanel.Loopback(c.trusted...)})
			do := func(path string) *http.Response {
				req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
				for k, v := range c.headers {
					req.Header.Set(k, v)
				}
				resp, err := s.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp
			}
			page := do("/page")
			if got := page.Header.Get("Server-Timing") != ""; got != c.want {
				t.Errorf("Server-Timing sent: %v, want %v", got, c.want)
			}
			want := http.StatusForbidden
			if c.want {
				want = http.StatusOK
			}
			for _, path := range []string{"/_dogpile/", "/_dogpile/requests/1.json"} {
				if resp := do(path); resp.StatusCode != want {
					t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
				}
			}
		})
	}
}
