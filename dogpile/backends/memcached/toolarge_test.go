package memcached

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/compress"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/observe"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// TestValueTooLarge: values over memcached's item size (1 MiB) are
// refused per key with driver.ErrValueTooLarge, and a region serves them
// uncached, logs each key once and tells its observer, with or without
// fail-open.
func TestValueTooLarge(t *testing.T) {
	t.Parallel()
	m := testserver.StartMemcached(t)
	ctx := context.Background()
	raw := rawClient(t, m.Addr)
	big := strings.Repeat("lorem ipsum ", (2<<20)/12+1) // 2 MiB of text

	for _, failOpen := range []bool{false, true} {
		name := "Strict"
		if failOpen {
			name = "FailOpen"
		}
		t.Run(name, func(t *testing.T) {
			logs := &logCapture{}
			obs := &errObserver{}
			opts := []dogpile.Option{dogpile.WithLogger(slog.New(slog.NewTextHandler(logs, nil))), dogpile.WithObserver(obs)}
			if failOpen {
				opts = append(opts, dogpile.WithFailOpen())
			}
			r := region(t, open(t, driver.Arguments{"url": m.Addr}), time.Hour, opts...)
			p := keyPrefix(t)
			key := p + "page"

			creations := 0
			creator := func(context.Context) (string, error) {
				creations++
				return big, nil
			}
			// Failing open, the region writes after serving, and callers
			// share the value until the write is over: calls go on until
			// three creations were refused.
			calls := 0
			for deadline := time.Now().Add(10 * time.Second); creations < 3; calls++ {
				before := creations
				v, err := dogpile.GetOrCreate(ctx, r, key, creator)
				if err != nil || v != big {
					t.Fatalf("GetOrCreate %d of a 2 MiB value: %d bytes, %v; want the created value", calls, len(v), err)
				}
				if creations > before {
					obs.wait(t, key, creations)
				} else if !failOpen || time.Now().After(deadline) {
					t.Fatalf("GetOrCreate %d after %d creations was served a cached value", calls, creations)
				} else {
					time.Sleep(time.Millisecond) // the flight of the last creation is ending
				}
			}
			if _, ok, err := dogpile.Get[string](ctx, r, key); ok || err != nil {
				t.Errorf("Get after the refused writes = %v, %v; want a miss", ok, err)
			}
			if _, err := raw.Get(key); err == nil {
				t.Error("the 2 MiB value is on the server")
			}
			logs.wait(t, "value too large", key)
			if n := logs.count("value too large", key); n != 1 {
				t.Errorf("%q logged %d times as too large after 3 calls; want once\n%s", key, n, logs)
			}
			if n := obs.tooLarge(key); n != 3 {
				t.Errorf("the observer saw %d too-large errors for %q; want 3, one per write", n, key)
			}

			// Multi: only the large value is left out.
			small, large := p+"small", p+"large"
			vals, err := dogpile.GetOrCreateMulti(ctx, r, []string{small, large}, func(_ context.Context, keys []string) (map[string]string, error) {
				out := map[string]string{}
				for _, k := range keys {
					out[k] = "short"
					if k == large {
						out[k] = big
					}
				}
				return out, nil
			})
			if err != nil || vals[small] != "short" || vals[large] != big {
				t.Fatalf("GetOrCreateMulti with one 2 MiB value: %d values, %v; want both created values", len(vals), err)
			}
			obs.wait(t, large, 1)
			if _, err := raw.Get(small); err != nil {
				t.Errorf("the small value of the multi creation was not stored: %v", err)
			}
			if _, err := raw.Get(large); err == nil {
				t.Error("the 2 MiB value of the multi creation is on the server")
			}
			logs.wait(t, "value too large", large) // logged after the observer is told
			if n := logs.count("value too large", large); n != 1 {
				t.Errorf("%q logged %d times as too large; want once\n%s", large, n, logs)
			}
			if obs.tooLarge(large) != 1 {
				t.Errorf("the observer saw no too-large error for %q", large)
			}
			if err := r.SetMulti(ctx, map[string]any{p + "m1": "x", p + "m2": big}); err != nil {
				t.Errorf("SetMulti with one 2 MiB value: %v; want it served uncached", err)
			}
			if _, err := raw.Get(p + "m1"); err != nil {
				t.Errorf("the small value of SetMulti was not stored: %v", err)
			}
		})
	}
}

// TestValueTooLargeCompressed: compressed by dogpile/compress, the same
// 2 MiB of text fits in memcached's item size and is cached.
func TestValueTooLargeCompressed(t *testing.T) {
	t.Parallel()
	m := testserver.StartMemcached(t)
	ctx := context.Background()
	big := strings.Repeat("lorem ipsum ", (2<<20)/12+1)
	r := region(t, open(t, driver.Arguments{"url": m.Addr}), time.Hour,
		dogpile.WithCodec(compress.Codec(dogpile.JSON, compress.Options{})))
	key := keyPrefix(t) + "page"
	creations := 0
	for range 2 {
		v, err := dogpile.GetOrCreate(ctx, r, key, func(context.Context) (string, error) {
			creations++
			return big, nil
		})
		if err != nil || v != big {
			t.Fatalf("GetOrCreate: %d bytes, %v", len(v), err)
		}
	}
	if creations != 1 {
		t.Errorf("%d creations; want 1: compressed, the value is cached", creations)
	}
	it, err := rawClient(t, m.Addr).Get(key)
	if err != nil || len(it.Value) > 1<<20 || !strings.Contains(string(it.Value), "|"+compress.Magic) {
		t.Errorf("stored: %v; want a compressed entry under 1 MiB", err)
	}
}

// TestCoreTooLargeReportsFailingKeysOnly: of a multi-key write, only the
// keys whose values were too large should be reported as such, and the
// other keys' failures should stay failures. It fails while the region
// takes a multi-key write whose error wraps driver.ErrValueTooLarge for
// one key as too large for all (dogpile/observation.go, writeFailure and
// tooLarge): the backend's *WriteError names each failing key with its
// error, but the driver contract has no type through which a region could
// read them.
func TestCoreTooLargeReportsFailingKeysOnly(t *testing.T) {
	t.Parallel()
	m, down := testserver.StartMemcached(t), testserver.StartMemcached(t)
	ctx := context.Background()

	// A strict region: a key on a stopped server fails, whatever another
	// key's size.
	b := open(t, driver.Arguments{"url": []string{m.Addr, down.Addr}})
	onUp, onDown := "", ""
	for i := 0; onUp == "" || onDown == ""; i++ {
		k := keyPrefix(t) + strconv.Itoa(i)
		if a, _ := b.servers.PickServer(k); a.String() == m.Addr {
			onUp = k
		} else {
			onDown = k
		}
	}
	down.Stop()
	strict := region(t, b, time.Hour, dogpile.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	err := strict.SetMulti(ctx, map[string]any{onUp: strings.Repeat("x", 2<<20), onDown: "small"})
	var ne net.Error
	if !errors.As(err, &ne) {
		t.Errorf("strict SetMulti with a 2 MiB value and a key on a stopped server: %v; want the stopped server's error", err)
	}

	logs := &logCapture{}
	obs := &errObserver{}
	r := region(t, open(t, driver.Arguments{"url": m.Addr}), time.Hour,
		dogpile.WithLogger(slog.New(slog.NewTextHandler(logs, nil))), dogpile.WithObserver(obs))
	p := keyPrefix(t)
	small, large := p+"small", p+"large"
	if err := r.SetMulti(ctx, map[string]any{small: "x", large: strings.Repeat("x", 2<<20)}); err != nil {
		t.Fatal(err)
	}
	if n := logs.count("value too large", small); n != 0 {
		t.Errorf("%q, stored, was logged %d times as too large\n%s", small, n, logs)
	}
	if n := obs.tooLarge(small); n != 0 {
		t.Errorf("%q, stored, was reported to the observer %d times as too large", small, n)
	}
}

// logCapture collects a region's log lines.
type logCapture struct {
	mu      sync.Mutex
	b       strings.Builder
	changed chan struct{} // closed and replaced on each line
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	return l.b.Write(p)
}

// wait returns once a line holds msg and key.
func (l *logCapture) wait(t *testing.T, msg, key string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for l.count(msg, key) == 0 {
		l.mu.Lock()
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		changed := l.changed
		l.mu.Unlock()
		if l.count(msg, key) > 0 {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("no log line says %q for %q\n%s", msg, key, l)
		}
	}
}

func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// count counts the lines holding both msg and key=<key>.
func (l *logCapture) count(msg, key string) int {
	n := 0
	for line := range strings.SplitSeq(l.String(), "\n") {
		if strings.Contains(line, msg) && (strings.Contains(line, "key="+key+" ") || strings.Contains(line, `key="`+key+`"`)) {
			n++
		}
	}
	return n
}

// errObserver records the events that carry an error.
type errObserver struct {
	mu      sync.Mutex
	events  []observe.Event
	changed chan struct{} // closed and replaced on each event
}

func (o *errObserver) Enabled(context.Context) bool { return true }

func (o *errObserver) Observe(_ context.Context, e observe.Event) {
	if e.Err == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, e)
	if o.changed != nil {
		close(o.changed)
		o.changed = nil
	}
}

// wait returns once the observer has seen n too-large errors for key.
func (o *errObserver) wait(t *testing.T, key string, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		o.mu.Lock()
		if o.tooLargeLocked(key) >= n {
			o.mu.Unlock()
			return
		}
		if o.changed == nil {
			o.changed = make(chan struct{})
		}
		changed := o.changed
		o.mu.Unlock()
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("the observer saw no too-large error number %d for %q", n, key)
		}
	}
}

// tooLarge counts the events reporting key with driver.ErrValueTooLarge.
func (o *errObserver) tooLarge(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.tooLargeLocked(key)
}

func (o *errObserver) tooLargeLocked(key string) int {
	n := 0
	for _, e := range o.events {
		if errors.Is(e.Err, driver.ErrValueTooLarge) && slices.Contains(e.Keys, key) {
			n++
		}
	}
	return n
}
