package driver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ValueVersion is the metadata version ("v") regions write. Entries
// carrying another version are a miss on every read path, as
// dogpile.cache does in get_or_create.
const ValueVersion = 2

// Metadata is what a region keeps beside a payload: its creation time and
// the format version. In the wire format it is the JSON object
// {"ct": <unix seconds>, "v": 2} in front of the payload.
type Metadata struct {
	// CreatedAt is when the value was created (dogpile's "ct").
	CreatedAt time.Time
	// Version is the format version (dogpile's "v"); zero in the zero
	// CachedValue, which stands for a miss.
	Version int
}

// CachedValue is a payload with its metadata, the unit a ValueBackend
// stores (dogpile.cache's CachedValue). The zero CachedValue stands for a
// miss in ValueBackend.GetMulti.
type CachedValue struct {
	// Payload is the cached Go value, as the region's caller gave it.
	Payload any
	// Metadata holds the creation time and the format version.
	Metadata Metadata
}

// EncodeEntry returns the wire format of an entry: the metadata as JSON, a
// "|" and the payload bytes, exactly as dogpile.cache ≥ 1.1 writes it, so
// Python processes configured with a JSON serializer read it.
func EncodeEntry(md Metadata, payload []byte) []byte {
	b := make([]byte, 0, 32+len(payload))
	b = append(b, `{"ct": `...)
	b = appendUnixSeconds(b, md.CreatedAt)
	b = append(b, `, "v": `...)
	b = strconv.AppendInt(b, int64(md.Version), 10)
	b = append(b, "}|"...)
	return append(b, payload...)
}

// DecodeEntry splits an entry of the wire format into its metadata and
// payload bytes. The payload aliases entry. Anything else (Python pickle,
// truncation, another format) is an error wrapping ErrUndecodable.
func DecodeEntry(entry []byte) (Metadata, []byte, error) {
	i := bytes.IndexByte(entry, '|')
	if i < 0 || i == 0 || entry[0] != '{' {
		return Metadata{}, nil, fmt.Errorf("%w: no metadata header", ErrUndecodable)
	}
	if md, ok := parseWritten(entry[:i]); ok {
		return md, entry[i+1:], nil
	}
	if md, ok := parseMetadata(entry[:i]); ok {
		return md, entry[i+1:], nil
	}
	// Anything else valid: keys are matched exactly, as Python's json
	// module does, and other keys are ignored.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(entry[:i], &fields); err != nil {
		return Metadata{}, nil, fmt.Errorf("%w: metadata: %v", ErrUndecodable, err)
	}
	var ct float64
	var v int
	rawCT, rawV := fields["ct"], fields["v"]
	if string(rawCT) == "null" || string(rawV) == "null" ||
		json.Unmarshal(rawCT, &ct) != nil || json.Unmarshal(rawV, &v) != nil {
		return Metadata{}, nil, fmt.Errorf("%w: metadata lacks a numeric \"ct\" or \"v\"", ErrUndecodable)
	}
	// Beyond 2^32 seconds (the year 2106) a float64 no longer holds
	// microseconds, and far beyond it time arithmetic overflows.
	if math.IsNaN(ct) || math.Abs(ct) >= 1<<32 {
		return Metadata{}, nil, fmt.Errorf("%w: creation time %v out of range", ErrUndecodable, ct)
	}
	return Metadata{CreatedAt: unixSeconds(ct), Version: v}, entry[i+1:], nil
}

// appendUnixSeconds appends t as fractional unix seconds with microsecond
// precision, the way Python prints time.time().
func appendUnixSeconds(b []byte, t time.Time) []byte {
	n := len(b)
	b = strconv.AppendFloat(b, float64(t.UnixMicro())/1e6, 'f', -1, 64)
	if bytes.IndexByte(b[n:], '.') < 0 {
		b = append(b, ".0"...) // Python prints whole floats so
	}
	return b
}

func unixSeconds(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3)
}

// parseWritten reads the metadata exactly as EncodeEntry and Python's
// json.dumps write it, {"ct": <number>, "v": <digits>}, in one pass;
// anything else reports false, for parseMetadata.
func parseWritten(b []byte) (Metadata, bool) {
	const head, mid = `{"ct": `, `, "v": `
	if len(b) < len(head)+1+len(mid)+2 || string(b[:len(head)]) != head || b[len(b)-1] != '}' {
		return Metadata{}, false
	}
	b = b[len(head) : len(b)-1]
	end := bytes.IndexByte(b, ',')
	if end < 0 || len(b)-end < len(mid)+1 || string(b[end:end+len(mid)]) != mid {
		return Metadata{}, false
	}
	num, digits := b[:end], b[end+len(mid):]
	if len(digits) > 9 {
		return Metadata{}, false
	}
	v := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return Metadata{}, false
		}
		v = v*10 + int(c-'0')
	}
	if len(digits) > 1 && digits[0] == '0' || !isJSONNumber(num) {
		return Metadata{}, false
	}
	if t, ok := decimalSeconds(num); ok {
		return Metadata{CreatedAt: t, Version: v}, true
	}
	// string(...) of a call argument that does not escape stays on the
	// stack: no allocation.
	ct, err := strconv.ParseFloat(string(num), 64)
	if err != nil || math.IsNaN(ct) || math.Abs(ct) >= 1<<32 {
		return Metadata{}, false
	}
	return Metadata{CreatedAt: unixSeconds(ct), Version: v}, true
}

// decimalSeconds reads the common creation time, unix seconds written as
// <digits>[.<digits>] (a valid JSON number, below 2^32), rounded to the
// microsecond as unixSeconds rounds a float, without parsing a float.
// Anything else (a sign, an exponent, a longer integer part) reports
// false.
func decimalSeconds(num []byte) (time.Time, bool) {
	var sec int64
	i := 0
	for ; i < len(num) && num[i] != '.'; i++ {
		c := num[i]
		if c < '0' || c > '9' || i >= 10 {
			return time.Time{}, false
		}
		sec = sec*10 + int64(c-'0')
	}
	if sec >= 1<<32 {
		return time.Time{}, false
	}
	var micro int64
	if i < len(num) { // the fraction: six digits, rounded by the seventh
		frac := num[i+1:]
		for _, c := range frac {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
		}
		for j := range 6 {
			micro *= 10
			if j < len(frac) {
				micro += int64(frac[j] - '0')
			}
		}
		if len(frac) > 6 && frac[6] >= '5' {
			micro++
		}
	}
	return time.Unix(sec, micro*1e3), true
}

// parseMetadata reads the metadata both Python and this package write,
// {"ct": <number>, "v": <integer>} with the keys in either order, without
// the cost of encoding/json. Anything else reports false, and is left to
// the general decoder.
func parseMetadata(b []byte) (Metadata, bool) {
	s := metaScanner{b: b}
	var ct float64
	var v int64
	var seenCT, seenV bool
	if !s.consume('{') {
		return Metadata{}, false
	}
	for {
		var err error
		isCT := s.consumeString(`"ct"`)
		if !isCT && !s.consumeString(`"v"`) || !s.consume(':') {
			return Metadata{}, false
		}
		// string(...) of a call argument that does not escape stays on
		// the stack: no allocation per number.
		switch {
		case isCT && !seenCT:
			ct, err = strconv.ParseFloat(string(s.number()), 64)
			seenCT = true
		case !isCT && !seenV:
			v, err = strconv.ParseInt(string(s.number()), 10, 32)
			seenV = true
		default: // a repeated key: leave it to encoding/json
			return Metadata{}, false
		}
		if err != nil {
			return Metadata{}, false
		}
		if s.consume('}') {
			break
		}
		if !s.consume(',') {
			return Metadata{}, false
		}
	}
	s.space()
	if s.i != len(b) || !seenCT || !seenV || math.IsNaN(ct) || math.Abs(ct) >= 1<<32 {
		return Metadata{}, false
	}
	return Metadata{CreatedAt: unixSeconds(ct), Version: int(v)}, true
}

// metaScanner walks JSON metadata for parseMetadata.
type metaScanner struct {
	b []byte
	i int
}

func (s *metaScanner) space() {
	for s.i < len(s.b) && strings.IndexByte(" \t\n\r", s.b[s.i]) >= 0 {
		s.i++
	}
}

// consume skips white space and then c, reporting whether c was there.
func (s *metaScanner) consume(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// consumeString skips white space and then lit, if lit comes next.
func (s *metaScanner) consumeString(lit string) bool {
	s.space()
	if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		s.i += len(lit)
		return true
	}
	return false
}

// number returns the JSON number at the current position, or nothing
// (which no strconv function accepts) when there is none.
func (s *metaScanner) number() []byte {
	s.space()
	j := s.i
	for s.i < len(s.b) && strings.IndexByte("+-.0123456789eE", s.b[s.i]) >= 0 {
		s.i++
	}
	if !isJSONNumber(s.b[j:s.i]) { // JSON is stricter than strconv: no "+1", no "01"
		return nil
	}
	return s.b[j:s.i]
}

// isJSONNumber reports whether b is a number of JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(b []byte) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}
