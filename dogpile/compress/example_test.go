package compress_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/compress"
)

// Large payloads are stored compressed, small ones as JSON; both decode.
func Example() {
	codec := compress.Codec(dogpile.JSON, compress.Options{MinSize: 1024})

	list := "<ul>" + strings.Repeat("<li>an item of the list</li>", 1000) + "</ul>"
	data, err := codec.Marshal(list)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("compressed:", bytes.HasPrefix(data, []byte(compress.Magic)), len(data) < len(list)/20)
	var back string
	if err := codec.Unmarshal(data, &back); err != nil {
		log.Fatal(err)
	}
	fmt.Println("read back:", back == list)

	small, _ := codec.Marshal("<p>hi</p>")
	fmt.Println("small:", string(small))
	// Output:
	// compressed: true true
	// read back: true
	// small: "\u003cp\u003ehi\u003c/p\u003e"
}

// A region whose large entries are compressed in the backend.
func ExampleCodec() {
	region := dogpile.NewRegion(dogpile.WithName("fragments"),
		dogpile.WithCodec(compress.Codec(dogpile.JSON, compress.Options{MinSize: 4096})))
	backend, err := memory.NewBytes(memory.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := region.ConfigureBackend(backend, dogpile.Config{ExpirationTime: 10 * time.Minute}); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	html, err := dogpile.GetOrCreate(ctx, region, "sidebar", func(context.Context) (string, error) {
		return strings.Repeat(`<a class="tag" href="/tags/go">go</a>`, 500), nil
	})
	if err != nil {
		log.Fatal(err)
	}
	entry, _, _ := backend.GetBytes(ctx, "sidebar")
	fmt.Println(len(html), "bytes of HTML,", "stored compressed:", len(entry) < len(html)/10)
	// Output: 18500 bytes of HTML, stored compressed: true
}
