package driver_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
)

// argStringer is a fmt.Stringer argument value.
type argStringer struct{}

func (argStringer) String() string { return "stringer" }

// argAbsent marks a test row whose argument is not set at all.
type argAbsent struct{}

// argCheckError checks an ArgParser error: it wraps ErrInvalidArgument,
// names the argument, and leaves the backend's name and the dogpile
// prefix to driver.Open and the region.
func argCheckError(t *testing.T, err error, arg string) {
	t.Helper()
	if !errors.Is(err, driver.ErrInvalidArgument) {
		t.Errorf("error %v does not wrap ErrInvalidArgument", err)
		return
	}
	msg := err.Error()
	if !strings.Contains(msg, fmt.Sprintf("%q", arg)) {
		t.Errorf("error %q does not name the argument %q", msg, arg)
	}
	if strings.HasPrefix(msg, "dogpile") || strings.Contains(msg, "test.backend") {
		t.Errorf("error %q names the backend or has a dogpile prefix", msg)
	}
}

// TestArgumentsParser reads one argument of each kind, from the Go values a
// caller passes and from the values pyconfig.CoerceString makes of text.
func TestArgumentsParser(t *testing.T) {
	type read func(p *driver.ArgParser) any
	str := func(p *driver.ArgParser) any { return p.String("a", "def") }
	integer := func(p *driver.ArgParser) any { return p.Int("a", -7) }
	boolean := func(p *driver.ArgParser) any { return p.Bool("a", true) }
	seconds := func(p *driver.ArgParser) any { return p.Seconds("a", 3*time.Second) }
	list := func(p *driver.ArgParser) any { return p.Strings("a") }
	tests := []struct {
		name  string
		read  read
		value any // absent when it is argAbsent
		want  any
		bad   bool
	}{
		{name: "string", read: str, value: "redis://x", want: "redis://x"},
		{name: "string absent", read: str, value: argAbsent{}, want: "def"},
		{name: "string None", read: str, value: nil, want: "def"},
		{name: "string from int", read: str, value: 6379, want: "6379"},
		{name: "string from int64", read: str, value: int64(5), want: "5"},
		{name: "string from float", read: str, value: 0.5, want: "0.5"},
		{name: "string from Stringer", read: str, value: argStringer{}, want: "stringer"},
		{name: "string from bool", read: str, value: true, want: "def", bad: true},
		{name: "string from list", read: str, value: []string{"a"}, want: "def", bad: true},

		{name: "int", read: integer, value: 3, want: 3},
		{name: "int absent", read: integer, value: argAbsent{}, want: -7},
		{name: "int None", read: integer, value: nil, want: -7},
		{name: "int64", read: integer, value: int64(4), want: 4},
		{name: "int32", read: integer, value: int32(5), want: 5},
		{name: "int from integral float", read: integer, value: 6.0, want: 6},
		{name: "int from fractional float", read: integer, value: 6.5, want: -7, bad: true},
		{name: "int from huge float", read: integer, value: 1e300, want: -7, bad: true},
		{name: "int from string", read: integer, value: " 8 ", want: 8},
		{name: "int from word", read: integer, value: "eight", want: -7, bad: true},
		{name: "int from bool", read: integer, value: true, want: -7, bad: true},

		{name: "bool", read: boolean, value: false, want: false},
		{name: "bool absent", read: boolean, value: argAbsent{}, want: true},
		{name: "bool None", read: boolean, value: nil, want: true},
		{name: "bool from 0", read: boolean, value: 0, want: false},
		{name: "bool from 1", read: boolean, value: 1, want: true},
		{name: "bool from string", read: boolean, value: " Off ", want: false},
		{name: "bool from yes", read: boolean, value: "yes", want: true},
		{name: "bool from maybe", read: boolean, value: "maybe", want: true, bad: true},
		{name: "bool from float", read: boolean, value: 1.0, want: true, bad: true},

		{name: "seconds int", read: seconds, value: 2, want: 2 * time.Second},
		{name: "seconds int64", read: seconds, value: int64(3), want: 3 * time.Second},
		{name: "seconds float", read: seconds, value: 0.25, want: 250 * time.Millisecond},
		{name: "seconds Duration", read: seconds, value: time.Minute, want: time.Minute},
		{name: "seconds numeric string", read: seconds, value: "1.5", want: 1500 * time.Millisecond},
		{name: "seconds Go duration string", read: seconds, value: "90s", want: 90 * time.Second},
		{name: "seconds absent", read: seconds, value: argAbsent{}, want: 3 * time.Second},
		{name: "seconds None", read: seconds, value: nil, want: 3 * time.Second},
		{name: "seconds word", read: seconds, value: "soon", want: 3 * time.Second, bad: true},
		{name: "seconds infinite", read: seconds, value: 1e300, want: 3 * time.Second, bad: true},
		{name: "seconds bool", read: seconds, value: true, want: 3 * time.Second, bad: true},

		{name: "list", read: list, value: []string{"a", "b"}, want: []string{"a", "b"}},
		{name: "list from text", read: list, value: " 127.0.0.1:6379, 10.0.0.1:6379 ,", want: []string{"127.0.0.1:6379", "10.0.0.1:6379"}},
		{name: "list from lines", read: list, value: "\n127.0.0.1:11211\n 10.0.0.2:11211,10.0.0.3:11211\n", want: []string{"127.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"}},
		{name: "list from []any", read: list, value: []any{"a", "b"}, want: []string{"a", "b"}},
		{name: "list absent", read: list, value: argAbsent{}, want: []string(nil)},
		{name: "list None", read: list, value: nil, want: []string(nil)},
		{name: "list of numbers", read: list, value: []any{"a", 1}, want: []string(nil), bad: true},
		{name: "list from int", read: list, value: 3, want: []string(nil), bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := driver.Arguments{}
			if _, absent := tt.value.(argAbsent); !absent {
				args["a"] = tt.value
			}
			p := args.Parser("test.backend")
			if got := tt.read(p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %T %#v, want %T %#v", got, got, tt.want, tt.want)
			}
			err := p.Err()
			if tt.bad != (err != nil) {
				t.Fatalf("Err() = %v, want an error: %v", err, tt.bad)
			}
			if err != nil {
				argCheckError(t, err, "a")
				if !strings.HasPrefix(err.Error(), `invalid argument: argument "a" is `) {
					t.Errorf("error %q: want it to begin with the sentinel and the argument", err)
				}
			}
		})
	}
}

func TestArgumentsParserStringsCopies(t *testing.T) {
	in := []string{"a", "b"}
	p := driver.Arguments{"l": in}.Parser("test.backend")
	out := p.Strings("l")
	out[0] = "changed"
	if in[0] != "a" {
		t.Error("Strings returns the caller's slice")
	}
}

func TestArgumentsParserUnknownNames(t *testing.T) {
	tests := []struct {
		name    string
		args    driver.Arguments
		read    []string // names read with Value
		ignore  []string
		unknown []string // reported by Err, in order; none: no error
	}{
		{name: "all read", args: driver.Arguments{"host": "h", "port": 1}, read: []string{"host", "port"}},
		{name: "read but absent", args: driver.Arguments{}, read: []string{"host"}},
		{name: "nil arguments", args: nil, read: []string{"host"}},
		{name: "unknown, sorted", args: driver.Arguments{"host": "h", "zz": 1, "aa": 2, "mm": nil},
			read: []string{"host"}, unknown: []string{"aa", "mm", "zz"}},
		{name: "Python-only names ignored", args: driver.Arguments{"thread_local_lock": false, "host": "h"},
			read: []string{"host"}, ignore: []string{"thread_local_lock", "behaviors"}},
		{name: "ignore does not hide others", args: driver.Arguments{"thread_local_lock": false, "serde": 1, "bogus": 1},
			ignore: []string{"thread_local_lock", "serde"}, unknown: []string{"bogus"}},
	}
	old := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler)) // Ignore logs what it ignores
	defer slog.SetDefault(old)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.args.Parser("test.backend")
			for _, n := range tt.read {
				p.Value(n)
			}
			p.Ignore(tt.ignore...)
			err := p.Err()
			if len(tt.unknown) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, driver.ErrInvalidArgument) {
				t.Fatalf("err = %v, want ErrInvalidArgument", err)
			}
			if want := fmt.Sprintf("%q", tt.unknown); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not list %s", err, want)
			}
			if strings.HasPrefix(err.Error(), "dogpile") || strings.Contains(err.Error(), "test.backend") {
				t.Errorf("error %q names the backend or has a dogpile prefix", err)
			}
		})
	}
}

func TestArgumentsParserHasAndValue(t *testing.T) {
	p := driver.Arguments{"set": 1, "none": nil}.Parser("test.backend")
	if !p.Has("set") || p.Has("none") || p.Has("absent") {
		t.Errorf("Has: set %v, none %v, absent %v", p.Has("set"), p.Has("none"), p.Has("absent"))
	}
	if v, ok := p.Value("set"); !ok || v != 1 {
		t.Errorf("Value(set) = %v, %v", v, ok)
	}
	if v, ok := p.Value("none"); ok || v != nil {
		t.Errorf("Value(none) = %v, %v: None means absent", v, ok)
	}
	if err := p.Err(); err != nil {
		t.Errorf("every name was read: %v", err)
	}
}

// The first bad value is the one reported, not a later one.
func TestArgumentsParserFirstError(t *testing.T) {
	p := driver.Arguments{"a": "x", "b": "y"}.Parser("test.backend")
	p.Int("a", 0)
	p.Int("b", 0)
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), `"a"`) || strings.Contains(err.Error(), `"b"`) {
		t.Errorf("Err() = %v, want the error about a only", err)
	}
}

// TestArgumentsParserReject: Reject records a value the typed readers
// accepted but the backend cannot use, with what it wants; the first
// problem is the one reported, and a bad value hides unknown names.
func TestArgumentsParserReject(t *testing.T) {
	p := driver.Arguments{"port": 70000, "db": 1, "bogus": true}.Parser("test.backend")
	if port := p.Int("port", 0); port > 65535 {
		p.Reject("port", "a port number, 1 to 65535")
	}
	p.Int("db", 0)
	err := p.Err()
	argCheckError(t, err, "port")
	if want := `invalid argument: argument "port" is int 70000, want a port number, 1 to 65535`; err == nil || err.Error() != want {
		t.Errorf("Err() = %v, want %q", err, want)
	}

	// A later Reject does not replace the first problem.
	p = driver.Arguments{"a": "x", "b": 2}.Parser("test.backend")
	p.Int("a", 0)
	p.Int("b", 0)
	p.Reject("b", "an even number")
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), `"a"`) || strings.Contains(err.Error(), "even") {
		t.Errorf("Err() = %v, want the error about a only", err)
	}

	// Rejecting an absent argument names it too.
	p = driver.Arguments{}.Parser("test.backend")
	p.Reject("url", "a URL; it is required")
	argCheckError(t, p.Err(), "url")
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), "it is required") {
		t.Errorf("Err() = %v, want the reason", err)
	}
}

// argIgnoreRuns counts the runs of TestArgumentsParserIgnoreLogsOnce.
var argIgnoreRuns atomic.Int64

// TestArgumentsParserIgnoreLogsOnce: an ignored argument that is set is
// logged once per process and backend, at Warn.
func TestArgumentsParserIgnoreLogsOnce(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(old)
	// Once per process: a name of its own for each run of the test.
	backend := fmt.Sprintf("test.backend.ignore-once-%d", argIgnoreRuns.Add(1))
	for range 3 {
		p := driver.Arguments{"thread_local_lock": false}.Parser(backend)
		p.Ignore("thread_local_lock", "behaviors")
		if err := p.Err(); err != nil {
			t.Fatal(err)
		}
	}
	out := buf.String()
	if n := strings.Count(out, "thread_local_lock"); n != 1 || !strings.Contains(out, "level=WARN") || !strings.Contains(out, backend) {
		t.Errorf("log = %q, want one Warn line naming the backend and the argument", out)
	}
	if strings.Contains(out, "behaviors") {
		t.Errorf("log = %q mentions an ignored argument that is not set", out)
	}
}

// Values written in a config file reach a backend through
// pyconfig.CoerceString and the parser: the pair must give what the file
// meant.
func TestArgumentsFromConfigText(t *testing.T) {
	text := map[string]string{
		"host":                  " cache.internal ",
		"port":                  "6379",
		"db":                    "0",
		"ssl":                   "True",
		"socket_timeout":        "0.5",
		"lock_timeout":          "30",
		"startup_nodes":         "10.0.0.1:7000, 10.0.0.2:7000",
		"redis_expiration_time": "None",
	}
	args := driver.Arguments{}
	for k, v := range text {
		args[k] = pyconfig.CoerceString(v)
	}
	p := args.Parser("test.backend")
	got := []any{
		p.String("host", ""), p.Int("port", 0), p.Int("db", -1), p.Bool("ssl", false),
		p.Seconds("socket_timeout", 0), p.Seconds("lock_timeout", 0), p.Strings("startup_nodes"),
		p.Seconds("redis_expiration_time", time.Hour),
	}
	want := []any{
		"cache.internal", 6379, 0, true,
		500 * time.Millisecond, 30 * time.Second, []string{"10.0.0.1:7000", "10.0.0.2:7000"},
		time.Hour,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
	if err := p.Err(); err != nil {
		t.Error(err)
	}
}
