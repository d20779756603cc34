package memory

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// The names this package registers.
const (
	Name      = "dogpile.cache.memory"
	BytesName = "dogpile.cache.memory_pickle"
)

// ttlArg is the argument of the time to live, named after
// redis_expiration_time.
const ttlArg = "memory_expiration_time"

func init() {
	driver.Register(Name, func(args driver.Arguments) (driver.Backend, error) {
		o, err := parseArguments(Name, args)
		if err != nil {
			return nil, err
		}
		return newBackend(o, clock)
	})
	driver.Register(BytesName, func(args driver.Arguments) (driver.Backend, error) {
		o, err := parseArguments(BytesName, args)
		if err != nil {
			return nil, err
		}
		return newBytesBackend(o, clock)
	})
}

// parseArguments reads the arguments of both names into Options.
func parseArguments(name string, args driver.Arguments) (Options, error) {
	p := args.Parser(name)
	var o Options
	if p.Has("cache_dict") {
		return o, fmt.Errorf("%w: argument \"cache_dict\" is not supported: the backend keeps its entries "+
			"in a bounded cache of its own, not in a map given to it (bound it with max_size and max_bytes)",
			driver.ErrInvalidArgument)
	}
	if p.Has("max_size") {
		if o.MaxEntries = p.Int("max_size", 0); o.MaxEntries <= 0 {
			p.Reject("max_size", fmt.Sprintf("a positive number of entries (leave it out for %d)", DefaultMaxEntries))
		}
	}
	if v, ok := p.Value("max_bytes"); ok {
		if n, ok := parseBytes(v); ok && n > 0 {
			o.MaxBytes = n
		} else {
			p.Reject("max_bytes", fmt.Sprintf(`a positive number of bytes, or a size such as "64MiB" or "1GB" (leave it out for %d)`, DefaultMaxBytes))
		}
	}
	if v, ok := p.Value(ttlArg); ok {
		if s, isString := v.(string); isString && strings.EqualFold(strings.TrimSpace(s), "none") {
			o.TTL = NoTTL
		} else {
			switch d := p.Seconds(ttlArg, 0); {
			case d < 0:
				p.Reject(ttlArg, `a number of seconds, 0 or "none" for no time to live (leave it out to derive it from the region)`)
			case d == 0:
				o.TTL = NoTTL
			default:
				o.TTL = d
			}
		}
	}
	return o, p.Err()
}

// byteUnits are the suffixes max_bytes takes, by their multiple.
var byteUnits = []struct {
	suffix string
	n      int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"b", 1},
}

// parseBytes reads a number of bytes: an integer, or a string holding one
// with an optional unit (KB, MB, GB, TB in powers of 1000, KiB, MiB, GiB,
// TiB in powers of 1024, B), in any case and with spaces allowed.
func parseBytes(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case float64:
		if n == math.Trunc(n) && n >= math.MinInt64 && n < math.MaxInt64 {
			return int64(n), true
		}
		return 0, false
	case string:
		s := strings.ToLower(strings.TrimSpace(n))
		mult := int64(1)
		for _, u := range byteUnits {
			if rest, ok := strings.CutSuffix(s, u.suffix); ok {
				s, mult = strings.TrimSpace(rest), u.n
				break
			}
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil || i < 0 || i > math.MaxInt64/mult {
			return 0, false
		}
		return i * mult, true
	}
	return 0, false
}
