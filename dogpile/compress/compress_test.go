package compress_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/compress"
)

// htmlFragment is a deterministic HTML fragment of about size bytes: a
// table of rows with varied names, numbers and links, as a rendered page
// part would hold.
func htmlFragment(size int) string {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega")
	var b strings.Builder
	b.WriteString(`<table class="orders"><thead><tr><th>#</th><th>Customer</th><th>Total</th><th>Status</th></tr></thead><tbody>`)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, `<tr id="order-%d"><td>%d</td><td><a href="/customers/%d">%s %s</a></td><td>%d.%02d €</td><td class="status-%s">%s</td></tr>`+"\n",
			i, rng.IntN(1_000_000), rng.IntN(100_000), words[rng.IntN(len(words))], words[rng.IntN(len(words))],
			rng.IntN(10_000), rng.IntN(100), words[rng.IntN(4)], words[rng.IntN(len(words))])
	}
	b.WriteString("</tbody></table>")
	return b.String()
}

func TestRoundTrip(t *testing.T) {
	c := compress.Codec(dogpile.JSON, compress.Options{})
	page := htmlFragment(100 << 10)
	data, err := c.Marshal(page)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := dogpile.JSON.Marshal(page)
	if !bytes.HasPrefix(data, []byte(compress.Magic)) || len(data) > len(plain)/3 {
		t.Errorf("a 100 KB fragment: %d bytes, prefix %q; want it compressed below a third of %d", len(data), data[:4], len(plain))
	}
	var back string
	if err := c.Unmarshal(data, &back); err != nil || back != page {
		t.Errorf("Unmarshal of the compressed fragment: %v (equal %v)", err, back == page)
	}

	// Small payloads are the inner codec's bytes, unchanged.
	small, err := c.Marshal(map[string]int{"a": 1})
	if err != nil || string(small) != `{"a":1}` {
		t.Errorf("small payload = %q, %v; want the JSON as it is", small, err)
	}
	// At MinSize exactly, compressed; one byte under, not.
	c2 := compress.Codec(dogpile.JSON, compress.Options{MinSize: 200})
	for _, n := range []int{198, 197} { // + 2 quotes
		data, err := c2.Marshal(strings.Repeat("a", n))
		if compressed := bytes.HasPrefix(data, []byte(compress.Magic)); err != nil || compressed != (n+2 >= 200) {
			t.Errorf("MinSize 200, payload of %d bytes: compressed %v, %v", n+2, compressed, err)
		}
	}
}

func TestPlainPayloadsDecode(t *testing.T) {
	// What Python or a region without compression wrote.
	c := compress.Codec(dogpile.JSON, compress.Options{})
	big, _ := dogpile.JSON.Marshal(htmlFragment(10 << 10))
	for _, plain := range [][]byte{[]byte(`"hi"`), []byte(`[1, 2.0, null]`), big} {
		var v any
		if err := c.Unmarshal(plain, &v); err != nil {
			t.Errorf("Unmarshal(%.20q): %v", plain, err)
		}
	}
}

func TestIncompressible(t *testing.T) {
	// Random bytes grow under gzip: stored as the inner codec wrote them.
	raw := make([]byte, 8<<10)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	c := compress.Codec(bytesCodec{}, compress.Options{})
	data, err := c.Marshal(raw)
	if err != nil || !bytes.Equal(data, raw) {
		t.Errorf("random payload: %d bytes, %v; want it stored as it is", len(data), err)
	}
}

func TestMagicInPayload(t *testing.T) {
	// An inner codec's payload that happens to start with Magic is
	// compressed, however small, so it decodes as it was.
	c := compress.Codec(bytesCodec{}, compress.Options{})
	for _, p := range [][]byte{[]byte(compress.Magic), []byte(compress.Magic + "x")} {
		data, err := c.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back []byte
		if err := c.Unmarshal(data, &back); err != nil || !bytes.Equal(back, p) {
			t.Errorf("payload %q: stored %q, read %q, %v", p, data, back, err)
		}
	}
}

func TestUndecodable(t *testing.T) {
	c := compress.Codec(dogpile.JSON, compress.Options{MaxSize: 1 << 20})
	good, err := c.Marshal(htmlFragment(20 << 10))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)/2] ^= 0xff
	var bomb bytes.Buffer
	bomb.WriteString(compress.Magic)
	zw := gzip.NewWriter(&bomb)
	_, _ = zw.Write(bytes.Repeat([]byte(" "), 2<<20)) // 2 MiB of JSON whitespace, over MaxSize
	_ = zw.Close()
	for name, data := range map[string][]byte{
		"truncated": good[:len(good)-9],
		"corrupt":   corrupt,
		"no gzip":   []byte(compress.Magic + "not gzip at all"),
		"empty":     []byte(compress.Magic),
		"bomb":      bomb.Bytes(),
	} {
		var v string
		if err := c.Unmarshal(data, &v); !errors.Is(err, dogpile.ErrUndecodable) || !strings.HasPrefix(err.Error(), "undecodable entry: compress: ") {
			t.Errorf("%s: Unmarshal = %v; want an error wrapping dogpile.ErrUndecodable", name, err)
		}
	}
	// The inner codec's own errors pass through.
	var n int
	if err := c.Unmarshal(good, &n); !errors.Is(err, dogpile.ErrTypeMismatch) {
		t.Errorf("Unmarshal of a string into an int: %v; want dogpile.ErrTypeMismatch", err)
	}
}

func TestValid(t *testing.T) {
	c := compress.Codec(dogpile.JSON, compress.Options{}).(interface{ Valid([]byte) bool })
	good, _ := compress.Codec(dogpile.JSON, compress.Options{}).Marshal(htmlFragment(4 << 10))
	for data, want := range map[string]bool{
		string(good):                    true,
		`{"a": 1}`:                      true,
		`{"a": `:                        false, // the inner codec's check
		compress.Magic + "\x1f\x8b":     false,
		compress.Magic + "garbage bits": false,
	} {
		if got := c.Valid([]byte(data)); got != want {
			t.Errorf("Valid(%.24q) = %v; want %v", data, got, want)
		}
	}
	if !compress.Codec(bytesCodec{}, compress.Options{}).(interface{ Valid([]byte) bool }).Valid([]byte("anything")) {
		t.Error("Valid without an inner Valid method rejects a plain payload")
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, tc := range []struct {
		inner dogpile.Codec
		opts  compress.Options
		want  string
	}{
		{nil, compress.Options{}, "nil inner codec"},
		{dogpile.JSON, compress.Options{MinSize: -1}, "Options.MinSize is -1"},
		{dogpile.JSON, compress.Options{MaxSize: -1}, "Options.MaxSize is -1"},
		{dogpile.JSON, compress.Options{Level: 10}, "Options.Level is 10, want -2 to 9, or 0 (gzip's default)"},
		{dogpile.JSON, compress.Options{Level: -3}, "Options.Level is -3"},
	} {
		c := compress.Codec(tc.inner, tc.opts)
		_, merr := c.Marshal("x")
		var v string
		uerr := c.Unmarshal([]byte(`"x"`), &v)
		for _, err := range []error{merr, uerr} {
			if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), "invalid argument: compress: "+tc.want) {
				t.Errorf("%+v: %v; want an error wrapping dogpile.ErrInvalidArgument saying %q", tc.opts, err, tc.want)
			}
		}
	}
	for _, level := range []int{gzip.HuffmanOnly, gzip.DefaultCompression, gzip.BestSpeed, gzip.BestCompression} {
		c := compress.Codec(dogpile.JSON, compress.Options{Level: level})
		data, err := c.Marshal(htmlFragment(4 << 10))
		var back string
		if err == nil {
			err = c.Unmarshal(data, &back)
		}
		if err != nil || !bytes.HasPrefix(data, []byte(compress.Magic)) {
			t.Errorf("level %d: %v", level, err)
		}
	}
}

// TestRegion stores a large fragment compressed through a region on a
// byte-storing backend, and reads it back, concurrently.
func TestRegion(t *testing.T) {
	ctx := context.Background()
	b, err := memory.NewBytes(memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := dogpile.NewRegion(dogpile.WithCodec(compress.Codec(dogpile.JSON, compress.Options{})))
	if err := r.ConfigureBackend(b, dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	page := htmlFragment(20 << 10)
	var wg sync.WaitGroup
	var creations sync.Map
	for i := range 4 {
		wg.Go(func() {
			key := fmt.Sprintf("page:%d", i%2)
			for range 5 {
				v, err := dogpile.GetOrCreate(ctx, r, key, func(context.Context) (string, error) {
					if _, dup := creations.LoadOrStore(key, true); dup {
						t.Errorf("%s created twice", key)
					}
					return page, nil
				})
				if err != nil || v != page {
					t.Errorf("GetOrCreate(%s): %d bytes, %v", key, len(v), err)
					return
				}
			}
		})
	}
	wg.Wait()
	entry, ok, err := b.GetBytes(ctx, "page:0")
	if err != nil || !ok || !bytes.Contains(entry, []byte("|"+compress.Magic)) || len(entry) > len(page)/3 {
		t.Errorf("stored entry: %d bytes, found %v, %v; want the wire format with a compressed payload", len(entry), ok, err)
	}
}

// bytesCodec stores []byte values as they are.
type bytesCodec struct{}

func (bytesCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("bytes codec: %T", v)
	}
	return b, nil
}

func (bytesCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("%w: bytes codec: %T", dogpile.ErrTypeMismatch, v)
	}
	*p = bytes.Clone(data)
	return nil
}
