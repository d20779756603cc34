package dogpile_test

import (
	"context"
	"fmt"

	"github.com/dogpilego/dogpile/dogpile"
)

func ExampleRegion_ConfigureFromConfig() {
	// Settings as an INI or environment file gives them: text, for several
	// regions at once. Each region reads the keys under its own prefix.
	settings := map[string]string{
		"cache.users.backend":                 "dogpile.cache.memory",
		"cache.users.expiration_time":         "600",
		"cache.sessions.backend":              "dogpile.cache.memory_pickle",
		"cache.sessions.expiration_time":      "None",
		"cache.sessions.arguments.cache_dict": "None",
	}
	config := make(map[string]any, len(settings))
	for k, v := range settings {
		config[k] = v
	}

	users := dogpile.NewRegion(dogpile.WithName("users"))
	if err := users.ConfigureFromConfig(config, "cache.users."); err != nil {
		fmt.Println(err)
		return
	}
	sessions := dogpile.NewRegion(dogpile.WithName("sessions"))
	if err := sessions.ConfigureFromConfig(config, "cache.sessions."); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("users expire after", users.ExpirationTime())
	fmt.Println("sessions expire after", sessions.ExpirationTime(), "(never)")

	ctx := context.Background()
	name, err := dogpile.GetOrCreate(ctx, users, "user:1", func(context.Context) (string, error) {
		return "Ada", nil
	})
	fmt.Println(name, err)

	// A misspelt key is an error, not a silent default.
	config["cache.users.expiration"] = "60"
	err = dogpile.NewRegion().ConfigureFromConfig(config, "cache.users.")
	fmt.Println(err)
	// Output:
	// users expire after 10m0s
	// sessions expire after 0s (never)
	// Ada <nil>
	// dogpile: invalid argument: unknown config keys ["cache.users.expiration"] (known after the prefix: backend, expiration_time, arguments.<name>, wrap, replace_existing_backend)
}

func ExampleCoerceString() {
	for _, s := range []string{" 3600 ", "0.5", "1e3", "FALSE", "None", "none", "127.0.0.1"} {
		v := dogpile.CoerceString(s)
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
}
