package main

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/internal/paneltest"
)

// TestBrowser loads the demo site in headless Chromium, pages rendered
// with pongo2 and with html/template, then its debug panel at /_dogpile/,
// and checks the panel's rows, key filter and sorting (internal/paneltest),
// saving screenshots (under $DOGPILE_ARTIFACTS when set).
func TestBrowser(t *testing.T) {
	s := newTestSite(t, time.Millisecond, nil)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	b := paneltest.Open(t, srv.URL, srv.Client())
	for _, path := range []string{"/", "/archive", "/", "/posts/1"} {
		b.Visit(path)
	}
	if nav := b.Text("nav"); nav == "" {
		t.Fatal("the site rendered no navigation")
	}
	b.CheckPanel()
}
