package debugpanel

import (
	"net/http"
	"net/netip"
	"strings"
)

// forwardingHeaders are the headers with which proxies pass on the address
// of the client they forward (canonical forms).
var forwardingHeaders = [...]string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"}

// Loopback returns a Guard admitting the clients on this machine: requests
// whose client address is a loopback address (127.0.0.0/8, ::1).
//
// Behind a reverse proxy on the same host every request arrives from
// loopback, so the connection's address alone proves nothing. A request
// that carries a forwarding header (X-Forwarded-For, Forwarded or
// X-Real-IP) is refused unless it comes from one of trustedProxies; then
// the client's own address decides: read from the right of each of those
// headers the request carries, past the addresses of trusted proxies, the
// first other address is the client's (the leftmost one when all are
// trusted), and every header must name a loopback client. An address
// that cannot be read (such as Forwarded's "unknown") is not loopback.
//
// Name the proxies that append to X-Forwarded-For (or set the headers)
// themselves, such as nginx with proxy_add_x_forwarded_for:
//
//	debugpanel.Loopback(netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128"))
//
// A proxy that forwards without any such header makes every client look
// local: configure it to add one, or guard the panel with the
// application's own authentication.
func Loopback(trustedProxies ...netip.Prefix) func(*http.Request) bool {
	trusted := make([]netip.Prefix, 0, len(trustedProxies))
	for _, p := range trustedProxies {
		if p.IsValid() {
			trusted = append(trusted, p.Masked())
		}
	}
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) bool {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return false
		}
		addr := peer.Addr().Unmap().WithZone("")
		forwarded := false
		for _, h := range forwardingHeaders {
			if len(r.Header.Values(h)) == 0 {
				continue
			}
			forwarded = true
			if !isTrusted(addr) {
				return false
			}
			client, ok := clientOf(forwardedFor(h, r.Header.Values(h)), isTrusted)
			if !ok || !client.IsLoopback() {
				return false
			}
		}
		return forwarded || addr.IsLoopback()
	}
}

// clientOf returns the client's address from chain, the addresses a
// forwarding header lists (the client's first, each proxy appending the
// address it received the request from): the rightmost address that is
// not trusted, or the leftmost when all are. It reports false when that
// entry is not an address, or chain is empty.
func clientOf(chain []string, trusted func(netip.Addr) bool) (netip.Addr, bool) {
	for i := len(chain) - 1; i >= 0; i-- {
		a, ok := parseNode(chain[i])
		if !ok {
			return netip.Addr{}, false
		}
		if !trusted(a) || i == 0 {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// forwardedFor returns the addresses listed by the values of header h, in
// order. Forwarded elements without a "for" parameter give "".
func forwardedFor(h string, values []string) []string {
	var out []string
	for _, v := range values {
		for _, elem := range splitQuoted(v, ',') {
			if h != "Forwarded" {
				out = append(out, strings.TrimSpace(elem))
				continue
			}
			node := ""
			for _, pair := range splitQuoted(elem, ';') {
				name, value, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if strings.EqualFold(strings.TrimSpace(name), "for") {
					node = strings.Trim(strings.TrimSpace(value), `"`)
				}
			}
			out = append(out, node)
		}
	}
	return out
}

// splitQuoted splits s at each sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, from := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quoted:
			i++
		case s[i] == '"':
			quoted = !quoted
		case s[i] == sep && !quoted:
			out = append(out, s[from:i])
			from = i + 1
		}
	}
	return append(out, s[from:])
}

// parseNode reads an address as forwarding headers write it: "192.0.2.1",
// "192.0.2.1:4711", "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:4711".
func parseNode(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}
