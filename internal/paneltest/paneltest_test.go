package paneltest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserBasics drives a small page: typing, clicking, reading text,
// scripts with arguments, screenshots, and a missing element.
func TestBrowserBasics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><title>paneltest</title>
<input id="in"><button id="b">go</button><p id="out"></p><p id="hidden" hidden>secret</p>
<script>document.getElementById("b").onclick = function () {
  document.getElementById("out").textContent = "got " + document.getElementById("in").value;
};</script>`)
	}))
	defer srv.Close()
	b := Open(t, srv.URL, srv.Client())
	b.Visit("/")
	if title := run(b, "title", chromedp.Title()); title != "paneltest" {
		t.Fatalf("title %q", title)
	}
	b.typeInto("#in", "dog")
	b.typeInto("#in", "dogpile") // replaces what was typed
	b.click("#b")
	if txt := b.Text("#out"); txt != "got dogpile" {
		t.Fatalf("text %q", txt)
	}
	if txt := b.Text("#hidden"); txt != "" {
		t.Errorf("hidden element's text %q", txt)
	}
	var sum int
	b.Script("return arguments[0] + arguments[1]", []any{40, 2}, &sum)
	var quoted string
	b.Script("return arguments[0]", []any{`</script>"'`}, &quoted)
	if sum != 42 || quoted != `</script>"'` {
		t.Fatalf("scripts returned %d and %q", sum, quoted)
	}
	// A missing element is an error once the deadline passes, not a hang.
	ctx, cancel := context.WithTimeout(b.ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#absent"))); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("absent element: %v", err)
	}
	dir := t.TempDir()
	t.Setenv("DOGPILE_ARTIFACTS", dir)
	b.Screenshot("paneltest.png")
	png, err := os.ReadFile(filepath.Join(dir, "paneltest.png"))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n")) {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
}

// TestMissingChromium runs Open where no Chromium can be found: under
// CI=true the test fails, elsewhere it is skipped.
func TestMissingChromium(t *testing.T) {
	if os.Getenv("PANELTEST_CHILD") == "1" {
		Open(t, "http://127.0.0.1:1", http.DefaultClient)
		t.Fatal("Open returned without a browser")
	}
	for _, c := range []struct {
		ci, want string
		fails    bool
	}{
		{"true", "--- FAIL: TestMissingChromium", true},
		{"", "--- SKIP: TestMissingChromium", false},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingChromium$", "-test.v")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "CI=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "PATH="+t.TempDir(), "PANELTEST_CHILD=1", "CI="+c.ci)
		out, err := cmd.CombinedOutput()
		if (err != nil) != c.fails || !strings.Contains(string(out), c.want) || !strings.Contains(string(out), "no chromium in PATH") {
			t.Errorf("CI=%q: %v\n%s", c.ci, err, out)
		}
	}
}

// brokenTimeline is a panel whose timeline draws a nested row's bar
// outside its parent's, without indenting it.
func brokenTimeline() http.Handler {
	mux := http.NewServeMux()
	key := "tmpl:a.html:x:0123456789abcdef0123456789abcdef"
	mux.HandleFunc("/_dogpile/requests/1.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"duration_ms": 10, "operations": [
			{"seq": 1, "layer": "region", "op": "get_or_create", "keys": ["`+key+`"], "results": ["created"], "key_count": 1,
			 "start_ms": 0, "duration_ms": 5, "template": "a.html", "fragment": "x"},
			{"seq": 2, "layer": "region", "op": "get", "keys": ["post:1"], "results": ["hit"], "key_count": 1,
			 "start_ms": 1, "duration_ms": 2, "template": "a.html", "fragment": "x", "parent": "`+key+`", "depth": 1}]}`)
	})
	mux.HandleFunc("/_dogpile/requests/1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		row := func(id, seq, depth, left, width string) string {
			return `id="` + id + `" class="tl-row" data-seq="` + seq + `" data-kind="op" data-depth="` + depth + `" style="display:flex">` +
				`<span class="tl-label" style="width:200px"><span class="tl-name">op</span></span>` +
				`<span class="tl-track" style="position:relative;width:1000px;height:20px">` +
				`<span class="tl-bar" style="position:absolute;height:10px;left:` + left + `;width:` + width + `"></span></span>`
		}
		_, _ = io.WriteString(w, `<!doctype html><title>broken</title><button id="tl-expand">expand</button><div id="timeline">`+
			`<details open><summary `+row("t1", "1", "0", "0%", "50%")+`</summary><div class="tl-kids">`+
			`<div `+row("t2", "2", "1", "60%", "20%")+`</div></div></details></div>`)
	})
	return mux
}

// TestCheckTimelineFails: CheckTimeline fails on a timeline whose
// nested bar lies outside its parent's, unindented and off its time.
func TestCheckTimelineFails(t *testing.T) {
	if os.Getenv("PANELTEST_BROKEN") == "1" {
		srv := httptest.NewServer(brokenTimeline())
		defer srv.Close()
		Open(t, srv.URL, srv.Client()).CheckTimeline(1, "broken")
		return
	}
	if _, err := FindChromium(); err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckTimelineFails$", "-test.v")
	cmd.Env = append(os.Environ(), "PANELTEST_BROKEN=1", ArtifactsEnv+"="+t.TempDir())
	out, err := cmd.CombinedOutput()
	for _, want := range []string{"--- FAIL: TestCheckTimelineFails", "operation 2's bar starts at", "is not indented under row t1", "row t2's bar [", "is not within row t1's"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the check's output lacks %q (%v):\n%s", want, err, out)
		}
	}
}
