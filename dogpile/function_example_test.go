package dogpile_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
)

// exampleUser is what exampleLoadUser loads.
type exampleUser struct {
	ID   int
	Name string
}

var exampleLoads int

// exampleLoadUser stands for a slow database query.
func exampleLoadUser(_ context.Context, id int) (exampleUser, error) {
	exampleLoads++
	return exampleUser{ID: id, Name: fmt.Sprintf("user%d", id)}, nil
}

func ExampleCache1() {
	// Regions and cached functions are declared at start-up, before the
	// configuration is known.
	users := dogpile.NewRegion(dogpile.WithName("users"))
	loadUser := dogpile.Cache1(users, exampleLoadUser, dogpile.Expiration(10*time.Minute))

	if err := users.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		panic(err)
	}
	ctx := context.Background()
	for range 3 {
		u, err := loadUser.Call(ctx, 42)
		if err != nil {
			panic(err)
		}
		fmt.Println(u.Name)
	}
	fmt.Println("loads:", exampleLoads)
	// The key names the function by its package path and name.
	fmt.Println(mustKey(loadUser.Key(42)))

	// Invalidate forgets one value; Set replaces it.
	_ = loadUser.Invalidate(ctx, 42)
	_, _ = loadUser.Call(ctx, 42)
	fmt.Println("loads:", exampleLoads)
	_ = loadUser.Set(ctx, exampleUser{ID: 42, Name: "renamed"}, 42)
	u, found, _ := loadUser.Get(ctx, 42)
	fmt.Println(u.Name, found)
	// Output:
	// user42
	// user42
	// user42
	// loads: 1
	// github.com/dogpilego/dogpile/dogpile_test:exampleLoadUser|42
	// loads: 2
	// renamed true
}

func ExampleCache2() {
	region := dogpile.NewRegion()
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{}); err != nil {
		panic(err)
	}
	// FuncName gives the keys of a Python function cached with
	// @region.cache_on_arguments(namespace="v2") in module myapp.search:
	// arguments are written as Python's str() writes them.
	search := dogpile.Cache2(region, func(_ context.Context, query string, exact bool) ([]string, error) {
		return []string{query}, nil
	}, dogpile.FuncName("myapp.search", "search"), dogpile.Namespace("v2"))
	fmt.Println(mustKey(search.Key("green tea", true)))
	// Output:
	// myapp.search:search|v2|green tea True
}

func ExampleCacheMulti() {
	region := dogpile.NewRegion()
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{}); err != nil {
		panic(err)
	}
	known := map[string]int{"tea": 300, "coffee": 600, "milk": 400}
	// The function gets only the arguments whose values are missing, in the
	// caller's order and without duplicates, and returns a value for each
	// it knows. Arguments it leaves out (unknown skus) are neither cached
	// nor returned, so they are asked for again next time.
	prices := dogpile.CacheMulti(region, func(_ context.Context, skus []string) (map[string]int, error) {
		fmt.Println("querying", skus)
		out := make(map[string]int, len(skus))
		for _, sku := range skus {
			if p, ok := known[sku]; ok {
				out[sku] = p
			}
		}
		return out, nil
	}, dogpile.FuncName("shop", "prices"), dogpile.Namespace("eur"))

	ctx := context.Background()
	p, _ := prices.Call(ctx, "tea", "coffee", "cake")
	fmt.Println(p)
	p, _ = prices.Call(ctx, "milk", "tea", "milk", "cake")
	fmt.Println(p)
	fmt.Println(strings.Join(mustKey(prices.Keys("tea", "milk")), " "))
	// Output:
	// querying [tea coffee cake]
	// map[coffee:600 tea:300]
	// querying [milk cake]
	// map[milk:400 tea:300]
	// shop:prices|eur|tea shop:prices|eur|milk
}

func ExampleToStr() {
	for _, v := range []any{"plain text", 42, true, nil, 2.0, 1e16, []any{1, "a"}, map[string]int{"b": 2, "a": 1}, []byte("ab")} {
		fmt.Println(mustStr(dogpile.ToStr(v)))
	}
	// Output:
	// plain text
	// 42
	// True
	// None
	// 2.0
	// 1e+16
	// [1, 'a']
	// {'a': 1, 'b': 2}
	// b'ab'
}
