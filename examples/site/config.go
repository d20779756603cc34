package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// settingsPrefix starts every setting the site reads: "cache.<region>.".
const settingsPrefix = "cache."

// defaultSettings are the regions the site uses without -config: two memory
// regions, "default" for page sections, cards and cached functions, and
// "local" for the sidebars, which expire sooner.
var defaultSettings = map[string]any{
	"cache.default.backend":         "dogpile.cache.memory",
	"cache.default.expiration_time": "300",
	"cache.local.backend":           "dogpile.cache.memory",
	"cache.local.expiration_time":   "60",
}

// loadSettings reads a configuration file (see parseSettings).
func loadSettings(path string) (map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	settings, err := parseSettings(f)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return settings, nil
}

// parseSettings reads flat "key = value" lines, as in the [app:main]
// section of a Pyramid .ini file:
//
//	# comments start with # or ;, on lines of their own
//	cache.default.backend = dogpile.cache.redis
//	cache.default.arguments.url = redis://127.0.0.1:6379/0
//	cache.default.expiration_time = 300
//
// Section headers ("[app:main]") are skipped, so such a file can be used as
// it is. Keys and values are trimmed; values stay strings, which
// pyconfig.ConfigureFromConfig coerces as Python's dogpile.cache does
// ("300" is a number, "true" a bool). A line without "=" and a key given
// twice are errors that name the line.
func parseSettings(r io.Reader) (map[string]any, error) {
	settings := map[string]any{}
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "", line[0] == '#', line[0] == ';':
			continue
		case line[0] == '[' && line[len(line)-1] == ']':
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%d: expected \"key = value\", got %q", n, line)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if key == "" {
			return nil, fmt.Errorf("%d: empty key", n)
		}
		if first, dup := seen[key]; dup {
			return nil, fmt.Errorf("%d: %s is already set on line %d", n, key, first)
		}
		seen[key] = n
		settings[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return settings, nil
}
