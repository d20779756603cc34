package main

import (
	"fmt"
	"strings"

	"github.com/dogpilego/dogpile/dogpile/pyconfig"
)

// settingsPrefix starts every setting the site reads: "cache.<region>.".
const settingsPrefix = "cache."

// defaultSection is the section of a -config file the site reads, the
// application's section in a Pyramid or Paste .ini file.
const defaultSection = "app:main"

// defaultSettings are the regions the site uses without -config: two memory
// regions, "default" for page sections, cards and cached functions, and
// "local" for the sidebars, which expire sooner.
var defaultSettings = map[string]any{
	"cache.default.backend":         "dogpile.cache.memory",
	"cache.default.expiration_time": "300",
	"cache.local.backend":           "dogpile.cache.memory",
	"cache.local.expiration_time":   "60",
}

// loadSettings reads the region settings of a -config file: the keys under
// "cache." of one section of an .ini file, read as a Pyramid application
// reads the same file (pyconfig.ReadINI: continuation lines, [DEFAULT],
// %(here)s). The values stay strings, which tmplcache.FromConfig coerces as
// Python's dogpile.cache does ("300" is a number, "true" a bool). spec is a
// file name, or "file#section" to read another section than [app:main],
// as PasteDeploy spells it.
func loadSettings(spec string) (map[string]any, error) {
	path, section := spec, defaultSection
	if i := strings.LastIndexByte(spec, '#'); i >= 0 {
		path, section = spec[:i], spec[i+1:]
		if !strings.Contains(section, ":") {
			section = "app:" + section
		}
	}
	all, err := pyconfig.ReadINI(path, section)
	if err != nil {
		return nil, err
	}
	settings := map[string]any{}
	for k, v := range all {
		if strings.HasPrefix(k, settingsPrefix) {
			settings[k] = v
		}
	}
	if len(settings) == 0 {
		return nil, fmt.Errorf("%s: section [%s] has no %s<region>.backend setting", path, section, settingsPrefix)
	}
	return settings, nil
}
