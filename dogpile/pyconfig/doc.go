// Package pyconfig is what Go programs need to share a cache with Python
// programs that use dogpile.cache: regions configured from the flat maps
// of configure_from_config, with dogpile.cache's key names and its
// coercion of strings read from .ini files; its key generators and key
// manglers; and the registry of proxies that the "wrap" setting names.
//
//	settings := map[string]any{
//		"cache.users.backend":         "dogpile.cache.redis",
//		"cache.users.expiration_time": "300",
//		"cache.users.arguments.url":   "redis://127.0.0.1:6379/0",
//	}
//	err := pyconfig.ConfigureFromConfig(users, settings, "cache.users.")
package pyconfig
