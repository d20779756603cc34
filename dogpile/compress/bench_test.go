package compress_test

import (
	"compress/gzip"
	"testing"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/compress"
)

// BenchmarkFragment encodes and decodes a 100 KB HTML fragment (a JSON
// string) with plain JSON and compressed at three levels, reporting the
// stored size and its ratio to the JSON's.
func BenchmarkFragment(b *testing.B) {
	page := htmlFragment(100 << 10)
	plain, _ := dogpile.JSON.Marshal(page)
	for _, tc := range []struct {
		name  string
		codec dogpile.Codec
	}{
		{"json", dogpile.JSON},
		{"gzip-speed", compress.Codec(dogpile.JSON, compress.Options{Level: gzip.BestSpeed})},
		{"gzip-default", compress.Codec(dogpile.JSON, compress.Options{})},
		{"gzip-best", compress.Codec(dogpile.JSON, compress.Options{Level: gzip.BestCompression})},
	} {
		data, err := tc.codec.Marshal(page)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name+"/encode", func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tc.codec.Marshal(page); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "stored-bytes")
			b.ReportMetric(float64(len(plain))/float64(len(data)), "ratio")
		})
		b.Run(tc.name+"/decode", func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()
			for b.Loop() {
				var s string
				if err := tc.codec.Unmarshal(data, &s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
