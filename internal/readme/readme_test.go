// Package readme_test holds the test that keeps README.md true: every Go
// block compiles (a whole program) or occurs verbatim in a file of the
// repository (a marked excerpt), a program's shown output is what it
// prints, every template block parses, every .ini block configures
// regions, every path and benchmark it names exists.
package readme_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dogpilego/dogpile/dogpile"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memcached"
	_ "github.com/dogpilego/dogpile/dogpile/backends/memory"
	_ "github.com/dogpilego/dogpile/dogpile/backends/redis"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
	"github.com/dogpilego/dogpile/htmltmpl"
	"github.com/dogpilego/dogpile/pongo2ext"
	"github.com/dogpilego/dogpile/tmplcache"
)

// root is the repository's root, from this package's directory.
const root = "../.."

// A block is a fenced code block of the README.
type block struct {
	lang   string // the info string: "go", "django", "ini", ...
	body   string // the lines between the fences, each ending in "\n"
	line   int    // the line of the opening fence
	marker string // the HTML comment on the line before the fence, if any
}

// The markers a block may carry.
var (
	excerptMarker = regexp.MustCompile(`^<!-- excerpt: (\S+) -->$`)
	outputMarker  = "<!-- output -->"
)

func readBlocks(t *testing.T) []block {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out      []block
		cur      *block
		previous string
		n        int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &block{lang: strings.TrimPrefix(line, "```"), line: n}
			if strings.HasPrefix(previous, "<!--") {
				cur.marker = previous
			}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.body += line + "\n"
		}
		if strings.TrimSpace(line) != "" {
			previous = line
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("README.md:%d: the block is not closed", cur.line)
	}
	return out
}

// checkExcerpt reports whether b, marked as an excerpt, occurs verbatim in
// the file its marker names. It returns false when b is not marked.
func checkExcerpt(t *testing.T, b block) bool {
	t.Helper()
	m := excerptMarker.FindStringSubmatch(b.marker)
	if m == nil {
		return false
	}
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m[1])))
	if err != nil {
		t.Errorf("README.md:%d: excerpt of a file that cannot be read: %v", b.line, err)
		return true
	}
	if !strings.Contains(string(src), b.body) {
		t.Errorf("README.md:%d: the excerpt does not occur verbatim in %s:\n%s", b.line, m[1], b.body)
	}
	return true
}

// TestGoBlocks builds every Go block that is not an excerpt, as a program
// of its own in a directory of this package that exists only in the
// build's overlay, and runs those whose output the README shows.
func TestGoBlocks(t *testing.T) {
	blocks := readBlocks(t)
	abs, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	overlay := map[string]string{}
	var pkgs []string
	outputs := map[string]string{} // package → the output the README shows
	isProgram := map[int]bool{}    // by index in blocks
	for i, b := range blocks {
		if b.lang != "go" {
			continue
		}
		if checkExcerpt(t, b) {
			continue
		}
		if !strings.HasPrefix(b.body, "package main\n") {
			t.Errorf("README.md:%d: a Go block is a whole program (package main) or is marked <!-- excerpt: path -->", b.line)
			continue
		}
		isProgram[i] = true
		name := fmt.Sprintf("block%d", b.line)
		file := filepath.Join(tmp, name+".go")
		if err := os.WriteFile(file, []byte(b.body), 0o644); err != nil {
			t.Fatal(err)
		}
		overlay[filepath.Join(abs, name, "main.go")] = file
		pkgs = append(pkgs, "./"+name)
		if i+1 < len(blocks) && blocks[i+1].marker == outputMarker {
			outputs["./"+name] = blocks[i+1].body
		}
	}
	if len(isProgram) == 0 {
		t.Fatal("README.md has no Go program")
	}
	data, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "bin") + string(filepath.Separator)
	build := exec.Command("go", append([]string{"build", "-overlay", overlayFile, "-o", bin}, pkgs...)...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of the README's programs: %v\n%s", err, out)
	}
	for pkg, want := range outputs {
		out, err := exec.Command(filepath.Join(bin, filepath.Base(pkg))).Output()
		if err != nil {
			t.Errorf("go run of README.md's %s: %v\n%s", pkg, err, out)
			continue
		}
		if string(out) != want {
			t.Errorf("README.md's program %s prints\n%s\nthe README shows\n%s", pkg, out, want)
		}
	}
	for i, b := range blocks {
		if b.marker == outputMarker && (i == 0 || !isProgram[i-1]) {
			t.Errorf("README.md:%d: an output block follows no Go program", b.line)
		}
	}
}

// TestTemplateBlocks checks that each template block is an excerpt that
// occurs in its file (whose example renders it), or parses: a pongo2
// ("django") block with a set NewSet makes, the Mako spelling included, an
// html/template ("gotemplate") block with the fragment funcs.
func TestTemplateBlocks(t *testing.T) {
	r := dogpile.NewRegion()
	if err := r.Configure("dogpile.cache.memory", dogpile.Config{}); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := tmplcache.New(r)
	defer c.Close()
	set := pongo2ext.NewSet("readme", c)
	n := 0
	for _, b := range readBlocks(t) {
		switch b.lang {
		case "django":
			n++
			if checkExcerpt(t, b) {
				continue
			}
			if _, err := set.FromString(b.body); err != nil {
				t.Errorf("README.md:%d: pongo2 block: %v", b.line, err)
			}
		case "gotemplate":
			n++
			if checkExcerpt(t, b) {
				continue
			}
			if _, err := template.New("readme").Funcs(htmltmpl.FuncMap()).Parse(b.body); err != nil {
				t.Errorf("README.md:%d: html/template block: %v", b.line, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("README.md has no template block")
	}
}

// TestINIBlocks reads every .ini block as the demo and pyconfig users do
// and configures the regions it declares (no server is contacted).
func TestINIBlocks(t *testing.T) {
	n := 0
	for _, b := range readBlocks(t) {
		if b.lang != "ini" {
			continue
		}
		n++
		file := filepath.Join(t.TempDir(), "app.ini")
		if err := os.WriteFile(file, []byte(b.body), 0o644); err != nil {
			t.Fatal(err)
		}
		settings, err := pyconfig.ReadINI(file, "app:main")
		if err != nil {
			t.Errorf("README.md:%d: %v", b.line, err)
			continue
		}
		c, err := tmplcache.FromConfig(settings, "cache.")
		if err != nil {
			t.Errorf("README.md:%d: %v", b.line, err)
			continue
		}
		if len(c.RegionNames()) == 0 {
			t.Errorf("README.md:%d: the .ini block declares no region", b.line)
		}
		c.Close()
	}
	if n == 0 {
		t.Fatal("README.md has no .ini block")
	}
}

// TestPaths checks that the files and directories the README links to, and
// those its shell commands name, exist.
func TestPaths(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, m := range regexp.MustCompile(`\]\(([^)#:\s,]+)\)`).FindAllStringSubmatch(string(src), -1) {
		paths = append(paths, m[1])
	}
	for _, b := range readBlocks(t) {
		if b.lang != "sh" {
			continue
		}
		for _, m := range regexp.MustCompile(`(?:^|\s)(\./\S+|examples/\S+)`).FindAllStringSubmatch(b.body, -1) {
			p, _, _ := strings.Cut(m[1], "#")
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		t.Fatal("no paths found")
	}
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err != nil {
			t.Errorf("README.md names %s: %v", p, err)
		}
	}
}

// TestBenchmarkTable checks that every row of the benchmark table names a
// benchmark that exists: `package` `BenchmarkName/sub...` in its
// "benchmark" column.
func TestBenchmarkTable(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(src), "\n## Benchmarks\n")
	if !ok {
		t.Fatal("README.md has no Benchmarks section")
	}
	cell := regexp.MustCompile("`([a-z0-9/]+)` `(Benchmark[A-Za-z0-9_]+)[^`]*`")
	rows := 0
	for line := range strings.SplitSeq(table, "\n") {
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") || strings.HasPrefix(line, "| operation") {
			continue
		}
		rows++
		ms := cell.FindAllStringSubmatch(line, -1)
		if len(ms) == 0 {
			t.Errorf("benchmark row names no benchmark: %s", line)
		}
		for _, m := range ms {
			if !hasBenchmark(t, m[1], m[2]) {
				t.Errorf("benchmark row names %s in %s, which does not exist: %s", m[2], m[1], line)
			}
		}
	}
	if rows == 0 {
		t.Fatal("the benchmark table has no rows")
	}
}

// hasBenchmark reports whether a _test.go file of the directory dir
// (relative to the root) declares func name.
func hasBenchmark(t *testing.T, dir, name string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(dir), "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	decl := "\nfunc " + name + "(b *testing.B)"
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), decl) {
			return true
		}
	}
	return false
}
