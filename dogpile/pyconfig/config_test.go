package pyconfig_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/backends/null"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
	"github.com/dogpilego/dogpile/internal/python"
)

// cfgRecordingBackend is a memory backend that keeps the Arguments its
// factory received, like dogpile.cache's MockBackend in the region tests. It
// takes any argument names.
const cfgRecordingBackend = "test.config.recording"

type cfgRecorded struct {
	*memory.Backend
	args driver.Arguments
}

func init() {
	driver.Register(cfgRecordingBackend, func(args driver.Arguments) (driver.Backend, error) {
		return &cfgRecorded{Backend: must(memory.New(memory.Options{})), args: maps.Clone(args)}, nil
	})
}

// cfgArgs returns the arguments the region's recording backend was built
// with; no arguments give an empty map.
func cfgArgs(t *testing.T, r *dogpile.Region) driver.Arguments {
	t.Helper()
	b := driver.Unwrap(r.Backend())
	rec, ok := b.(*cfgRecorded)
	if !ok {
		t.Fatalf("backend is %T, want the recording backend", b)
	}
	if rec.args == nil {
		return driver.Arguments{}
	}
	return rec.args
}

// cfgStrings converts settings read as text, the way callers holding a
// map[string]string do.
func cfgStrings(settings map[string]string) map[string]any {
	config := make(map[string]any, len(settings))
	for k, v := range settings {
		config[k] = v
	}
	return config
}

// cfgCheckPrefix checks that err is a region error: one "dogpile:" prefix,
// at the start.
func cfgCheckPrefix(t *testing.T, err error) {
	t.Helper()
	if msg := err.Error(); !strings.HasPrefix(msg, "dogpile: ") || strings.Count(msg, "dogpile:") != 1 {
		t.Errorf("error %q: want one dogpile: prefix", msg)
	}
	var de *dogpile.Error
	if !errors.As(err, &de) || de.Op != "configure" {
		t.Errorf("error %v: want a *dogpile.Error of configure", err)
	}
}

func TestCoerceString(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		// dogpile.cache's test_coerce_string_conf, and more.
		{" 12 ", 12},
		{"+1", 1},
		{"-1", -1},
		{"0", 0},
		{"007", 7},
		{"0.1", 0.1},
		{"1e3", 1000.0},
		{"1E3", 1000.0},
		{".5", 0.5},
		{"5.", 5.0},
		{"-3.14e-10", -3.14e-10},
		{"+2.5e+2", 250.0},
		{"1e400", math.Inf(1)},
		{"true", true},
		{"True", true},
		{"FALSE", false},
		{" false\n", false},
		{"None", nil},
		{" None ", nil},
		{"none", "none"},
		{"NONE", "NONE"},
		{"null", "null"},
		{"0x10", "0x10"},
		{"1_000", "1_000"},
		{"", ""},
		{"   ", ""},
		{"127.0.0.1", "127.0.0.1"},
		{" 127.0.0.1, 10.0.0.1 ", "127.0.0.1, 10.0.0.1"},
		{"1.2.3", "1.2.3"},
		{"e3", "e3"},
		{"1e", "1e"},
		{".", "."},
		{"-", "-"},
		{"+-1", "+-1"},
		{"1 2", "1 2"},
		{"inf", "inf"},
		{"nan", "nan"},
		{"yes", "yes"},
		{"on", "on"},
		{"1", 1},
		{"90s", "90s"},
		{"ſalse", "ſalse"}, // Python: "ſalse".lower() is not "false"
		{"\x1c12\x1f", 12}, // str.strip() removes the information separators
		{"\u00a012\u3000", 12},
		{"١٢", 12},               // Arabic-Indic digits: Python's int() reads them
		{"١.٥", 1.5},             // and float() too
		{"𝟏𝟐", 12},               // mathematical digits
		{"\u200b12", "\u200b12"}, // a zero-width space is not whitespace to str.strip
		{"99999999999999999999", "99999999999999999999"}, // beyond int: kept as text
	}
	for _, tt := range tests {
		got := pyconfig.CoerceString(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("CoerceString(%q) = %T %#v, want %T %#v", tt.in, got, got, tt.want, tt.want)
		}
	}
}

// pyCoerce runs dogpile.cache's coerce_string_conf on each key's value.
const pyCoerce = `
import json, math, sys
from dogpile.cache.util import coerce_string_conf
d = coerce_string_conf(json.load(sys.stdin))
out = {}
for k, v in d.items():
    name = type(v).__name__
    if isinstance(v, float) and math.isinf(v):
        v = "inf!"
    out[k] = [name, v]
print(json.dumps(out))
`

// TestCoerceStringMatchesPython: CoerceString gives what dogpile.cache's
// coerce_string_conf gives, for the values whose Python result Go can
// hold.
func TestCoerceStringMatchesPython(t *testing.T) {
	inputs := []string{" 12 ", "+1", "-1", "0", "007", "0.1", "1e3", ".5", "5.", "-3.14e-10", "1e400",
		"true", "True", "FALSE", " false\n", "None", " None ", "none", "null", "0x10", "1_000", "", "   ",
		"127.0.0.1", "1.2.3", "e3", "1e", ".", "-", "+-1", "1 2", "inf", "nan", "yes", "90s", "ſalse",
		"\x1c12\x1f", "\u00a012\u3000", "١٢", "١.٥", "𝟏𝟐", "\u200b12"}
	config := map[string]string{}
	for i, s := range inputs {
		config[strings.Repeat("k", i+1)] = s
	}
	py := python.Interpreter(t, "dogpile.cache")
	var out map[string][2]any
	python.RunJSON(t, py, pyCoerce, config, &out)
	for k, in := range config {
		typ, pv := out[k][0].(string), out[k][1]
		got := pyconfig.CoerceString(in)
		var ok bool
		switch typ {
		case "int":
			g, isInt := got.(int)
			ok = isInt && float64(g) == pv.(float64)
		case "float":
			g, isFloat := got.(float64)
			if pv == "inf!" {
				ok = isFloat && math.IsInf(g, 1)
			} else {
				ok = isFloat && g == pv.(float64)
			}
		case "bool":
			ok = got == pv
		case "NoneType":
			ok = got == nil
		case "str":
			ok = got == pv
		}
		if !ok {
			t.Errorf("CoerceString(%q) = %T %#v; coerce_string_conf gives %s %#v", in, got, got, typ, pv)
		}
	}
}

// RegionTest::test_instance_from_dict.
func TestConfigureFromConfigInstanceFromDict(t *testing.T) {
	r := dogpile.NewRegion()
	err := pyconfig.ConfigureFromConfig(r, map[string]any{
		"cache.example.backend":         cfgRecordingBackend,
		"cache.example.expiration_time": 600,
		"cache.example.arguments.url":   "127.0.0.1",
	}, "cache.example.")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.ExpirationTime(); got != 600*time.Second {
		t.Errorf("ExpirationTime = %v, want 10m", got)
	}
	if got, want := cfgArgs(t, r), (driver.Arguments{"url": "127.0.0.1"}); !reflect.DeepEqual(got, want) {
		t.Errorf("arguments = %#v, want %#v", got, want)
	}
}

// RegionTest::test_instance_from_config_string.
func TestConfigureFromConfigStrings(t *testing.T) {
	config := cfgStrings(map[string]string{
		"cache.example.backend":                    cfgRecordingBackend,
		"cache.example.expiration_time":            "600",
		"cache.example.arguments.url":              "127.0.0.1",
		"cache.example.arguments.dogpile_lockfile": "false",
		"cache.example.arguments.xyz":              "None",
	})
	r := dogpile.NewRegion()
	if err := pyconfig.ConfigureFromConfig(r, config, "cache.example."); err != nil {
		t.Fatal(err)
	}
	if got := r.ExpirationTime(); got != 600*time.Second {
		t.Errorf("ExpirationTime = %v, want 10m", got)
	}
	want := driver.Arguments{"url": "127.0.0.1", "dogpile_lockfile": false, "xyz": nil}
	if got := cfgArgs(t, r); !reflect.DeepEqual(got, want) {
		t.Errorf("arguments = %#v, want %#v", got, want)
	}
}

func TestConfigureFromConfigArguments(t *testing.T) {
	tests := []struct {
		name   string
		config map[string]any
		want   driver.Arguments
	}{
		{"none", map[string]any{"p.backend": cfgRecordingBackend}, driver.Arguments{}},
		{"dotted name", map[string]any{
			"p.backend":             cfgRecordingBackend,
			"p.arguments.a.b":       "x",
			"p.arguments.arguments": "y",
		}, driver.Arguments{"a.b": "x", "arguments": "y"}},
		{"coerced strings, other values as they are", map[string]any{
			"p.backend":                cfgRecordingBackend,
			"p.arguments.port":         " 6379 ",
			"p.arguments.socket":       "0.5",
			"p.arguments.ssl":          "TRUE",
			"p.arguments.password":     "None",
			"p.arguments.hosts":        "a:1, b:2",
			"p.arguments.list":         []string{"1", "2"},
			"p.arguments.db":           int64(3),
			"p.arguments.lock_timeout": 2 * time.Second,
		}, driver.Arguments{
			"port": 6379, "socket": 0.5, "ssl": true, "password": nil, "hosts": "a:1, b:2",
			"list": []string{"1", "2"}, "db": int64(3), "lock_timeout": 2 * time.Second,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dogpile.NewRegion()
			if err := pyconfig.ConfigureFromConfig(r, tt.config, "p."); err != nil {
				t.Fatal(err)
			}
			if got := cfgArgs(t, r); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("arguments = %#v, want %#v", got, tt.want)
			}
		})
	}
}

// RegionTest::test_datetime_expiration_time and
// test_reject_invalid_expiration_time, and the other forms of seconds.
func TestConfigureFromConfigExpiration(t *testing.T) {
	tests := []struct {
		name  string
		value any
		want  time.Duration
		bad   bool
	}{
		{name: "int", value: 600, want: 600 * time.Second},
		{name: "int64", value: int64(2), want: 2 * time.Second},
		{name: "uint8", value: uint8(3), want: 3 * time.Second},
		{name: "float", value: 1.5, want: 1500 * time.Millisecond},
		{name: "float32", value: float32(0.25), want: 250 * time.Millisecond},
		{name: "numeric string", value: " 600 ", want: 600 * time.Second},
		{name: "float string", value: "0.5", want: 500 * time.Millisecond},
		{name: "exponent string", value: "1e3", want: 1000 * time.Second},
		{name: "json.Number", value: json.Number("30"), want: 30 * time.Second},
		{name: "duration 1 day 8 hours", value: 32 * time.Hour, want: 32 * time.Hour},
		{name: "sub-second duration", value: 1900 * time.Millisecond, want: 1900 * time.Millisecond},
		{name: "Go duration string", value: "90s", want: 90 * time.Second},
		{name: "Go duration string, minutes", value: " 5m ", want: 5 * time.Minute},
		{name: "None string", value: "None", want: 0},
		{name: "nil", value: nil, want: 0},
		{name: "minus one: never", value: -1, want: 0},
		{name: "minus one string: never", value: "-1", want: 0},
		{name: "minus one float: never", value: -1.0, want: 0},
		{name: "minus one json.Number: never", value: json.Number("-1"), want: 0},
		{name: "NoExpiration", value: dogpile.NoExpiration, want: 0},

		{name: "zero", value: 0, bad: true},
		{name: "zero string", value: "0", bad: true},
		{name: "zero float", value: 0.0, bad: true},
		{name: "zero duration", value: time.Duration(0), bad: true},
		{name: "zero Go duration string", value: "0s", bad: true},
		{name: "below a nanosecond", value: 1e-12, bad: true},
		{name: "one hour", value: "one hour", bad: true},
		{name: "none lower case", value: "none", bad: true},
		{name: "empty string", value: "", bad: true},
		{name: "bool", value: true, bad: true},
		{name: "bool string", value: "true", bad: true},
		{name: "list", value: []int{1}, bad: true},
		{name: "negative", value: -5, bad: true},
		{name: "negative string", value: "-2.5", bad: true},
		{name: "negative duration", value: -time.Second, bad: true},
		{name: "negative Go duration string", value: "-1s", bad: true},
		{name: "too large", value: math.MaxInt64, bad: true},
		{name: "too large unsigned", value: uint64(math.MaxUint64), bad: true},
		{name: "infinite", value: "1e400", bad: true},
		{name: "NaN", value: math.NaN(), bad: true},
		{name: "bad json.Number", value: json.Number("x"), bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dogpile.NewRegion()
			err := pyconfig.ConfigureFromConfig(r, map[string]any{
				"p.backend":         memory.Name,
				"p.expiration_time": tt.value,
			}, "p.")
			if tt.bad {
				if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), `"p.expiration_time"`) {
					t.Fatalf("err = %v, want ErrInvalidArgument about p.expiration_time", err)
				}
				cfgCheckPrefix(t, err)
				if r.IsConfigured() {
					t.Error("region configured after an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.ExpirationTime(); got != tt.want {
				t.Errorf("ExpirationTime = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("absent", func(t *testing.T) {
		r := dogpile.NewRegion()
		if err := pyconfig.ConfigureFromConfig(r, map[string]any{"p.backend": memory.Name}, "p."); err != nil {
			t.Fatal(err)
		}
		if got := r.ExpirationTime(); got != 0 {
			t.Errorf("ExpirationTime = %v, want 0 (never)", got)
		}
	})
	t.Run("message", func(t *testing.T) {
		err := pyconfig.ConfigureFromConfig(dogpile.NewRegion(), map[string]any{
			"p.backend": memory.Name, "p.expiration_time": "one hour",
		}, "p.")
		if err == nil || !strings.Contains(err.Error(), "neither a number of seconds nor a Go duration") {
			t.Errorf("err = %v, want it to say expiration_time is neither seconds nor a duration", err)
		}
	})
}

// TestConfigExpirationZeroRefused: expiration_time 0 is refused, since it
// means "expire at once" to dogpile.cache and "never" to a Go
// Config.ExpirationTime; -1 and None mean never; Go durations are
// accepted; anything else is refused with the forms that are accepted.
func TestConfigExpirationZeroRefused(t *testing.T) {
	ctx := context.Background()
	configure := func(v any) (*dogpile.Region, *cfgClock, error) {
		clk := &cfgClock{now: time.Unix(1_700_000_000, 0)}
		r := dogpile.NewRegion(dogpile.WithClock(clk.Now))
		err := pyconfig.ConfigureFromConfig(r, map[string]any{"c.backend": memory.Name, "c.expiration_time": v}, "c.")
		return r, clk, err
	}
	for _, v := range []any{"0", 0, 0.0, " 0 ", "0.0", int64(0), uint(0), json.Number("0")} {
		r, _, err := configure(v)
		if !errors.Is(err, dogpile.ErrInvalidArgument) {
			t.Errorf("expiration_time %#v: err = %v, want ErrInvalidArgument", v, err)
			continue
		}
		cfgCheckPrefix(t, err)
		if msg := err.Error(); !strings.Contains(msg, "dogpile.cache") || !strings.Contains(msg, "expire every value at once") ||
			!strings.Contains(msg, "-1 or None") {
			t.Errorf("expiration_time %#v: error %q should explain what 0 means to dogpile.cache and what to use instead", v, msg)
		}
		if r.IsConfigured() {
			t.Errorf("expiration_time %#v: region configured", v)
		}
	}
	for _, v := range []any{"-1", "None", -1, nil} {
		r, clk, err := configure(v)
		if err != nil {
			t.Errorf("expiration_time %#v: %v", v, err)
			continue
		}
		if r.ExpirationTime() != 0 {
			t.Errorf("expiration_time %#v: ExpirationTime %v, want 0 (never)", v, r.ExpirationTime())
		}
		if err := r.Set(ctx, "k", "v"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(100 * 365 * 24 * time.Hour)
		if _, ok, err := dogpile.Get[string](ctx, r, "k"); !ok || err != nil {
			t.Errorf("expiration_time %#v: a value a century old is gone: %v, %v", v, ok, err)
		}
	}
	for v, want := range map[string]time.Duration{"5m": 5 * time.Minute, "90s": 90 * time.Second, "1h30m": 90 * time.Minute, "1.5": 1500 * time.Millisecond} {
		r, clk, err := configure(v)
		if err != nil || r.ExpirationTime() != want {
			t.Errorf("expiration_time %q: %v, %v; want %v", v, r.ExpirationTime(), err, want)
			continue
		}
		if err := r.Set(ctx, "k", "v"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(want - time.Millisecond)
		if _, ok, _ := dogpile.Get[string](ctx, r, "k"); !ok {
			t.Errorf("expiration_time %q: expired before %v", v, want)
		}
		clk.Advance(2 * time.Millisecond)
		if _, ok, _ := dogpile.Get[string](ctx, r, "k"); ok {
			t.Errorf("expiration_time %q: not expired after %v", v, want)
		}
	}
	_, _, err := configure("abc")
	if !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Fatalf("expiration_time abc: err = %v, want ErrInvalidArgument", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `"abc"`) || !strings.Contains(msg, "number of seconds") ||
		!strings.Contains(msg, "Go duration") || !strings.Contains(msg, `"90s"`) {
		t.Errorf("error %q should name the value and the accepted forms", msg)
	}
}

// cfgClock is a settable clock for WithClock.
type cfgClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *cfgClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *cfgClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestConfigureFromConfigRejects(t *testing.T) {
	tests := []struct {
		name   string
		config map[string]any
		want   []string // substrings of the message
	}{
		{"missing backend", map[string]any{"cache.example.expiration_time": 1},
			[]string{`config key "cache.example.backend": missing`}},
		{"missing backend and a bad value", map[string]any{"cache.example.expiration_time": "soon"},
			[]string{`config key "cache.example.backend": missing`, `"cache.example.expiration_time"`}},
		{"only other regions' keys", map[string]any{"cache.other.backend": memory.Name},
			[]string{`config key "cache.example.backend": missing`}},
		{"misspelt key", map[string]any{
			"cache.example.backend":        memory.Name,
			"cache.example.expiration":     600,
			"cache.example.argument.url":   "x",
			"cache.example.arguments.size": 1, // unknown to the memory backend, but reported later
		}, []string{`"cache.example.argument.url"`, `"cache.example.expiration"`}},
		{"key equal to the prefix", map[string]any{"cache.example.backend": memory.Name, "cache.example.": 1},
			[]string{`"cache.example."`}},
		{"argument without a name", map[string]any{"cache.example.backend": memory.Name, "cache.example.arguments.": 1},
			[]string{`"cache.example.arguments."`}},
		{"backend not a string", map[string]any{"cache.example.backend": 5},
			[]string{`"cache.example.backend"`}},
		{"backend None", map[string]any{"cache.example.backend": "None"},
			[]string{`"cache.example.backend"`}},
		{"backend empty", map[string]any{"cache.example.backend": "  "},
			[]string{`"cache.example.backend"`}},
		{"replace not a bool", map[string]any{"cache.example.backend": memory.Name, "cache.example.replace_existing_backend": "yes"},
			[]string{`"cache.example.replace_existing_backend"`}},
		{"two bad values", map[string]any{
			"cache.example.backend":                  memory.Name,
			"cache.example.replace_existing_backend": 1,
			"cache.example.expiration_time":          "soon",
		}, []string{`"cache.example.expiration_time"`, `"cache.example.replace_existing_backend"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dogpile.NewRegion()
			err := pyconfig.ConfigureFromConfig(r, tt.config, "cache.example.")
			if !errors.Is(err, dogpile.ErrInvalidArgument) {
				t.Fatalf("err = %v, want ErrInvalidArgument", err)
			}
			cfgCheckPrefix(t, err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
			if r.IsConfigured() {
				t.Error("region configured after an error")
			}
		})
	}
}

func TestConfigureFromConfigErrorIsDeterministic(t *testing.T) {
	config := map[string]any{"p.backend": memory.Name}
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		config["p.expiration_time"] = k
		config["p.replace_existing_backend"] = k
		config["p.unknown_"+k] = k
	}
	var first string
	for i := range 20 {
		err := pyconfig.ConfigureFromConfig(dogpile.NewRegion(), config, "p.")
		if err == nil {
			t.Fatal("no error")
		}
		if i == 0 {
			first = err.Error()
		} else if err.Error() != first {
			t.Fatalf("error changes between calls:\n%s\n%s", first, err)
		}
	}
}

func TestConfigureFromConfigIgnoresOtherKeys(t *testing.T) {
	config := map[string]any{
		"cache.example.backend":           cfgRecordingBackend,
		"cache.example.arguments.url":     "a",
		"cache.examples.backend":          "nope",
		"cache.other.backend":             null.Name,
		"cache.other.arguments.url":       "b",
		"cache.other.typo":                "z",
		"sqlalchemy.url":                  "sqlite://",
		"cache.example":                   "no trailing dot: not ours",
		"CACHE.EXAMPLE.expiration_time":   "prefix match is case-sensitive",
		"xcache.example.expiration_time":  "x",
		"cache.exampleexpiration_time":    "x",
		"cache.example_backend":           "x",
		"cache.example.arguments_missing": 1, // ours, and unknown
	}
	r := dogpile.NewRegion()
	err := pyconfig.ConfigureFromConfig(r, config, "cache.example.")
	if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), "cache.example.arguments_missing") {
		t.Fatalf("err = %v, want only cache.example.arguments_missing reported", err)
	}
	for _, k := range []string{"cache.other", "sqlalchemy", "CACHE", "xcache", "cache.examples.", "cache.exampleexp"} {
		if strings.Contains(err.Error(), k) {
			t.Errorf("error %q mentions a key outside the prefix (%s)", err, k)
		}
	}
	delete(config, "cache.example.arguments_missing")
	if err := pyconfig.ConfigureFromConfig(r, config, "cache.example."); err != nil {
		t.Fatal(err)
	}
	if got := cfgArgs(t, r); !reflect.DeepEqual(got, driver.Arguments{"url": "a"}) {
		t.Errorf("arguments = %#v", got)
	}
}

func TestConfigureFromConfigEmptyPrefix(t *testing.T) {
	r := dogpile.NewRegion()
	if err := pyconfig.ConfigureFromConfig(r, map[string]any{
		"backend": cfgRecordingBackend, "expiration_time": "5", "arguments.url": "u",
	}, ""); err != nil {
		t.Fatal(err)
	}
	if r.ExpirationTime() != 5*time.Second || !reflect.DeepEqual(cfgArgs(t, r), driver.Arguments{"url": "u"}) {
		t.Errorf("expiration %v, arguments %v", r.ExpirationTime(), cfgArgs(t, r))
	}
	// With no prefix every key is the region's: anything else is an error.
	err := pyconfig.ConfigureFromConfig(dogpile.NewRegion(), map[string]any{"backend": memory.Name, "sqlalchemy.url": "x"}, "")
	if !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Errorf("err = %v, want the foreign key reported", err)
	}
}

func TestConfigureFromConfigDoesNotModifyConfig(t *testing.T) {
	config := map[string]any{
		"cache.example.backend":                    cfgRecordingBackend,
		"cache.example.expiration_time":            " 600 ",
		"cache.example.arguments.url":              " 127.0.0.1 ",
		"cache.example.arguments.dogpile_lockfile": "false",
		"cache.example.arguments.xyz":              "None",
		"cache.example.arguments.list":             []string{"b", "a"},
		"cache.example.wrap":                       []string{},
		"cache.example.replace_existing_backend":   "False",
		"cache.other.expiration_time":              "7",
	}
	before := map[string]any{}
	for k, v := range config {
		if l, ok := v.([]string); ok {
			v = slices.Clone(l)
		}
		before[k] = v
	}
	r := dogpile.NewRegion()
	if err := pyconfig.ConfigureFromConfig(r, config, "cache.example."); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(config, before) {
		t.Errorf("config modified:\n got %#v\nwant %#v", config, before)
	}
	// The backend gets its own map: changing it leaves config alone.
	cfgArgs(t, r)["url"] = "changed"
	if config["cache.example.arguments.url"] != " 127.0.0.1 " {
		t.Error("the arguments map aliases config")
	}
}

// RegionTest::test_dupe_config.
func TestConfigureFromConfigDupe(t *testing.T) {
	config := map[string]any{"p.backend": memory.Name, "p.expiration_time": 60}
	r := dogpile.NewRegion(dogpile.WithName("dupe"))
	if err := pyconfig.ConfigureFromConfig(r, config, "p."); err != nil {
		t.Fatal(err)
	}
	b := r.Backend()
	for _, cfg := range []map[string]any{
		config,
		{"p.backend": null.Name},
		{"p.backend": null.Name, "p.replace_existing_backend": false},
		{"p.backend": null.Name, "p.replace_existing_backend": "false"},
	} {
		err := pyconfig.ConfigureFromConfig(r, cfg, "p.")
		if !errors.Is(err, dogpile.ErrAlreadyConfigured) {
			t.Fatalf("second configure: err = %v, want ErrAlreadyConfigured", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "already configured") || !strings.Contains(msg, memory.Name) ||
			!strings.Contains(msg, `"p.replace_existing_backend"`) || !strings.Contains(msg, `region "dupe"`) {
			t.Errorf("message %q should say the region is already configured, and with what", err)
		}
		cfgCheckPrefix(t, err)
	}
	if !r.IsConfigured() {
		t.Error("not configured after a refused reconfiguration")
	}
	if b2 := r.Backend(); b2 != b || r.ExpirationTime() != time.Minute {
		t.Errorf("refused reconfiguration changed the region: %T %v", b2, r.ExpirationTime())
	}
}

// RegionTest::test_replace_backend_config and
// test_replace_backend_config_with_custom_key_mangler.
func TestConfigureFromConfigReplace(t *testing.T) {
	ctx := context.Background()
	r := dogpile.NewRegion(dogpile.WithKeyMangler(func(k string) string { return "HI!" + k }))
	if err := pyconfig.ConfigureFromConfig(r, map[string]any{"p.backend": null.Name}, "p."); err != nil {
		t.Fatal(err)
	}
	for _, replace := range []any{true, "true", " True "} {
		err := pyconfig.ConfigureFromConfig(r, map[string]any{
			"p.backend":                  memory.Name,
			"p.expiration_time":          "30",
			"p.replace_existing_backend": replace,
		}, "p.")
		if err != nil {
			t.Fatalf("replace %#v: %v", replace, err)
		}
	}
	mem, ok := driver.Unwrap(r.Backend()).(*memory.Backend)
	if !ok {
		t.Fatalf("backend is %T after replacement, want *memory.Backend", r.Backend())
	}
	if r.ExpirationTime() != 30*time.Second {
		t.Errorf("ExpirationTime = %v", r.ExpirationTime())
	}
	if err := r.Set(ctx, "some key", "v"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := mem.Get(ctx, "HI!some key"); !ok || mem.Len() != 1 {
		t.Errorf("backend holds %d entries, none under HI!some key: the key mangler did not survive the replacement", mem.Len())
	}
}

// RegionTest::test_no_config: a region whose configuration failed is
// still unconfigured, and every operation says so.
func TestConfigureFromConfigNoConfig(t *testing.T) {
	ctx := context.Background()
	r := dogpile.NewRegion()
	if err := pyconfig.ConfigureFromConfig(r, map[string]any{"p.expiration_time": 5}, "p."); err == nil {
		t.Fatal("configured without a backend")
	}
	if r.IsConfigured() || r.Backend() != nil {
		t.Fatalf("region configured: %v %T", r.IsConfigured(), r.Backend())
	}
	checks := map[string]error{}
	_, _, checks["Get"] = dogpile.Get[any](ctx, r, "k")
	checks["Set"] = r.Set(ctx, "k", "v")
	_, checks["GetOrCreate"] = dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "v", nil })
	_, checks["GetMulti"] = dogpile.GetMulti[any](ctx, r, []string{"k"})
	checks["Delete"] = r.Delete(ctx, "k")
	checks["Invalidate"] = r.Invalidate(ctx, true)
	for name, err := range checks {
		if !errors.Is(err, dogpile.ErrNotConfigured) {
			t.Errorf("%s: err = %v, want ErrNotConfigured", name, err)
		}
	}
}

// RegionTest::test_invalid_backend.
func TestConfigureFromConfigUnknownBackend(t *testing.T) {
	for _, backend := range []string{"unknown", "dogpile.cache.redis", "dogpile.cache.pylibmc", "dogpile.cache.dbm"} {
		t.Run(backend, func(t *testing.T) {
			if slices.Contains(driver.Backends(), backend) {
				t.Skipf("%s is registered in this test binary", backend)
			}
			r := dogpile.NewRegion()
			err := pyconfig.ConfigureFromConfig(r, map[string]any{"cache.example.backend": backend}, "cache.example.")
			if !errors.Is(err, dogpile.ErrUnknownBackend) {
				t.Fatalf("err = %v, want ErrUnknownBackend", err)
			}
			for _, want := range []string{`"` + backend + `"`, `import _ "github.com/dogpilego/dogpile/dogpile/backends/`} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q should name %s", err, want)
				}
			}
			cfgCheckPrefix(t, err)
			if r.IsConfigured() {
				t.Error("region configured after an unknown backend")
			}
		})
	}
}

// Configuring regions from one shared map concurrently: each reads only its
// own keys, and nothing writes the map.
func TestConfigureFromConfigConcurrent(t *testing.T) {
	config := map[string]any{}
	names := []string{"a.", "b.", "c.", "d."}
	for i, p := range names {
		config[p+"backend"] = cfgRecordingBackend
		config[p+"expiration_time"] = i + 1
		config[p+"arguments.n"] = p
	}
	var wg sync.WaitGroup
	for i, p := range names {
		wg.Go(func() {
			r := dogpile.NewRegion()
			if err := pyconfig.ConfigureFromConfig(r, config, p); err != nil {
				t.Error(err)
				return
			}
			if r.ExpirationTime() != time.Duration(i+1)*time.Second {
				t.Errorf("%s: ExpirationTime %v", p, r.ExpirationTime())
			}
		})
	}
	wg.Wait()
}
