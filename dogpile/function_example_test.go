package dogpile_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
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
	loadUser := dogpile.Cache1(users, exampleLoadUser, dogpile.FuncExpiration(10*time.Minute))

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
	fmt.Println(loadUser.Key(42))

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

func ExampleCacheMulti() {
	region := dogpile.NewRegion()
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{}); err != nil {
		panic(err)
	}
	// The function gets only the arguments whose values are missing, in the
	// caller's order and without duplicates, and returns one value for
	// each, in order.
	prices := dogpile.CacheMulti(region, func(_ context.Context, skus []string) ([]int, error) {
		fmt.Println("querying", skus)
		out := make([]int, len(skus))
		for i, sku := range skus {
			out[i] = 100 * len(sku)
		}
		return out, nil
	}, dogpile.FuncName("shop", "prices"), dogpile.Namespace("eur"))

	ctx := context.Background()
	p, _ := prices.Call(ctx, "tea", "coffee")
	fmt.Println(p)
	p, _ = prices.Call(ctx, "milk", "tea", "milk", "coffee")
	fmt.Println(p)
	fmt.Println(strings.Join(prices.Keys("tea", "milk"), " "))
	// Output:
	// querying [tea coffee]
	// [300 600]
	// querying [milk]
	// [400 300 400 600]
	// shop:prices|eur|tea shop:prices|eur|milk
}

func ExampleCacheMultiMap() {
	region := dogpile.NewRegion()
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{}); err != nil {
		panic(err)
	}
	known := map[int]string{1: "ada", 2: "grace"}
	// The function returns a map; arguments it leaves out (unknown ids) are
	// neither cached nor returned, so they are asked for again next time.
	names := dogpile.CacheMultiMap(region, func(_ context.Context, ids []int) (map[int]string, error) {
		fmt.Println("querying", ids)
		out := make(map[int]string)
		for _, id := range ids {
			if name, ok := known[id]; ok {
				out[id] = name
			}
		}
		return out, nil
	}, dogpile.FuncName("people", "names"))

	ctx := context.Background()
	m, _ := names.Call(ctx, 1, 2, 3)
	fmt.Println(m)
	m, _ = names.Call(ctx, 1, 3)
	fmt.Println(m)
	// Output:
	// querying [1 2 3]
	// map[1:ada 2:grace]
	// querying [3]
	// map[1:ada]
}
