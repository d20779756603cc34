package pyconfig_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/file"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
	"github.com/dogpilego/dogpile/internal/python"
)

// pyramidINI is a Pyramid application's development.ini with dogpile.cache
// regions, written as Pyramid users write them: a server list on
// continuation lines, %(here)s, a %% escape, keys repeated across
// sections, comments, a [DEFAULT] section.
const pyramidINI = `###
# app configuration
###
[DEFAULT]
debug = true
cache_dir = %(here)s/var

[app:main]
use = call:json:loads
pyramid.reload_templates = true
pyramid.includes =
    pyramid_debugtoolbar
    pyramid_tm

# regions
cache.pages.backend = dogpile.cache.memory
cache.pages.expiration_time = 300
cache.pages.arguments.max_size = 1000
cache.files.backend = dogpile.cache.dbm
cache.files.expiration_time = 3600
cache.files.arguments.filename = %(cache_dir)s/cache.dbm
cache.shared.backend = dogpile.cache.memcached
cache.shared.expiration_time = 60
cache.shared.arguments.url =
    127.0.0.1:11211
    10.0.0.2:11211
discount = 10%%
CamelCase.Key = "kept quoted" ; not a comment

[server:main]
use = egg:waitress#main
listen = localhost:6543
debug = false

[loggers]
keys = root
`

// pyAppConfig prints the settings PasteDeploy gives the application of
// the file named on stdin, and how dogpile.cache configures two regions
// from them.
const pyAppConfig = `
import json, sys
from paste.deploy.loadwsgi import appconfig
from dogpile.cache import make_region
path = json.load(sys.stdin)
settings = dict(appconfig("config:" + path, name="main"))
regions = {}
for name in ("pages", "files"):
    r = make_region()
    args = {}
    prefix = "cache." + name + "."
    # dogpile.cache's Python memory backend takes no max_size: leave the
    # Go-only argument out of Python's configuration.
    conf = {k: v for k, v in settings.items() if not k.endswith(".max_size")}
    r.configure_from_config(conf, prefix)
    regions[name] = {"backend": type(r.backend).__name__, "expiration_time": r.expiration_time,
                     "filename": getattr(r.backend, "filename", None)}
print(json.dumps({"settings": settings, "regions": regions}))
`

// TestReadINIMatchesPasteDeploy: ReadINI reads a Pyramid file's
// application section as PasteDeploy reads it (key for key, value for
// value), and the regions ConfigureFromConfig builds from it are the ones
// dogpile.cache builds from PasteDeploy's settings.
func TestReadINIMatchesPasteDeploy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "development.ini")
	if err := os.WriteFile(path, []byte(pyramidINI), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "var"), 0o700); err != nil {
		t.Fatal(err)
	}
	got, err := pyconfig.ReadINI(path, "app:main")
	if err != nil {
		t.Fatal(err)
	}

	py := python.Interpreter(t, "paste.deploy", "dogpile.cache")
	var want struct {
		Settings map[string]string `json:"settings"`
		Regions  map[string]struct {
			Backend        string  `json:"backend"`
			ExpirationTime float64 `json:"expiration_time"`
			Filename       *string `json:"filename"`
		} `json:"regions"`
	}
	python.RunJSON(t, py, pyAppConfig, path, &want)
	for k, v := range want.Settings {
		if got[k] != v {
			t.Errorf("%s = %q, PasteDeploy reads %q", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want.Settings[k]; !ok && k != "use" {
			t.Errorf("%s = %q: PasteDeploy has no such key", k, v)
		}
	}

	for name, pw := range want.Regions {
		r := dogpile.NewRegion(dogpile.WithName(name))
		if err := pyconfig.ConfigureFromConfig(r, got, "cache."+name+"."); err != nil {
			t.Fatalf("region %s: %v", name, err)
		}
		defer r.Close()
		if want := time.Duration(pw.ExpirationTime * float64(time.Second)); r.ExpirationTime() != want {
			t.Errorf("region %s: expiration %v, dogpile.cache %v", name, r.ExpirationTime(), want)
		}
		if pw.Filename != nil {
			b, ok := r.Backend().(interface{ Path() string })
			if !ok || b.Path() != *pw.Filename {
				t.Errorf("region %s: store %v, dogpile.cache %q", name, r.Backend(), *pw.Filename)
			}
		}
		if err := r.Set(context.Background(), "k", "v"); err != nil {
			t.Errorf("region %s: %v", name, err)
		}
	}
	// The memcached region's server list, read from continuation lines.
	if want := "\n127.0.0.1:11211\n10.0.0.2:11211"; got["cache.shared.arguments.url"] != want {
		t.Errorf("url = %q, want %q", got["cache.shared.arguments.url"], want)
	}
}

func TestReadINIErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, src, section, want string
	}{
		{"missing section", "[app:main]\na = 1\n", "app:other", "no section [app:other]"},
		{"key twice", "[app:main]\na = 1\na = 2\n", "app:main", `key "a" given twice`},
		{"unknown reference", "[app:main]\na = %(nope)s\n", "app:main", "refers to no key"},
		{"reference loop", "[app:main]\na = %(b)s\nb = %(a)s\n", "app:main", "deeper than"},
		{"stray percent", "[app:main]\na = 50%\n", "app:main", "must be followed"},
		// Eight lines that would expand to 100 MB.
		{"reference bomb", "[app:main]\na = xxxxxxxxxx\n" + bomb("abcdefgh"), "app:main", "longer than 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pyconfig.ReadINI(write(strings.ReplaceAll(tc.name, " ", "_")+".ini", tc.src), tc.section)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadINI = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := pyconfig.ReadINI(filepath.Join(dir, "absent.ini"), "app:main"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadINI of a missing file = %v, want os.ErrNotExist", err)
	}
}

// bomb returns lines in which each key of names after the first refers
// ten times to the one before it.
func bomb(names string) string {
	var b strings.Builder
	for i := 1; i < len(names); i++ {
		b.WriteString(names[i:i+1] + " =")
		for range 10 {
			b.WriteString(" %(" + names[i-1:i] + ")s")
		}
		b.WriteString("\n")
	}
	return b.String()
}
