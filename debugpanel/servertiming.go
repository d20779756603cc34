package debugpanel

import (
	"strconv"
	"strings"
	"time"
)

// ServerTiming returns a Server-Timing header value summarising s: a
// "dogpile" metric with the cache time (Stats.CacheTime) and the counts,
// then one metric per layer and operation type ("dogpile-get_or_create",
// "dogpile-create", "dogpile-backend-get", ...) with its own time
// (OpStats.Self) and counts. No moment is counted twice: the region
// layer's metrics add up to the time spent in the outermost cache
// operations, a fragment's get_or_create leaves out its creation
// ("dogpile-create", the outermost creators' time) and the fragments
// rendered inside it, and the backend layer's metrics, which are part of
// the region operations' time, carry counts only unless the backend layer
// alone recorded. Durations are in milliseconds; descriptions hold counts
// only, never keys or region names, in the panel's words (hit, stale,
// miss, created, waited, error). Browsers show the metrics in their
// developer tools' network timing.
func ServerTiming(s Stats) string {
	var b strings.Builder
	b.WriteString("dogpile;dur=")
	writeMS(&b, s.CacheTime)
	b.WriteString(`;desc="`)
	b.WriteString(count(s.Ops, "op", "ops"))
	writeCounts(&b, s.Hits, s.Misses, s.Stale, s.Created, s.Waited, s.Errors)
	b.WriteByte('"')
	region := false
	for _, o := range s.ByOp {
		region = region || o.Layer == LayerRegion
	}
	for _, o := range s.ByOp {
		b.WriteString(", dogpile-")
		if o.Layer == LayerBackend {
			b.WriteString("backend-")
		}
		b.WriteString(token(o.Op))
		if o.Layer == LayerRegion || !region {
			b.WriteString(";dur=")
			writeMS(&b, o.Self)
		}
		b.WriteString(`;desc="`)
		b.WriteString(count(o.Calls, "call", "calls"))
		writeCounts(&b, o.Hits, o.Misses, o.Stale, o.Created, o.Waited, o.Errors)
		b.WriteByte('"')
	}
	return b.String()
}

func writeMS(b *strings.Builder, d time.Duration) {
	b.WriteString(strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64))
}

func writeCounts(b *strings.Builder, hits, misses, stale, created, waited, errors int) {
	for _, c := range [...]struct {
		n           int
		one, plural string
	}{
		{hits, "hit", "hits"}, {misses, "miss", "misses"}, {stale, "stale", "stale"},
		{created, "created", "created"}, {waited, "waited", "waited"}, {errors, "error", "errors"},
	} {
		if c.n > 0 {
			b.WriteString(", ")
			b.WriteString(count(c.n, c.one, c.plural))
		}
	}
}

func count(n int, one, plural string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + plural
}

// token keeps the characters an HTTP token allows, replacing others with
// '_', so a metric name is always well formed.
func token(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
			return r
		}
		return '_'
	}, s)
}
