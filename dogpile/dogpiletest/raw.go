package dogpiletest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// The tests of the backend's own methods.
var rawTests = []test{
	{"Missing", anyKind, testRawMissing},
	{"SetGet", anyKind, testRawSetGet},
	{"Overwrite", anyKind, testRawOverwrite},
	{"Delete", anyKind, testRawDelete},
	{"DeleteMissing", anyKind, testRawDeleteMissing},
	{"Multi", anyKind, testRawMulti},
	{"EmptyMulti", anyKind, testRawEmptyMulti},
	{"Keys", anyKind, testRawKeys},
	{"Payloads", valueKind, testRawPayloads},
	{"BinaryValues", bytesKind, testRawBinaryValues},
}

// rawTime is the creation time of the values the raw tests store in a
// ValueBackend.
var rawTime = time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)

// The raw helpers store the string s as a CachedValue holding s in a
// ValueBackend, and as the bytes of s in a BytesBackend.

func (e *env) rawSet(key, s string) {
	e.t.Helper()
	var err error
	if e.values != nil {
		err = e.values.Set(e.ctx, key, newValue(s, rawTime))
	} else {
		err = e.bytes.SetBytes(e.ctx, key, []byte(s))
	}
	if err != nil {
		e.t.Fatalf("set %s: %v", e.show(key), err)
	}
}

func (e *env) rawSetMulti(kvs ...string) {
	e.t.Helper()
	var err error
	if e.values != nil {
		items := make([]driver.Item, 0, len(kvs)/2)
		for i := 0; i < len(kvs); i += 2 {
			items = append(items, driver.Item{Key: kvs[i], Value: newValue(kvs[i+1], rawTime)})
		}
		err = e.values.SetMulti(e.ctx, items)
	} else {
		items := make([]driver.BytesItem, 0, len(kvs)/2)
		for i := 0; i < len(kvs); i += 2 {
			items = append(items, driver.BytesItem{Key: kvs[i], Value: []byte(kvs[i+1])})
		}
		err = e.bytes.SetBytesMulti(e.ctx, items)
	}
	if err != nil {
		e.t.Fatalf("set multi of %d entries: %v", len(kvs)/2, err)
	}
}

// rawGet returns the string under key and whether there is one.
func (e *env) rawGet(key string) (string, bool) {
	e.t.Helper()
	if e.values != nil {
		cv, ok, err := e.values.Get(e.ctx, key)
		if err != nil {
			e.t.Fatalf("Get(%s): %v", e.show(key), err)
		}
		if !ok {
			return "", false
		}
		return e.checkRawValue(key, cv), true
	}
	b, ok, err := e.bytes.GetBytes(e.ctx, key)
	if err != nil {
		e.t.Fatalf("GetBytes(%s): %v", e.show(key), err)
	}
	return string(b), ok
}

// checkRawValue checks the metadata of a value the raw helpers stored and
// returns its payload.
func (e *env) checkRawValue(key string, cv driver.CachedValue) string {
	e.t.Helper()
	if !cv.Metadata.CreatedAt.Equal(rawTime) || cv.Metadata.Version != driver.ValueVersion {
		e.t.Errorf("%s: metadata %+v, want created at %v, version %d", e.show(key), cv.Metadata, rawTime, driver.ValueVersion)
	}
	s, ok := cv.Payload.(string)
	if !ok {
		e.t.Errorf("%s: payload %#v (%T), want a string", e.show(key), cv.Payload, cv.Payload)
	}
	return s
}

// rawGetMulti returns one string per key and whether each was found.
func (e *env) rawGetMulti(keys []string) ([]string, []bool) {
	e.t.Helper()
	vals, found := make([]string, len(keys)), make([]bool, len(keys))
	if e.values != nil {
		cvs, err := e.values.GetMulti(e.ctx, keys)
		if err != nil {
			e.t.Fatalf("GetMulti(%s): %v", e.showKeys(keys), err)
		}
		if len(cvs) != len(keys) {
			e.t.Fatalf("GetMulti(%s) returned %d values for %d keys", e.showKeys(keys), len(cvs), len(keys))
		}
		for i, cv := range cvs {
			if cv.Metadata.Version != 0 {
				vals[i], found[i] = e.checkRawValue(keys[i], cv), true
			}
		}
		return vals, found
	}
	bs, err := e.bytes.GetBytesMulti(e.ctx, keys)
	if err != nil {
		e.t.Fatalf("GetBytesMulti(%s): %v", e.showKeys(keys), err)
	}
	if len(bs) != len(keys) {
		e.t.Fatalf("GetBytesMulti(%s) returned %d entries for %d keys", e.showKeys(keys), len(bs), len(keys))
	}
	for i, b := range bs {
		vals[i], found[i] = string(b), b != nil
	}
	return vals, found
}

func (e *env) rawDelete(key string) {
	e.t.Helper()
	if err := e.b.Delete(e.ctx, key); err != nil {
		e.t.Fatalf("Delete(%s): %v", e.show(key), err)
	}
}

func (e *env) rawDeleteMulti(keys ...string) {
	e.t.Helper()
	if err := e.b.DeleteMulti(e.ctx, keys); err != nil {
		e.t.Fatalf("DeleteMulti(%s): %v", e.showKeys(keys), err)
	}
}

// wantRaw checks what the backend holds under key; want nil for a miss.
func (e *env) wantRaw(key string, want *string) {
	e.t.Helper()
	got, ok := e.rawGet(key)
	switch {
	case want == nil && ok:
		e.t.Errorf("get %s = %q, found; want a miss", e.show(key), got)
	case want != nil && !ok:
		e.t.Errorf("get %s: a miss; want %q", e.show(key), *want)
	case want != nil && got != *want:
		e.t.Errorf("get %s = %q; want %q", e.show(key), got, *want)
	}
}

// wantRawMulti checks a multi get; a nil want is a miss.
func (e *env) wantRawMulti(keys []string, want []*string) {
	e.t.Helper()
	got, found := e.rawGetMulti(keys)
	for i := range keys {
		switch {
		case want[i] == nil && found[i]:
			e.t.Errorf("get multi %s: entry %d (%s) = %q; want a miss", e.showKeys(keys), i, e.show(keys[i]), got[i])
		case want[i] != nil && !found[i]:
			e.t.Errorf("get multi %s: entry %d (%s) is a miss; want %q", e.showKeys(keys), i, e.show(keys[i]), *want[i])
		case want[i] != nil && got[i] != *want[i]:
			e.t.Errorf("get multi %s: entry %d (%s) = %q; want %q", e.showKeys(keys), i, e.show(keys[i]), got[i], *want[i])
		}
	}
}

func ptr(s string) *string { return &s }

func testRawMissing(e *env) {
	k1, k2 := e.rawKey("missing1"), e.rawKey("missing2")
	e.wantRaw(k1, nil)
	e.wantRawMulti([]string{k1, k2}, []*string{nil, nil})
	e.wantRawMulti([]string{k1}, []*string{nil})
}

func testRawSetGet(e *env) {
	k := e.rawKey("some_key")
	e.rawSet(k, "some value")
	e.wantRaw(k, ptr("some value"))
	e.wantRawMulti([]string{k}, []*string{ptr("some value")})
}

func testRawOverwrite(e *env) {
	k := e.rawKey("some_key")
	e.rawSet(k, "value 1")
	e.rawSet(k, "value 2")
	e.wantRaw(k, ptr("value 2"))
	e.rawSetMulti(k, "value 3")
	e.wantRaw(k, ptr("value 3"))
}

func testRawDelete(e *env) {
	k := e.rawKey("some_key")
	e.rawSet(k, "some value")
	e.rawDelete(k)
	e.wantRaw(k, nil)
	e.rawDelete(k)
	e.wantRaw(k, nil)
}

func testRawDeleteMissing(e *env) {
	k1, k2 := e.rawKey("missing1"), e.rawKey("missing2")
	e.rawDelete(k1)
	e.rawDeleteMulti(k1, k2)
	e.wantRawMulti([]string{k1, k2}, []*string{nil, nil})
}

func testRawMulti(e *env) {
	a, b, c, missing := e.rawKey("a"), e.rawKey("b"), e.rawKey("c"), e.rawKey("missing")
	e.rawSetMulti(a, "value a", b, "value b", c, "value c")
	e.wantRaw(a, ptr("value a"))
	e.wantRaw(b, ptr("value b"))
	e.wantRaw(c, ptr("value c"))
	// Misses in the middle and at the end, and a key asked for twice: the
	// entries stay aligned with the keys.
	e.wantRawMulti([]string{a, missing, c, b, a, missing},
		[]*string{ptr("value a"), nil, ptr("value c"), ptr("value b"), ptr("value a"), nil})
	e.rawDeleteMulti(b, missing)
	e.wantRawMulti([]string{a, b, c, missing}, []*string{ptr("value a"), nil, ptr("value c"), nil})
}

func testRawEmptyMulti(e *env) {
	for _, keys := range [][]string{nil, {}} {
		if e.values != nil {
			got, err := e.values.GetMulti(e.ctx, keys)
			if err != nil || len(got) != 0 {
				e.t.Errorf("GetMulti(%#v) = %v, %v; want no values and no error", keys, got, err)
			}
		} else {
			got, err := e.bytes.GetBytesMulti(e.ctx, keys)
			if err != nil || len(got) != 0 {
				e.t.Errorf("GetBytesMulti(%#v) = %d entries, %v; want no entries and no error", keys, len(got), err)
			}
		}
		if err := e.b.DeleteMulti(e.ctx, keys); err != nil {
			e.t.Errorf("DeleteMulti(%#v): %v", keys, err)
		}
	}
	if e.values != nil {
		for _, items := range [][]driver.Item{nil, {}} {
			if err := e.values.SetMulti(e.ctx, items); err != nil {
				e.t.Errorf("SetMulti(%#v): %v", items, err)
			}
		}
	} else {
		for _, items := range [][]driver.BytesItem{nil, {}} {
			if err := e.bytes.SetBytesMulti(e.ctx, items); err != nil {
				e.t.Errorf("SetBytesMulti(%#v): %v", items, err)
			}
		}
	}
}

// oddKeys returns keys a backend must keep apart: unicode with spaces and
// separators, and two 1 KB keys that differ in their last byte only.
func (e *env) oddKeyNames() []string {
	long := func(last string) string {
		n := max(1024-len(e.prefix)-len("long")-1, 0)
		return "long" + strings.Repeat("x", n) + last
	}
	return []string{
		"unicode ключ 键 🔑 über|pipe:colon",
		"unicode ключ 键 🔑 über|pipe:colon2",
		long("1"),
		long("2"),
	}
}

func testRawKeys(e *env) {
	names := e.oddKeyNames()
	keys := make([]string, len(names))
	want := make([]*string, len(names))
	for i, n := range names {
		keys[i] = e.rawKey(n)
		e.rawSet(keys[i], fmt.Sprintf("value %d", i))
		want[i] = ptr(fmt.Sprintf("value %d", i))
	}
	for i, k := range keys {
		e.wantRaw(k, want[i])
	}
	e.wantRawMulti(keys, want)

	// The same through the multi calls.
	var kvs []string
	for i, k := range keys {
		want[i] = ptr(fmt.Sprintf("multi value %d", i))
		kvs = append(kvs, k, *want[i])
	}
	e.rawSetMulti(kvs...)
	e.wantRawMulti(keys, want)

	e.rawDelete(keys[0])
	e.rawDeleteMulti(keys[2])
	want[0], want[2] = nil, nil
	e.wantRawMulti(keys, want)
}

func testRawPayloads(e *env) {
	type record struct {
		Name string
		Tags []string
	}
	payloads := map[string]any{
		"nil":    nil,
		"zero":   0,
		"empty":  "",
		"false":  false,
		"slice":  []string{},
		"map":    map[string]int{"a": 1},
		"struct": record{Name: "n", Tags: []string{"x"}},
		"ptr":    &record{Name: "p"},
	}
	var items []driver.Item
	for name, p := range payloads {
		items = append(items, driver.Item{Key: e.rawKey(name), Value: newValue(p, rawTime)})
	}
	check := func(how string, key string, got driver.CachedValue, ok bool, want any) {
		e.t.Helper()
		switch {
		case !ok || got.Metadata.Version == 0:
			e.t.Errorf("%s %s: a miss; want payload %#v", how, e.show(key), want)
		case !reflect.DeepEqual(got.Payload, want):
			e.t.Errorf("%s %s: payload %#v; want %#v", how, e.show(key), got.Payload, want)
		case !got.Metadata.CreatedAt.Equal(rawTime) || got.Metadata.Version != driver.ValueVersion:
			e.t.Errorf("%s %s: metadata %+v; want created at %v, version %d", how, e.show(key), got.Metadata, rawTime, driver.ValueVersion)
		}
	}
	for _, it := range items {
		if err := e.values.Set(e.ctx, it.Key, it.Value); err != nil {
			e.t.Fatalf("Set(%s): %v", e.show(it.Key), err)
		}
		got, ok, err := e.values.Get(e.ctx, it.Key)
		if err != nil {
			e.t.Fatalf("Get(%s): %v", e.show(it.Key), err)
		}
		check("Get", it.Key, got, ok, it.Value.Payload)
	}
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	if err := e.values.DeleteMulti(e.ctx, keys); err != nil {
		e.t.Fatalf("DeleteMulti: %v", err)
	}
	if err := e.values.SetMulti(e.ctx, items); err != nil {
		e.t.Fatalf("SetMulti: %v", err)
	}
	got, err := e.values.GetMulti(e.ctx, keys)
	if err != nil {
		e.t.Fatalf("GetMulti: %v", err)
	}
	if len(got) != len(keys) {
		e.t.Fatalf("GetMulti returned %d values for %d keys", len(got), len(keys))
	}
	for i, it := range items {
		check("GetMulti", it.Key, got[i], true, it.Value.Payload)
	}
}

// binaryValues are entries a BytesBackend must store exactly: every byte
// value, NUL bytes and '|' anywhere, invalid UTF-8, and 64 KiB of noise.
func binaryValues() map[string][]byte {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	noise := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rng.UintN(256))
	}
	return map[string][]byte{
		"all_bytes":    all,
		"nul_first":    {0, 'a', 0, 'b'},
		"nul_only":     {0},
		"trailing_nul": []byte("value\x00"),
		"pipes":        []byte("|{\"ct\": 1, \"v\": 2}||"),
		"invalid_utf8": {0xff, 0xfe, 0xc3, 0x28, '|', 0x80},
		"crlf":         []byte("a\r\nb\r\n"),
		"noise_64k":    noise,
	}
}

func testRawBinaryValues(e *env) {
	vals := binaryValues()
	var keys []string
	var items []driver.BytesItem
	for name, v := range vals {
		k := e.rawKey(name)
		keys = append(keys, k)
		items = append(items, driver.BytesItem{Key: k, Value: v})
	}
	check := func(how, key string, got []byte, ok bool, want []byte) {
		e.t.Helper()
		switch {
		case !ok || got == nil:
			e.t.Errorf("%s %s: a miss; want %d bytes", how, e.show(key), len(want))
		case !bytes.Equal(got, want):
			e.t.Errorf("%s %s: got %d bytes %s; want %d bytes %s", how, e.show(key), len(got), abbrev(got), len(want), abbrev(want))
		}
	}
	for _, it := range items {
		if err := e.bytes.SetBytes(e.ctx, it.Key, it.Value); err != nil {
			e.t.Fatalf("SetBytes(%s): %v", e.show(it.Key), err)
		}
		got, ok, err := e.bytes.GetBytes(e.ctx, it.Key)
		if err != nil {
			e.t.Fatalf("GetBytes(%s): %v", e.show(it.Key), err)
		}
		check("GetBytes", it.Key, got, ok, it.Value)
	}
	e.rawDeleteMulti(keys...)
	if err := e.bytes.SetBytesMulti(e.ctx, items); err != nil {
		e.t.Fatalf("SetBytesMulti: %v", err)
	}
	got, err := e.bytes.GetBytesMulti(e.ctx, keys)
	if err != nil {
		e.t.Fatalf("GetBytesMulti: %v", err)
	}
	if len(got) != len(keys) {
		e.t.Fatalf("GetBytesMulti returned %d entries for %d keys", len(got), len(keys))
	}
	for i, it := range items {
		check("GetBytesMulti", it.Key, got[i], true, it.Value)
	}
}

// abbrev quotes b, shortened in the middle when long.
func abbrev(b []byte) string {
	if len(b) <= 40 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q...%q", b[:16], b[len(b)-16:])
}
