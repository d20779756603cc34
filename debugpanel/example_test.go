package debugpanel_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"time"

	"github.com/dogpilego/dogpile/debugpanel"
	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
)

// A Recorder in a context collects the operations of the calls made with
// it; its statistics count multi-key operations per key.
func ExampleRecorder() {
	region := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithObserver(debugpanel.Observer{}))
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Hour}); err != nil {
		log.Fatal(err)
	}
	rec := debugpanel.NewRecorder(debugpanel.Limits{})
	ctx := debugpanel.NewContext(context.Background(), rec)

	load := func(context.Context) (string, error) { return "ann", nil }
	_, _ = dogpile.GetOrCreate(ctx, region, "user:1", load) // created
	_, _ = dogpile.GetOrCreate(ctx, region, "user:1", load) // hit
	_, _ = dogpile.GetMulti[string](ctx, region, []string{"user:1", "user:2", "user:3"})

	st := rec.Stats()
	fmt.Printf("%d ops: %d hits, %d misses, %d created\n", st.Ops, st.Hits, st.Misses, st.Created)
	for _, s := range st.ByOp {
		fmt.Printf("%-14s calls=%d keys=%d hits=%d misses=%d created=%d\n", s.Op, s.Calls, s.Keys, s.Hits, s.Misses, s.Created)
	}
	for _, o := range rec.Operations() {
		fmt.Println(o.Op, o.Keys, o.Results)
	}
	// Output:
	// 4 ops: 2 hits, 2 misses, 1 created
	// get_multi      calls=1 keys=3 hits=1 misses=2 created=0
	// get_or_create  calls=2 keys=2 hits=1 misses=0 created=1
	// create         calls=1 keys=1 hits=0 misses=0 created=1
	// get_or_create [user:1] [created]
	// create [user:1] [created]
	// get_or_create [user:1] [hit]
	// get_multi [user:1 user:2 user:3] [hit miss miss]
}

// ServerTiming formats a request's statistics as a Server-Timing header:
// each metric's duration is its own time, so that no moment counts twice
// (get_or_create's 3.1 ms leave out the 2.6 ms of its creators).
func ExampleServerTiming() {
	st := debugpanel.Stats{
		Ops: 14, Hits: 9, Misses: 1, Created: 2, CacheTime: 520 * time.Microsecond, CreateTime: 2600 * time.Microsecond,
		ByOp: []debugpanel.OpStats{
			{Layer: debugpanel.LayerRegion, Op: "get_or_create", Calls: 11, Hits: 9, Created: 2, Time: 3100 * time.Microsecond, Self: 500 * time.Microsecond},
			{Layer: debugpanel.LayerRegion, Op: "get", Calls: 1, Misses: 1, Time: 20 * time.Microsecond, Self: 20 * time.Microsecond},
			{Layer: debugpanel.LayerRegion, Op: "create", Calls: 2, Created: 2, Time: 2600 * time.Microsecond, Self: 2600 * time.Microsecond},
		},
	}
	for part := range strings.SplitSeq(debugpanel.ServerTiming(st), ", dogpile-") {
		fmt.Println(part)
	}
	// Output:
	// dogpile;dur=0.520;desc="14 ops, 9 hits, 1 miss, 2 created"
	// get_or_create;dur=0.500;desc="11 calls, 9 hits, 2 created"
	// get;dur=0.020;desc="1 call, 1 miss"
	// create;dur=2.600;desc="2 calls, 2 created"
}

// The middleware records every request; the panel, mounted at /_dogpile/,
// shows them to the clients its Guard admits, and only they get the
// Server-Timing header.
func ExamplePanel() {
	region := dogpile.NewRegion(dogpile.WithName("pages"), dogpile.WithObserver(debugpanel.Observer{}))
	if err := region.Configure("dogpile.cache.memory", dogpile.Config{ExpirationTime: time.Minute}); err != nil {
		log.Fatal(err)
	}
	panel := debugpanel.New(debugpanel.Options{
		// The application's own check of a signed-in developer goes here.
		Guard: func(r *http.Request) bool { return r.Header.Get("X-Developer") == "yes" },
	})
	mux := http.NewServeMux()
	mux.Handle("/_dogpile/", panel)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		html, _ := dogpile.GetOrCreate(r.Context(), region, "home", func(context.Context) (string, error) {
			return "<h1>home</h1>", nil
		})
		_, _ = io.WriteString(w, html)
	})
	srv := httptest.NewServer(panel.Middleware(mux))
	defer srv.Close()

	get := func(path string, developer bool) *http.Response {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			log.Fatal(err)
		}
		if developer {
			req.Header.Set("X-Developer", "yes")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := get("/", true)
	// The first metric, without its duration, which varies.
	first, _, _ := strings.Cut(resp.Header.Get("Server-Timing"), `", `)
	fmt.Println("developer:", regexp.MustCompile(`dur=[0-9.]+`).ReplaceAllString(first+`"`, "dur=…"))
	resp = get("/", false)
	fmt.Printf("stranger: %q\n", resp.Header.Get("Server-Timing"))

	fmt.Println("panel for a stranger:", get("/_dogpile/", false).StatusCode)
	fmt.Println("panel for the developer:", get("/_dogpile/", true).StatusCode)

	for _, req := range panel.Requests() {
		fmt.Println(req.Method, req.Path, req.Status, req.Stats.Ops, "ops")
	}
	// Output:
	// developer: dogpile;dur=…;desc="2 ops, 1 created"
	// stranger: ""
	// panel for a stranger: 403
	// panel for the developer: 200
	// GET / 200 1 ops
	// GET / 200 2 ops
}
