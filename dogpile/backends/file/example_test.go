//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/file"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

// A region on a file store. Every process that configures a region with the
// same filename shares its values and, through the dogpile lock file, its
// creations.
func Example() {
	dir, err := os.MkdirTemp("", "dogpile-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	region := dogpile.NewRegion(dogpile.WithName("users"))
	err = region.Configure("dogpile.cache.dbm", dogpile.Config{
		ExpirationTime: time.Hour,
		Arguments:      map[string]any{"filename": filepath.Join(dir, "users.db")},
	})
	if err != nil {
		panic(err)
	}
	defer region.Close()

	ctx := context.Background()
	lookup := func(ctx context.Context) (string, error) {
		fmt.Println("looking up user 42")
		return "Ada", nil
	}
	for range 2 {
		name, err := dogpile.GetOrCreate(ctx, region, "user:42", lookup)
		if err != nil {
			panic(err)
		}
		fmt.Println(name)
	}
	// Output:
	// looking up user 42
	// Ada
	// Ada
}

// Open builds the backend directly, with options that have no argument
// name, and hands it to a region.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "dogpile-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	b, err := file.Open(filepath.Join(dir, "cache.db"), file.WithSyncWrites())
	if err != nil {
		panic(err)
	}
	region := dogpile.NewRegion()
	if err := region.ConfigureBackend(b, dogpile.Config{ExpirationTime: time.Minute}); err != nil {
		panic(err)
	}
	defer region.Close() // closes b

	ctx := context.Background()
	if err := region.Set(ctx, "greeting", "hello"); err != nil {
		panic(err)
	}
	v, found, err := dogpile.Get[string](ctx, region, "greeting")
	fmt.Println(v, found, err)
	// Output:
	// hello true <nil>
}

// Options are checked before anything is created: a store its owner could
// not read and write is refused.
func ExampleWithFileMode() {
	dir, err := os.MkdirTemp("", "dogpile-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	_, err = file.Open(filepath.Join(dir, "cache.db"), file.WithFileMode(0o440))
	fmt.Println(err)
	fmt.Println(errors.Is(err, driver.ErrInvalidArgument))

	b, err := file.Open(filepath.Join(dir, "cache.db"), file.WithFileMode(0o660)) // shared with the group
	if err != nil {
		panic(err)
	}
	defer b.Close()
	fmt.Println(filepath.Base(b.Path()))
	// Output:
	// file: invalid argument: file mode 0440, want one that lets the owner read and write (0o600)
	// true
	// cache.db
}
