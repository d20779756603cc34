package driver

import (
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Arguments are a backend's arguments, by dogpile.cache's names ("url",
// "redis_expiration_time", ...). Values are Go values of the documented
// kind, or strings as they come from a config file.
type Arguments map[string]any

// ArgParser reads Arguments for one backend and remembers which names it
// read, so Err can report the names nobody knows. Backend factories use it:
//
//	p := args.Parser("dogpile.cache.redis")
//	host := p.String("host", "localhost")
//	p.Ignore("thread_local_lock") // Python-only: accepted, logged once
//	if err := p.Err(); err != nil { return nil, err }
type ArgParser struct {
	backend string
	args    Arguments
	used    map[string]bool
	err     error
}

// Parser returns an ArgParser over a for the named backend; the name is
// used in the log lines of Ignore.
func (a Arguments) Parser(backend string) *ArgParser {
	return &ArgParser{backend: backend, args: a, used: map[string]bool{}}
}

func (p *ArgParser) lookup(name string) (any, bool) {
	p.used[name] = true
	v, ok := p.args[name]
	if ok && v == nil {
		return nil, false // Python's None: use the default
	}
	return v, ok
}

func (p *ArgParser) fail(name string, v any, want string) {
	if p.err == nil {
		p.err = fmt.Errorf("%w: argument %q is %s, want %s", ErrInvalidArgument, name, showArgument(name, v), want)
	}
}

// showArgument is the text of an argument's value in an error, with its
// type: secrets are not shown, URLs lose their password, and an absent
// argument is "missing".
func showArgument(name string, v any) string {
	lower := strings.ToLower(name)
	for _, secret := range []string{"password", "passwd", "secret", "token", "credential"} {
		if strings.Contains(lower, secret) {
			return "(not shown)"
		}
	}
	if v == nil {
		return "missing"
	}
	s := fmt.Sprint(v)
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			s = u.Redacted()
		}
	}
	if _, isString := v.(string); isString {
		s = strconv.Quote(s)
	}
	return fmt.Sprintf("%T %s", v, s)
}

// Reject records that the value of name is unacceptable, for checks the
// typed readers cannot make (a range, a format); want says what is
// accepted. Err reports the first value rejected or misread.
func (p *ArgParser) Reject(name, want string) {
	v, _ := p.args[name]
	p.fail(name, v, want)
}

// Has reports whether name is set to something other than nil.
func (p *ArgParser) Has(name string) bool {
	_, ok := p.lookup(name)
	return ok
}

// Value returns the raw value of name, and false when it is absent or nil.
func (p *ArgParser) Value(name string) (any, bool) { return p.lookup(name) }

// String returns name as a string, or def when absent.
func (p *ArgParser) String(name, def string) string {
	v, ok := p.lookup(name)
	if !ok {
		return def
	}
	switch s := v.(type) {
	case string:
		return s
	case fmt.Stringer:
		return s.String()
	case int, int64, float64:
		return fmt.Sprint(s)
	}
	p.fail(name, v, "a string")
	return def
}

// Int returns name as an int, or def when absent.
func (p *ArgParser) Int(name string, def int) int {
	v, ok := p.lookup(name)
	if !ok {
		return def
	}
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case int32:
		return int(n)
	case float64:
		if n == math.Trunc(n) && n >= math.MinInt64 && n < math.MaxInt64 {
			return int(n)
		}
	case string:
		if i, err := strconv.Atoi(strings.TrimSpace(n)); err == nil {
			return i
		}
	}
	p.fail(name, v, "an integer")
	return def
}

// Bool returns name as a bool, or def when absent.
func (p *ArgParser) Bool(name string, def bool) bool {
	v, ok := p.lookup(name)
	if !ok {
		return def
	}
	switch b := v.(type) {
	case bool:
		return b
	case int:
		return b != 0
	case string:
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "true", "1", "yes", "on":
			return true
		case "false", "0", "no", "off", "":
			return false
		}
	}
	p.fail(name, v, "a boolean")
	return def
}

// Seconds returns name as a duration. Numbers are seconds, as in Python;
// a time.Duration is taken as it is; strings are numbers of seconds or Go
// durations ("1.5", "90s").
func (p *ArgParser) Seconds(name string, def time.Duration) time.Duration {
	v, ok := p.lookup(name)
	if !ok {
		return def
	}
	d, err := toDuration(v)
	if err != nil {
		p.fail(name, v, "seconds or a time.Duration")
		return def
	}
	return d
}

// Strings returns name as a list: a []string, a []any of strings, or a
// string of items as SplitList reads it.
func (p *ArgParser) Strings(name string) []string {
	v, ok := p.lookup(name)
	if !ok {
		return nil
	}
	switch l := v.(type) {
	case []string:
		return slices.Clone(l)
	case string:
		return SplitList(l)
	case []any:
		out := make([]string, 0, len(l))
		for _, e := range l {
			s, ok := e.(string)
			if !ok {
				p.fail(name, v, "a list of strings")
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	p.fail(name, v, "a list of strings")
	return nil
}

var ignoredOnce sync.Map // "backend\x00name" → struct{}

// Ignore accepts names that mean something to dogpile.cache in Python but
// nothing here (thread_local_lock, behaviors, ...), so a Python config file
// works unchanged. Each is logged once per process when it is set.
func (p *ArgParser) Ignore(names ...string) {
	for _, name := range names {
		p.used[name] = true
		if _, set := p.args[name]; !set {
			continue
		}
		if _, seen := ignoredOnce.LoadOrStore(p.backend+"\x00"+name, struct{}{}); !seen {
			slog.Default().Warn("dogpile: backend argument has no effect in Go; ignored",
				"backend", p.backend, "argument", name)
		}
	}
}

// Err returns the first bad value read, or an error naming the arguments
// that nothing read.
func (p *ArgParser) Err() error {
	if p.err != nil {
		return p.err
	}
	var unknown []string
	for name := range p.args {
		if !p.used[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("%w: unknown arguments %q", ErrInvalidArgument, unknown)
	}
	return nil
}

// toDuration converts seconds (int, float, numeric string), a Go duration
// string or a time.Duration to a time.Duration.
func toDuration(v any) (time.Duration, error) {
	switch d := v.(type) {
	case time.Duration:
		return d, nil
	case int:
		return time.Duration(d) * time.Second, nil
	case int64:
		return time.Duration(d) * time.Second, nil
	case float64:
		if math.IsNaN(d) || math.IsInf(d, 0) || math.Abs(d) > math.MaxInt64/1e9 {
			return 0, fmt.Errorf("%v seconds is out of range", d)
		}
		return time.Duration(d * float64(time.Second)), nil
	case string:
		s := strings.TrimSpace(d)
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return toDuration(f)
		}
		return time.ParseDuration(s)
	}
	return 0, fmt.Errorf("%T is not a duration", v)
}

// SplitList reads a list given as text, as configuration files give
// them: items separated by commas or newlines ("127.0.0.1, 10.0.0.1", or
// an item per line as an .ini file continues a value), each trimmed,
// empty ones dropped. It returns nil for a text without items.
func SplitList(s string) []string {
	var out []string
	for part := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
