package driver

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// FuzzParseMetadata: whatever the fast metadata parser accepts,
// encoding/json reads as the same "ct" and "v".
func FuzzParseMetadata(f *testing.F) {
	for _, seed := range []string{
		`{"ct": 1795235815.192588, "v": 2}`,
		`{"v":2,"ct":1.5}`,
		`{ "ct" : 1e9 , "v" : -3 }`,
		`{"ct": 1, "ct": 2, "v": 2}`,
		`{"ct": 01, "v": 2}`,
		`{"ct": 1.5, "v": 2.0}`,
		`{"ct": 1, "v": 2,}`,
		`{"ct": +1, "v": 2}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		md, ok := parseMetadata(b)
		if !ok {
			return
		}
		var want struct {
			CT float64 `json:"ct"`
			V  int     `json:"v"`
		}
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("parseMetadata accepted %q, which is not JSON: %v", b, err)
		}
		if got := unixSeconds(want.CT); !md.CreatedAt.Equal(got) || md.Version != want.V {
			t.Fatalf("%q: parsed %v %d, encoding/json reads %v %d", b, md.CreatedAt, md.Version, got, want.V)
		}
	})
}

// FuzzParseWritten: whatever the one-pass parser of the usual header
// accepts, encoding/json reads as the same "v" and, to the microsecond
// (a tie at the seventh digit may round either way), the same "ct".
func FuzzParseWritten(f *testing.F) {
	for _, seed := range []string{
		`{"ct": 1795235815.192588, "v": 2}`,
		`{"ct": 1795235815.1925885, "v": 2}`,
		`{"ct": 1, "v": 0}`,
		`{"ct": 1.5e3, "v": 2}`,
		`{"ct": 01, "v": 2}`,
		`{"ct": 1, "v": 02}`,
		`{"ct": -1.5, "v": 2}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		md, ok := parseWritten(b)
		if !ok {
			return
		}
		var want struct {
			CT float64 `json:"ct"`
			V  int     `json:"v"`
		}
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("parseWritten accepted %q, which is not JSON: %v", b, err)
		}
		d := md.CreatedAt.Sub(unixSeconds(want.CT))
		if d < -time.Microsecond || d > time.Microsecond || md.Version != want.V {
			t.Fatalf("%q: parsed %v %d, encoding/json reads %v %d", b, md.CreatedAt, md.Version, unixSeconds(want.CT), want.V)
		}
	})
}

func TestIsJSONNumber(t *testing.T) {
	for _, s := range []string{"0", "-0", "1", "12", "-12.5", "1e9", "1E+9", "1.5e-3", "0.0", "1795235815.9231398"} {
		if !isJSONNumber([]byte(s)) || !json.Valid([]byte(s)) {
			t.Errorf("%q is a JSON number", s)
		}
	}
	for _, s := range []string{"", "-", "+1", "01", "1.", ".5", "1e", "1e+", "--1", "1.2.3", "0x1", "1_0", "Inf", "NaN", " 1"} {
		if isJSONNumber([]byte(s)) {
			t.Errorf("%q is not a JSON number", s)
		}
	}
}

// TestDecimalSecondsMatchesFloat: the creation time read without a float
// parse is the one read through ParseFloat and unixSeconds, for the times
// Go and Python write (whole seconds, microseconds, repr's 17 digits).
func TestDecimalSecondsMatchesFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(s string) {
		t.Helper()
		got, ok := decimalSeconds([]byte(s))
		if !ok {
			t.Fatalf("decimalSeconds(%q) refused a plain number", s)
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		if want := unixSeconds(f); !got.Equal(want) {
			// Only ties at the seventh digit, which the float's binary
			// error decides, may round the other way: a microsecond.
			if d := got.Sub(want); d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("decimalSeconds(%q) = %v, the float path %v", s, got, want)
			}
		}
	}
	for _, s := range []string{"0", "1", "1700000000", "1700000000.0", "1700000000.5", "1700000000.123456",
		"1700000000.1234567", "1700000000.9999996", "4294967295.999999", "12.000001"} {
		check(s)
	}
	for range 10000 {
		sec := rng.Int64N(1 << 32)
		frac := rng.Int64N(1e7)
		check(strconv.FormatInt(sec, 10) + "." + fmt.Sprintf("%07d", frac))
		check(strconv.FormatFloat(float64(sec)+float64(rng.Int64N(1e6))/1e6, 'f', -1, 64))
	}
	for _, s := range []string{"-1.5", "1e9", "42949672960", "1.5e3"} {
		if _, ok := decimalSeconds([]byte(s)); ok {
			t.Errorf("decimalSeconds(%q) took a number it must leave to ParseFloat", s)
		}
	}
}
