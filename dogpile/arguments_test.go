package dogpile_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
)

// argStringer is a fmt.Stringer argument value.
type argStringer struct{}

func (argStringer) String() string { return "stringer" }

// TestArgumentsParser reads one argument of each kind, from the Go values a
// caller passes and from the values ConfigureFromConfig coerces out of text.
func TestArgumentsParser(t *testing.T) {
	type read func(p *dogpile.ArgParser) any
	str := func(p *dogpile.ArgParser) any { return p.String("a", "def") }
	integer := func(p *dogpile.ArgParser) any { return p.Int("a", -7) }
	boolean := func(p *dogpile.ArgParser) any { return p.Bool("a", true) }
	seconds := func(p *dogpile.ArgParser) any { return p.Seconds("a", 3*time.Second) }
	list := func(p *dogpile.ArgParser) any { return p.Strings("a") }
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
		{name: "list from []any", read: list, value: []any{"a", "b"}, want: []string{"a", "b"}},
		{name: "list absent", read: list, value: argAbsent{}, want: []string(nil)},
		{name: "list None", read: list, value: nil, want: []string(nil)},
		{name: "list of numbers", read: list, value: []any{"a", 1}, want: []string(nil), bad: true},
		{name: "list from int", read: list, value: 3, want: []string(nil), bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := dogpile.Arguments{}
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
				if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), `"a"`) ||
					!strings.Contains(err.Error(), "test.backend") || !strings.HasPrefix(err.Error(), "dogpile:") {
					t.Errorf("error %q: want ErrInvalidArgument naming the backend and the argument", err)
				}
			}
		})
	}
}

// argAbsent marks a test row whose argument is not set at all.
type argAbsent struct{}

func TestArgumentsParserStringsCopies(t *testing.T) {
	in := []string{"a", "b"}
	p := dogpile.Arguments{"l": in}.Parser("test.backend")
	out := p.Strings("l")
	out[0] = "changed"
	if in[0] != "a" {
		t.Error("Strings returns the caller's slice")
	}
}

func TestArgumentsParserUnknownNames(t *testing.T) {
	tests := []struct {
		name    string
		args    dogpile.Arguments
		read    []string // names read with Value
		ignore  []string
		unknown []string // reported by Err, in order; none: no error
	}{
		{name: "all read", args: dogpile.Arguments{"host": "h", "port": 1}, read: []string{"host", "port"}},
		{name: "read but absent", args: dogpile.Arguments{}, read: []string{"host"}},
		{name: "unknown, sorted", args: dogpile.Arguments{"host": "h", "zz": 1, "aa": 2, "mm": nil},
			read: []string{"host"}, unknown: []string{"aa", "mm", "zz"}},
		{name: "Python-only names ignored", args: dogpile.Arguments{"thread_local_lock": false, "host": "h"},
			read: []string{"host"}, ignore: []string{"thread_local_lock", "behaviors"}},
		{name: "ignore does not hide others", args: dogpile.Arguments{"thread_local_lock": false, "serde": 1, "bogus": 1},
			ignore: []string{"thread_local_lock", "serde"}, unknown: []string{"bogus"}},
	}
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
			if !errors.Is(err, dogpile.ErrInvalidArgument) {
				t.Fatalf("err = %v, want ErrInvalidArgument", err)
			}
			if want := fmt.Sprintf("%q", tt.unknown); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not list %s", err, want)
			}
		})
	}
}

func TestArgumentsParserHasAndValue(t *testing.T) {
	p := dogpile.Arguments{"set": 1, "none": nil}.Parser("test.backend")
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
	p := dogpile.Arguments{"a": "x", "b": "y"}.Parser("test.backend")
	p.Int("a", 0)
	p.Int("b", 0)
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), `"a"`) || strings.Contains(err.Error(), `"b"`) {
		t.Errorf("Err() = %v, want the error about a only", err)
	}
}

// Values written in a config file reach a backend through CoerceString and
// the parser: the pair must give what the file meant.
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
	args := dogpile.Arguments{}
	for k, v := range text {
		args[k] = dogpile.CoerceString(v)
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
