package dogpile_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
)

// valPython is an entry as dogpile.cache ≥ 1.1 writes it with a JSON
// serializer: json.dumps of the metadata, "|", the payload.
const valPython = `{"ct": 1795235815.192588, "v": 2}|{"x": 1}`

func TestEncodeEntry(t *testing.T) {
	tests := []struct {
		name    string
		md      dogpile.Metadata
		payload string
		want    string
	}{
		{"dogpile.cache's bytes", dogpile.Metadata{CreatedAt: time.UnixMicro(1795235815192588), Version: 2}, `{"x": 1}`, valPython},
		{"nanoseconds truncated to microseconds", dogpile.Metadata{CreatedAt: time.Unix(1795235815, 192588999), Version: 2}, `1`,
			`{"ct": 1795235815.192588, "v": 2}|1`},
		{"a tenth", dogpile.Metadata{CreatedAt: time.Unix(100, 1e8), Version: 2}, `"a"`, `{"ct": 100.1, "v": 2}|"a"`},
		{"empty payload", dogpile.Metadata{CreatedAt: time.UnixMicro(1500000), Version: 1}, ``, `{"ct": 1.5, "v": 1}|`},
		{"payload holding |", dogpile.Metadata{CreatedAt: time.UnixMicro(2500000), Version: 2}, `"a|b"`, `{"ct": 2.5, "v": 2}|"a|b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dogpile.EncodeEntry(tt.md, []byte(tt.payload))
			if string(got) != tt.want {
				t.Errorf("EncodeEntry = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeEntry(t *testing.T) {
	tests := []struct {
		name    string
		entry   string
		created time.Time
		version int
		payload string
	}{
		{"dogpile.cache's bytes", valPython, time.UnixMicro(1795235815192588), 2, `{"x": 1}`},
		{"integral seconds", `{"ct": 1795235815, "v": 2}|"v"`, time.Unix(1795235815, 0), 2, `"v"`},
		{"integral float", `{"ct": 1795235815.0, "v": 2}|"v"`, time.Unix(1795235815, 0), 2, `"v"`},
		{"exponent", `{"ct": 1.7952358151925881e9, "v": 2}|1`, time.UnixMicro(1795235815192588), 2, `1`},
		{"sub-microsecond digits round", `{"ct": 1795235815.1925876, "v": 2}|1`, time.UnixMicro(1795235815192588), 2, `1`},
		{"extra metadata keys ignored", `{"ct": 1795235815.192588, "v": 2, "sz": 10}|{"x": 1}`, time.UnixMicro(1795235815192588), 2, `{"x": 1}`},
		{"other key order, no spaces", `{"v":2,"ct":1.5}|[1]`, time.UnixMicro(1500000), 2, `[1]`},
		{"another version decodes", `{"ct": 1, "v": 1}|1`, time.Unix(1, 0), 1, `1`},
		{"payload holding |", `{"ct": 2.5, "v": 2}|"a|b"`, time.UnixMicro(2500000), 2, `"a|b"`},
		{"empty payload", `{"ct": 2.5, "v": 2}|`, time.UnixMicro(2500000), 2, ``},
		{"binary payload", "{\"ct\": 2.5, \"v\": 2}|\x80\x04\x95", time.UnixMicro(2500000), 2, "\x80\x04\x95"},
		{"before 1970", `{"ct": -1.5, "v": 2}|1`, time.UnixMicro(-1500000), 2, `1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md, payload, err := dogpile.DecodeEntry([]byte(tt.entry))
			if err != nil {
				t.Fatal(err)
			}
			if !md.CreatedAt.Equal(tt.created) || md.Version != tt.version || string(payload) != tt.payload {
				t.Errorf("DecodeEntry = %v (%d µs), v %d, %q; want %v, v %d, %q",
					md.CreatedAt, md.CreatedAt.UnixMicro(), md.Version, payload, tt.created, tt.version, tt.payload)
			}
		})
	}
}

func TestEncodeDecodeEntryRoundTrip(t *testing.T) {
	times := []time.Time{
		time.UnixMicro(1795235815192588),
		time.UnixMicro(1),
		time.Unix(0, 0),
		time.Unix(1795235815, 0),
		time.Unix(1795235815, 999999000),
		time.Unix(1700000000, 123000),
		time.UnixMicro(-1500000),
		time.Date(2106, 1, 1, 0, 0, 0, 999999000, time.UTC),
		time.Now().Truncate(time.Microsecond),
	}
	for _, ct := range times {
		for _, payload := range []string{``, `{"x": 1}`, `"|"`, "\x00\xff"} {
			md := dogpile.Metadata{CreatedAt: ct, Version: dogpile.ValueVersion}
			entry := dogpile.EncodeEntry(md, []byte(payload))
			// The header is JSON that Python's json.loads reads.
			header, _, _ := bytes.Cut(entry, []byte("|"))
			var parsed map[string]any
			if err := json.Unmarshal(header, &parsed); err != nil || len(parsed) != 2 {
				t.Errorf("header %q: %v %v", header, parsed, err)
			}
			got, p, err := dogpile.DecodeEntry(entry)
			if err != nil {
				t.Fatalf("DecodeEntry(%q): %v", entry, err)
			}
			if !got.CreatedAt.Equal(ct) || got.Version != md.Version || string(p) != payload {
				t.Errorf("%q decodes to %v (%d µs) v %d %q, want %v (%d µs)", entry,
					got.CreatedAt, got.CreatedAt.UnixMicro(), got.Version, p, ct, ct.UnixMicro())
			}
		}
	}
}

func TestDecodeEntryUndecodable(t *testing.T) {
	tests := []struct {
		name  string
		entry string
	}{
		{"empty", ""},
		{"nil", "\x00"},
		{"no separator", `{"ct": 1795235815.192588, "v": 2}`},
		{"only the separator", "|"},
		{"empty header", `|{"x": 1}`},
		{"python pickle", "\x80\x04\x95\x1b\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x02ct\x94G@\xda\xbb\x8b|\x94\x8c\x01v\x94K\x02u."},
		{"python pickle protocol 5", "\x80\x05\x95\x0b\x00\x00\x00\x00\x00\x00\x00\x8c\x07payload\x94."},
		{"truncated JSON", `{"ct": 1795235815.19|{"x": 1}`},
		{"truncated before the separator", `{"ct": 1795235815.192588, "v": 2`},
		{"truncated object", `{"ct": 1795235815.192588, "v":|1`},
		{"missing ct", `{"v": 2}|{"x": 1}`},
		{"missing v", `{"ct": 1795235815.192588}|{"x": 1}`},
		{"empty object", `{}|1`},
		{"null ct", `{"ct": null, "v": 2}|1`},
		{"string ct", `{"ct": "1795235815", "v": 2}|1`},
		{"fractional v", `{"ct": 1, "v": 2.5}|1`},
		{"string v", `{"ct": 1, "v": "2"}|1`},
		{"header is an array", `[1795235815, 2]|1`},
		{"header is a number", `17|1`},
		{"header is null", `null|1`},
		{"leading space", ` {"ct": 1, "v": 2}|1`},
		{"plain JSON payload", `{"x": 1}`},
		{"separator inside the header", `{"ct": 1, "v": 2, "k": "a|b"}|1`},
		{"two objects", `{"ct": 1, "v": 2}{"x": 1}|1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md, payload, err := dogpile.DecodeEntry([]byte(tt.entry))
			if !errors.Is(err, dogpile.ErrUndecodable) {
				t.Fatalf("DecodeEntry = %v %q %v, want ErrUndecodable", md, payload, err)
			}
			if !strings.HasPrefix(err.Error(), "dogpile:") {
				t.Errorf("error %q lacks the dogpile: prefix", err)
			}
			if payload != nil || md != (dogpile.Metadata{}) {
				t.Errorf("undecodable entry gave %v %q", md, payload)
			}
		})
	}
}

// FuzzDecodeEntry: DecodeEntry never panics; what it decodes, EncodeEntry
// writes back to an entry that decodes to the same metadata and payload.
func FuzzDecodeEntry(f *testing.F) {
	for _, seed := range []string{
		valPython,
		`{"ct": 1795235815, "v": 2}|"v"`,
		`{"ct": 1795235815.192588, "v": 2, "sz": 10}|{"x": 1}`,
		`{"v":2,"ct":1.5}|[1]`,
		`{"ct": -1.5, "v": 2}|`,
		`{"ct": 1e9, "v": -3}|x|y`,
		"",
		"|",
		`{"ct": 1795235815.19|{"x": 1}`,
		`{"v": 2}|1`,
		`{"ct": 1}|1`,
		`{"ct":700000000001,"v":0}|`,   // past 2^32 s: microseconds lost
		`{"ct":10000000000000,"v":2}|`, // UnixMicro would overflow
		`{"Ct": 1, "V": 2}|1`,          // keys match exactly, as in Python
		"\x80\x04\x95\x1b\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x02ct\x94G@\xda\xbb\x8b|\x94.",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, entry []byte) {
		md, payload, err := dogpile.DecodeEntry(entry)
		if err != nil {
			if !errors.Is(err, dogpile.ErrUndecodable) {
				t.Fatalf("error %v does not wrap ErrUndecodable", err)
			}
			return
		}
		if i := bytes.IndexByte(entry, '|'); i < 0 || !bytes.Equal(payload, entry[i+1:]) {
			t.Fatalf("payload %q is not what follows the first | of %q", payload, entry)
		}
		again := dogpile.EncodeEntry(md, payload)
		md2, payload2, err := dogpile.DecodeEntry(again)
		if err != nil {
			t.Fatalf("re-encoded %q (from %q) does not decode: %v", again, entry, err)
		}
		if !md2.CreatedAt.Equal(md.CreatedAt) || md2.Version != md.Version || !bytes.Equal(payload2, payload) {
			t.Fatalf("%q decodes to %v (%d µs) v %d; re-encoded as %q it decodes to %v (%d µs) v %d",
				entry, md.CreatedAt, md.CreatedAt.UnixMicro(), md.Version,
				again, md2.CreatedAt, md2.CreatedAt.UnixMicro(), md2.Version)
		}
	})
}
