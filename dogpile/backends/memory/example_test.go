package memory_test

import (
	"context"
	"fmt"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
)

func ExampleNew() {
	b := memory.New()
	r := dogpile.NewRegion()
	if err := r.ConfigureBackend(b, dogpile.Config{}); err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = r.Set(ctx, "a", 1)
	_ = r.Set(ctx, "b", 2)
	fmt.Println(b.Len())
	// Output:
	// 2
}
