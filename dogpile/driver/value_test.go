package driver_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/internal/python"
)

// valPython is an entry as dogpile.cache ≥ 1.1 writes it with a JSON
// serializer: json.dumps of the metadata, "|", the payload.
const valPython = `{"ct": 1795235815.192588, "v": 2}|{"x": 1}`

func TestEncodeEntry(t *testing.T) {
	tests := []struct {
		name    string
		md      driver.Metadata
		payload string
		want    string
	}{
		{"dogpile.cache's bytes", driver.Metadata{CreatedAt: time.UnixMicro(1795235815192588), Version: 2}, `{"x": 1}`, valPython},
		{"nanoseconds truncated to microseconds", driver.Metadata{CreatedAt: time.Unix(1795235815, 192588999), Version: 2}, `1`,
			`{"ct": 1795235815.192588, "v": 2}|1`},
		{"a tenth", driver.Metadata{CreatedAt: time.Unix(100, 1e8), Version: 2}, `"a"`, `{"ct": 100.1, "v": 2}|"a"`},
		{"whole seconds", driver.Metadata{CreatedAt: time.Unix(1795235815, 0), Version: 2}, `1`, `{"ct": 1795235815.0, "v": 2}|1`},
		{"empty payload", driver.Metadata{CreatedAt: time.UnixMicro(1500000), Version: 1}, ``, `{"ct": 1.5, "v": 1}|`},
		{"payload holding |", driver.Metadata{CreatedAt: time.UnixMicro(2500000), Version: 2}, `"a|b"`, `{"ct": 2.5, "v": 2}|"a|b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := driver.EncodeEntry(tt.md, []byte(tt.payload))
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
		{"repeated key: the last wins, as in Python", `{"ct": 1, "ct": 2, "v": 2}|1`, time.Unix(2, 0), 2, `1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md, payload, err := driver.DecodeEntry([]byte(tt.entry))
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
			md := driver.Metadata{CreatedAt: ct, Version: driver.ValueVersion}
			entry := driver.EncodeEntry(md, []byte(payload))
			// The header is JSON that Python's json.loads reads.
			header, _, _ := bytes.Cut(entry, []byte("|"))
			var parsed map[string]any
			if err := json.Unmarshal(header, &parsed); err != nil || len(parsed) != 2 {
				t.Errorf("header %q: %v %v", header, parsed, err)
			}
			got, p, err := driver.DecodeEntry(entry)
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
		{"creation time beyond 2106", `{"ct": 1e10, "v": 2}|1`},
		{"creation time beyond float64", `{"ct": 1e999, "v": 2}|1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md, payload, err := driver.DecodeEntry([]byte(tt.entry))
			if !errors.Is(err, driver.ErrUndecodable) {
				t.Fatalf("DecodeEntry = %v %q %v, want ErrUndecodable", md, payload, err)
			}
			if msg := err.Error(); strings.HasPrefix(msg, "dogpile") || !strings.HasPrefix(msg, driver.ErrUndecodable.Error()) {
				t.Errorf("error %q: want it to begin with %q, never with dogpile", msg, driver.ErrUndecodable)
			}
			if payload != nil || md != (driver.Metadata{}) {
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
		md, payload, err := driver.DecodeEntry(entry)
		if err != nil {
			if !errors.Is(err, driver.ErrUndecodable) {
				t.Fatalf("error %v does not wrap ErrUndecodable", err)
			}
			return
		}
		if i := bytes.IndexByte(entry, '|'); i < 0 || !bytes.Equal(payload, entry[i+1:]) {
			t.Fatalf("payload %q is not what follows the first | of %q", payload, entry)
		}
		again := driver.EncodeEntry(md, payload)
		md2, payload2, err := driver.DecodeEntry(again)
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

// pyEntries has dogpile.cache's CacheRegion write each entry with an
// identity serializer, and read each Go entry back.
const pyEntries = `
import base64, json, sys
from dogpile.cache import make_region
region = make_region(serializer=lambda v: v, deserializer=lambda b: b)
out = []
for c in json.load(sys.stdin):
    payload = base64.b64decode(c["payload"])
    written = region._serialize_cached_value_elements(payload, {"ct": c["us"] / 1e6, "v": 2})
    read = region._parse_serialized_from_backend(base64.b64decode(c["go"]))
    out.append({"written": base64.b64encode(written).decode(), "ct": read.metadata["ct"],
                "v": read.metadata["v"], "payload": base64.b64encode(read.payload).decode()})
print(json.dumps(out))
`

// TestEntryMatchesPython: EncodeEntry writes the bytes dogpile.cache's
// CacheRegion writes for the same metadata and payload, and dogpile.cache
// reads what EncodeEntry writes.
func TestEntryMatchesPython(t *testing.T) {
	type pyCase struct {
		US      int64  `json:"us"`
		Payload []byte `json:"payload"` // base64 in JSON, as Python decodes it
		Go      []byte `json:"go"`
	}
	type pyResult struct {
		Written []byte  `json:"written"`
		CT      float64 `json:"ct"`
		V       int     `json:"v"`
		Payload []byte  `json:"payload"`
	}
	var cases []pyCase
	for _, us := range []int64{1795235815192588, 1700000000000000, 1700000000100000, 1700000000000001, 1000000, 0, 4294967295999999} {
		for _, payload := range []string{`{"x": 1}`, ``, `"a|b"`, "\x80\x04\x95"} {
			md := driver.Metadata{CreatedAt: time.UnixMicro(us), Version: driver.ValueVersion}
			cases = append(cases, pyCase{US: us, Payload: []byte(payload), Go: driver.EncodeEntry(md, []byte(payload))})
		}
	}
	py := python.Interpreter(t, "dogpile.cache")
	var out []pyResult
	python.RunJSON(t, py, pyEntries, cases, &out)
	if len(out) != len(cases) {
		t.Fatalf("%s printed %d results for %d cases", py, len(out), len(cases))
	}
	for i, c := range cases {
		if !bytes.Equal(out[i].Written, c.Go) {
			t.Errorf("µs %d: dogpile.cache writes %q, EncodeEntry %q", c.US, out[i].Written, c.Go)
		}
		if want := float64(c.US) / 1e6; out[i].CT != want || out[i].V != driver.ValueVersion || !bytes.Equal(out[i].Payload, c.Payload) {
			t.Errorf("dogpile.cache reads %q as ct %v v %d payload %q; want %v, %d, %q",
				c.Go, out[i].CT, out[i].V, out[i].Payload, want, driver.ValueVersion, c.Payload)
		}
		md, payload, err := driver.DecodeEntry(out[i].Written)
		if err != nil || md.CreatedAt.UnixMicro() != c.US || !bytes.Equal(payload, c.Payload) {
			t.Errorf("DecodeEntry(%q) = %v (%d µs), %q, %v", out[i].Written, md.CreatedAt, md.CreatedAt.UnixMicro(), payload, err)
		}
	}
}
