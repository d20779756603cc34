package pyconfig_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
)

func ExampleConfigureFromConfig() {
	// Settings as an INI or environment file gives them: text, for several
	// regions at once. Each region reads the keys under its own prefix.
	settings := map[string]string{
		"cache.users.backend":                 "dogpile.cache.memory",
		"cache.users.expiration_time":         "600",
		"cache.sessions.backend":              "dogpile.cache.memory_pickle",
		"cache.sessions.expiration_time":      "None",
		"cache.sessions.arguments.cache_dict": "None",
		"cache.search.backend":                "dogpile.cache.memory",
		"cache.search.expiration_time":        "90s",
	}
	config := make(map[string]any, len(settings))
	for k, v := range settings {
		config[k] = v
	}
	for _, name := range []string{"users", "sessions", "search"} {
		r := dogpile.NewRegion(dogpile.WithName(name))
		if err := pyconfig.ConfigureFromConfig(r, config, "cache."+name+"."); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(name, "expire after", r.ExpirationTime())
	}

	// A misspelt key is an error, not a silent default.
	config["cache.users.expiration"] = "60"
	err := pyconfig.ConfigureFromConfig(dogpile.NewRegion(), config, "cache.users.")
	fmt.Println(err)

	// So is 0, which means "expire at once" to dogpile.cache.
	err = pyconfig.ConfigureFromConfig(dogpile.NewRegion(), map[string]any{
		"c.backend": "dogpile.cache.memory", "c.expiration_time": "0",
	}, "c.")
	fmt.Println(err)
	// Output:
	// users expire after 10m0s
	// sessions expire after 0s
	// search expire after 1m30s
	// dogpile: configure: invalid argument: unknown config keys ["cache.users.expiration"] (known after the prefix: backend, expiration_time, arguments.<name>, wrap, replace_existing_backend)
	// dogpile: configure: invalid argument: config key "c.expiration_time": expiration_time 0 makes dogpile.cache expire every value at once; use -1 or None for values that never expire, or a positive number of seconds
}

func ExampleCoerceString() {
	for _, s := range []string{" 3600 ", "0.5", "1e3", "FALSE", "None", "none", "127.0.0.1", "90s"} {
		v := pyconfig.CoerceString(s)
		fmt.Printf("%q → %T %v\n", s, v, v)
	}
	// Output:
	// " 3600 " → int 3600
	// "0.5" → float64 0.5
	// "1e3" → float64 1000
	// "FALSE" → bool false
	// "None" → <nil> <nil>
	// "none" → string none
	// "127.0.0.1" → string 127.0.0.1
	// "90s" → string 90s
}

func ExampleKwargKeyGenerator() {
	r := dogpile.NewRegion(dogpile.WithKeyGenerator(pyconfig.KwargKeyGenerator))
	search := dogpile.Cache2(r, func(_ context.Context, query string, limit int) ([]string, error) {
		return nil, nil
	}, dogpile.FuncName("myapp.search", "search"), dogpile.ArgNames("query", "limit"))
	// limit sorts before query.
	key, err := search.Key("tea", 10)
	fmt.Println(key, err)
	// Output:
	// myapp.search:search|10 tea <nil>
}

func ExampleSHA1MangleKey() {
	fmt.Println(pyconfig.SHA1MangleKey("tests.cache.test_decorator:one|1 2"))
	// Output:
	// aead490a8ace2d69a00160f1fd8fd8a16552c24f
}

func ExampleLengthConditionalMangler() {
	// Keys of 250 characters or more are replaced by their SHA-1, as
	// Memcached requires.
	mangle := pyconfig.LengthConditionalMangler(250, pyconfig.SHA1MangleKey)
	fmt.Println(mangle("short:key"))
	fmt.Println(mangle(strings.Repeat("k", 250)))
	fmt.Println(mangle(strings.Repeat("é", 249))) // 249 characters, 498 bytes
	// Output:
	// short:key
	// 8c56211fa2b028e89de28508849a1faf3be33cbf
	// ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé
}

// exampleReadOnly is a proxy that drops every write.
type exampleReadOnly struct{ driver.ProxyBackend }

// Set drops the value.
func (exampleReadOnly) Set(context.Context, string, driver.CachedValue) error { return nil }

func ExampleRegisterProxy() {
	pyconfig.RegisterProxy("myapp.cache.ReadOnly", func(next driver.Backend) driver.Backend {
		return &exampleReadOnly{driver.ProxyBackend{Next: next}}
	})
	r := dogpile.NewRegion()
	err := pyconfig.ConfigureFromConfig(r, map[string]any{
		"cache.backend": "dogpile.cache.memory",
		"cache.wrap":    "myapp.cache.ReadOnly",
	}, "cache.")
	fmt.Println(err)
	ctx := context.Background()
	_ = r.Set(ctx, "k", "v")
	_, found, _ := dogpile.Get[string](ctx, r, "k")
	fmt.Printf("%T found=%v\n", r.Backend(), found)

	_, err = pyconfig.LookupProxy("myapp.cache.Missing")
	fmt.Println(err != nil)
	// Output:
	// <nil>
	// *pyconfig_test.exampleReadOnly found=false
	// true
}
