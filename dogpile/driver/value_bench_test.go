package driver_test

import (
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// BenchmarkDecodeEntry decodes the header Go writes and the one Python's
// dogpile.cache writes (json.dumps: microseconds, or repr's 17 digits).
func BenchmarkDecodeEntry(b *testing.B) {
	goEntry := driver.EncodeEntry(driver.Metadata{CreatedAt: time.Unix(1700000000, 123456000), Version: 2}, []byte(`"payload"`))
	for name, entry := range map[string][]byte{
		"go":     goEntry,
		"python": []byte(`{"ct": 1700000000.1234567, "v": 2}|"payload"`),
		"spaced": []byte(`{ "v" : 2 , "ct" : 1700000000.5 }|"payload"`),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := driver.DecodeEntry(entry); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeEntry(b *testing.B) {
	md := driver.Metadata{CreatedAt: time.Unix(1700000000, 123456000), Version: 2}
	payload := []byte(`"payload"`)
	b.ReportAllocs()
	for b.Loop() {
		driver.EncodeEntry(md, payload)
	}
}
