package main

import (
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"user.Call(7): {7 user-7} in",
		"(function ran 1×)\n  user.Call(7): {7 user-7} in",
		"key: shop.users:load_user|7",
		"20 concurrent user.Call(8): function ran 1×",
		`search.Call("redis", 1): [redis result 1 redis result 2]`,
		"key: shop.search:search|redis 2",
		"the function was asked for [tea coffee]",
		"the function was asked for [cocoa mate]",
		"(cached); the function was asked for nothing",
		"keys: shop.catalog:prices|tea  shop.catalog:prices|mate",
		"after user.Set({7 Ann (renamed)}, 7), user.Call(7): {7 Ann (renamed)} in",
		"user.Get(9) never calls the function: {0 }, found=false",
		"user.Get(7): {7 Ann (renamed)}, found=true",
		"prices.Call(tea, coffee): map[coffee:7.5 tea:3.75] in",
		"prices.Get(tea, coffee, cocoa): map[cocoa:6.25], found=[false false true]",
		"The functions ran: loadUser 4×, search 2×, prices 2×.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// A second call of the same arguments is served from the cache.
	if n := strings.Count(got, "(cached)"); n != 4 {
		t.Errorf("%d cached calls, want 4:\n%s", n, got)
	}
	if t.Failed() {
		t.Log(got)
	}
}
