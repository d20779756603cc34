package pyconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// The keys ConfigureFromConfig reads after the prefix, as dogpile.cache's
// configure_from_config names them.
const (
	configBackend    = "backend"
	configExpiration = "expiration_time"
	configArguments  = "arguments."
	configWrap       = "wrap"
	configReplace    = "replace_existing_backend"
)

// ConfigureFromConfig configures r from a flat map of settings, as
// dogpile.cache's configure_from_config does. With prefix "cache.users."
// it reads:
//
//	cache.users.backend                   the registered backend name (required)
//	cache.users.expiration_time           seconds (an int, a float or a numeric string),
//	                                      a Go duration ("90s", "5m") or a time.Duration;
//	                                      -1, None or absent: never expire
//	cache.users.arguments.<name>          backend argument <name> ("arguments.a.b" is "a.b")
//	cache.users.wrap                      proxies registered with RegisterProxy,
//	                                      separated by commas or newlines, a []string, or driver.Proxy
//	                                      values ([]driver.Proxy, or []any mixing both);
//	                                      outermost first
//	cache.users.replace_existing_backend  true to reconfigure a configured region
//
// String values are coerced first, as CoerceString describes, so that
// values read from an .ini file work as they do in Python. An
// expiration_time of 0 is refused: to dogpile.cache it means that every
// value expires at once, which no cache wants, while a Go
// Config.ExpirationTime of zero means the opposite, never.
//
// Keys without the prefix are ignored, so one map may hold the settings of
// many regions; a key with the prefix that is none of the above is an
// error, so that a misspelt key does not pass silently. config is not
// modified. On error the region is left as it was.
func ConfigureFromConfig(r *dogpile.Region, config map[string]any, prefix string) error {
	name, cfg, err := parseConfig(config, prefix)
	if err != nil {
		return &dogpile.Error{Op: "configure", Region: r.Name(), Err: err}
	}
	err = r.Configure(name, cfg)
	var de *dogpile.Error
	if errors.Is(err, dogpile.ErrAlreadyConfigured) && errors.As(err, &de) {
		de.Err = fmt.Errorf("%w; set %q to true to replace it", de.Err, prefix+configReplace)
	}
	return err
}

// parseConfig turns the keys of config that start with prefix into a
// backend name and a Config.
func parseConfig(config map[string]any, prefix string) (string, dogpile.Config, error) {
	var (
		cfg      dogpile.Config
		name     string
		haveName bool
		unknown  []string
		problems = map[string]string{} // key → what is wrong with its value
	)
	for key, raw := range config {
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		v := raw
		if s, isString := raw.(string); isString {
			v = CoerceString(s)
		}
		switch {
		case rest == configBackend:
			s, ok := raw.(string)
			if s = strings.TrimSpace(s); !ok || s == "" || s == "None" {
				problems[key] = fmt.Sprintf("backend is %T %q, want a backend name", raw, fmt.Sprint(raw))
				continue
			}
			name, haveName = s, true
		case rest == configExpiration:
			d, err := configSeconds(v)
			if err != nil {
				problems[key] = err.Error()
				continue
			}
			cfg.ExpirationTime = d
		case strings.HasPrefix(rest, configArguments):
			arg := rest[len(configArguments):]
			if arg == "" {
				problems[key] = "no argument name after " + strconv.Quote(configArguments)
				continue
			}
			if cfg.Arguments == nil {
				cfg.Arguments = map[string]any{}
			}
			cfg.Arguments[arg] = v
		case rest == configWrap:
			proxies, err := configProxies(v)
			if err != nil {
				problems[key] = err.Error()
				continue
			}
			cfg.Wrap = proxies
		case rest == configReplace:
			switch b := v.(type) {
			case nil:
			case bool:
				cfg.ReplaceExistingBackend = b
			default:
				problems[key] = fmt.Sprintf("replace_existing_backend is %T %q, want true or false", raw, fmt.Sprint(raw))
			}
		default:
			unknown = append(unknown, key)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return "", dogpile.Config{}, fmt.Errorf("%w: unknown config keys %q (known after the prefix: %s, %s, %s<name>, %s, %s)",
			dogpile.ErrInvalidArgument, unknown, configBackend, configExpiration, configArguments, configWrap, configReplace)
	}
	if !haveName {
		if _, present := problems[prefix+configBackend]; !present {
			problems[prefix+configBackend] = "missing: it names the backend"
		}
	}
	if len(problems) > 0 {
		keys := slices.Sorted(maps.Keys(problems))
		msgs := make([]string, len(keys))
		for i, k := range keys {
			msgs[i] = fmt.Sprintf("config key %q: %s", k, problems[k])
		}
		return "", dogpile.Config{}, fmt.Errorf("%w: %s", dogpile.ErrInvalidArgument, strings.Join(msgs, "; "))
	}
	return name, cfg, nil
}

// errZeroExpiration explains why expiration_time 0 is refused.
const errZeroExpiration = "expiration_time 0 makes dogpile.cache expire every value at once; " +
	"use -1 or None for values that never expire, or a positive number of seconds"

// configSeconds reads expiration_time: a number of seconds, a Go duration
// string, a time.Duration, or nil (never). -1 means never, as in Python;
// 0 is refused.
func configSeconds(v any) (time.Duration, error) {
	var secs float64
	switch n := v.(type) {
	case nil:
		return 0, nil
	case time.Duration:
		switch {
		case n == 0:
			return 0, errors.New(errZeroExpiration)
		case n < 0 && n != dogpile.NoExpiration:
			return 0, fmt.Errorf("expiration_time %v is negative", n)
		}
		return n, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return 0, fmt.Errorf("expiration_time %q is not a number of seconds", string(n))
		}
		secs = f
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(n))
		if err != nil {
			return 0, fmt.Errorf("expiration_time %q is neither a number of seconds nor a Go duration such as \"90s\" or \"5m\"", n)
		}
		return configSeconds(d)
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			i := rv.Int()
			switch {
			case i == -1:
				return dogpile.NoExpiration, nil
			case i == 0:
				return 0, errors.New(errZeroExpiration)
			case i < 0 || i > math.MaxInt64/int64(time.Second):
				return 0, fmt.Errorf("expiration_time %d seconds is out of range", i)
			}
			return time.Duration(i) * time.Second, nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			u := rv.Uint()
			switch {
			case u == 0:
				return 0, errors.New(errZeroExpiration)
			case u > math.MaxInt64/uint64(time.Second):
				return 0, fmt.Errorf("expiration_time %d seconds is out of range", u)
			}
			return time.Duration(u) * time.Second, nil
		case reflect.Float32, reflect.Float64:
			secs = rv.Float()
		default:
			return 0, fmt.Errorf("expiration_time is %T %v, want a number of seconds or a Go duration", v, v)
		}
	}
	switch {
	case secs == -1:
		return dogpile.NoExpiration, nil
	case secs == 0:
		return 0, errors.New(errZeroExpiration)
	case math.IsNaN(secs) || secs < 0 || secs*float64(time.Second) >= math.MaxInt64:
		return 0, fmt.Errorf("expiration_time %v seconds is out of range", secs)
	}
	d := time.Duration(math.Round(secs * float64(time.Second)))
	if d == 0 {
		return 0, fmt.Errorf("expiration_time %v seconds is below a nanosecond", secs)
	}
	return d, nil
}

// configProxies reads wrap: proxy names (text, as driver.SplitList reads
// it, or a list), Proxy values, or a list mixing both.
func configProxies(v any) ([]driver.Proxy, error) {
	var items []any
	switch w := v.(type) {
	case nil:
		return nil, nil
	case string:
		for _, part := range driver.SplitList(w) {
			items = append(items, part)
		}
	case []string:
		for _, s := range w {
			items = append(items, s)
		}
	case []driver.Proxy:
		for _, p := range w {
			items = append(items, p)
		}
	case []any:
		items = w
	case driver.Proxy, func(driver.Backend) driver.Backend:
		items = []any{w}
	default:
		return nil, fmt.Errorf("wrap is %T, want proxy names or []driver.Proxy", v)
	}
	proxies := make([]driver.Proxy, 0, len(items))
	for _, it := range items {
		switch p := it.(type) {
		case string:
			proxy, err := findProxy(strings.TrimSpace(p))
			if err != nil {
				return nil, err // the caller wraps ErrInvalidArgument
			}
			proxies = append(proxies, proxy)
		case driver.Proxy:
			if p == nil {
				return nil, fmt.Errorf("nil proxy in wrap")
			}
			proxies = append(proxies, p)
		case func(driver.Backend) driver.Backend:
			if p == nil {
				return nil, fmt.Errorf("nil proxy in wrap")
			}
			proxies = append(proxies, p)
		default:
			return nil, fmt.Errorf("wrap holds %T %v, want a proxy name or a driver.Proxy", it, it)
		}
	}
	return proxies, nil
}

var (
	configInt   = regexp.MustCompile(`^[-+]?\p{Nd}+$`)
	configFloat = regexp.MustCompile(`^[-+]?(?:\p{Nd}+(?:\.\p{Nd}*)?|\.\p{Nd}+)(?:[eE][-+]?\p{Nd}+)?$`)
)

// CoerceString converts a setting read as text the way dogpile.cache's
// coerce_string_conf does: surrounding whitespace is stripped, then
//
//	an integer ("12", "+1", "-1")                       → int
//	a decimal or exponent number ("1e3", ".5", "5.")    → float64
//	"true" or "false", in any case                      → bool
//	exactly "None"                                      → nil
//	anything else ("none", "0x10", "1_000", "")         → the stripped string
//
// An integer too large for an int stays a string (Python would keep it as
// an int). As in Python, digits of any script count as digits.
func CoerceString(s string) any {
	s = strings.TrimFunc(s, pythonIsSpace)
	if configInt.MatchString(s) {
		if i, err := strconv.Atoi(asciiDigits(s)); err == nil {
			return i
		}
		return s
	}
	if configFloat.MatchString(s) {
		// Out of range parses to ±Inf or 0, as Python's float() gives.
		f, _ := strconv.ParseFloat(asciiDigits(s), 64)
		return f
	}
	switch lower := strings.ToLower(s); lower {
	case "true":
		return true
	case "false":
		return false
	}
	if s == "None" {
		return nil
	}
	return s
}

// pythonIsSpace is str.isspace: Go's unicode.IsSpace plus the information
// separators U+001C to U+001F, which Python strips too.
func pythonIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// asciiDigits replaces decimal digits of other scripts by ASCII digits, so
// strconv parses what Python's int() and float() accept.
func asciiDigits(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x80 || !unicode.Is(unicode.Nd, r) {
			return r
		}
		// Decimal digits come in runs of ten, zero first: the value is the
		// distance from the start of the run, modulo ten.
		n := 0
		for unicode.Is(unicode.Nd, r-rune(n)-1) {
			n++
		}
		return '0' + rune(n%10)
	}, s)
}
