package driver

import (
	"encoding/json"
	"testing"
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
