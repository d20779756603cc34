package pyconfig_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/file" // dogpile.cache.dbm
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
)

func ExampleReadINI() {
	// The .ini file of a Pyramid application, as Python reads it.
	dir, err := os.MkdirTemp("", "app")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Mkdir(filepath.Join(dir, "var"), 0o700); err != nil {
		log.Fatal(err)
	}
	file := filepath.Join(dir, "production.ini")
	err = os.WriteFile(file, []byte(`
[DEFAULT]
cache_dir = %(here)s/var

[app:main]
use = egg:myapp
cache.pages.backend = dogpile.cache.dbm
cache.pages.expiration_time = 300
cache.pages.arguments.filename = %(cache_dir)s/pages.dbm
cache.shared.backend = dogpile.cache.memcached
cache.shared.arguments.url =
    10.0.0.1:11211
    10.0.0.2:11211
`), 0o600)
	if err != nil {
		log.Fatal(err)
	}

	settings, err := pyconfig.ReadINI(file, "app:main")
	if err != nil {
		log.Fatal(err)
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range settings {
			if strings.HasPrefix(k, "cache.") && !yield(k) {
				return
			}
		}
	}) {
		fmt.Printf("%s = %q\n", k, strings.ReplaceAll(fmt.Sprint(settings[k]), dir, "<here>"))
	}

	// The settings configure regions as dogpile.cache's
	// configure_from_config does.
	pages := dogpile.NewRegion(dogpile.WithName("pages"))
	if err := pyconfig.ConfigureFromConfig(pages, settings, "cache.pages."); err != nil {
		log.Fatal(err)
	}
	defer pages.Close()
	fmt.Println("pages expire after", pages.ExpirationTime())
	// Output:
	// cache.pages.arguments.filename = "<here>/var/pages.dbm"
	// cache.pages.backend = "dogpile.cache.dbm"
	// cache.pages.expiration_time = "300"
	// cache.shared.arguments.url = "\n10.0.0.1:11211\n10.0.0.2:11211"
	// cache.shared.backend = "dogpile.cache.memcached"
	// pages expire after 5m0s
}
