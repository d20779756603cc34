package pyconfig_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
)

// pxNamed is a pass-through proxy that knows its name.
type pxNamed struct {
	driver.ProxyBackend
	name string
}

func pxNaming(name string) driver.Proxy {
	return func(next driver.Backend) driver.Backend {
		return &pxNamed{ProxyBackend: driver.ProxyBackend{Next: next}, name: name}
	}
}

const (
	pxRegA = "test.proxy.a"
	pxRegB = "test.proxy.b"
)

func init() {
	pyconfig.RegisterProxy(pxRegA, pxNaming("A"))
	pyconfig.RegisterProxy(pxRegB, pxNaming("B"))
}

func pxPanics(f func()) (msg string, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			msg, panicked = fmt.Sprint(p), true
		}
	}()
	f()
	return "", false
}

// pxKinds are the backends the proxies are checked on.
var pxKinds = []struct {
	name, backend string
	inner         reflect.Type
}{
	{"values", memory.Name, reflect.TypeOf(&memory.Backend{})},
	{"bytes", memory.BytesName, reflect.TypeOf(&memory.BytesBackend{})},
}

func TestRegisterProxy(t *testing.T) {
	p, err := pyconfig.LookupProxy(pxRegA)
	if err != nil || p == nil {
		t.Fatalf("LookupProxy(%s) = %v, %v", pxRegA, p, err)
	}
	if b, ok := p(must(memory.New(memory.Options{}))).(*pxNamed); !ok || b.name != "A" {
		t.Errorf("registered proxy builds %T", p(must(memory.New(memory.Options{}))))
	}
	_, err = pyconfig.LookupProxy("test.proxy.missing")
	if err == nil || !strings.Contains(err.Error(), `"test.proxy.missing"`) || !strings.Contains(err.Error(), pxRegA) ||
		strings.HasPrefix(err.Error(), "dogpile") {
		t.Errorf("LookupProxy(missing) = %v, want an error naming it and the registered ones", err)
	}
	if !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Errorf("LookupProxy(missing) = %v, want it to wrap ErrInvalidArgument", err)
	}
	for name, f := range map[string]func(){
		"duplicate": func() { pyconfig.RegisterProxy(pxRegA, pxNaming("again")) },
		"empty":     func() { pyconfig.RegisterProxy("", pxNaming("empty")) },
		"nil":       func() { pyconfig.RegisterProxy("test.proxy.nil", nil) },
	} {
		if msg, panicked := pxPanics(f); !panicked || !strings.HasPrefix(msg, "dogpile/pyconfig: ") {
			t.Errorf("%s: panicked %v with %q", name, panicked, msg)
		}
	}
	if _, err := pyconfig.LookupProxy("test.proxy.nil"); err == nil {
		t.Error("a refused proxy was registered")
	}
	if p, _ := pyconfig.LookupProxy(pxRegA); p(must(memory.New(memory.Options{}))).(*pxNamed).name != "A" {
		t.Error("a refused duplicate replaced the registered proxy")
	}
}

// The wrap key of ConfigureFromConfig: names (text or a list), Proxy
// values, outermost first.
func TestConfigureFromConfigWrap(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		wrap  any
		outer []string // the proxies from outside in
	}{
		{"comma-separated names", " test.proxy.a , test.proxy.b ", []string{"A", "B"}},
		{"one name", pxRegB, []string{"B"}},
		{"names in reverse", "test.proxy.b,test.proxy.a", []string{"B", "A"}},
		{"a name per line", "\ntest.proxy.a\ntest.proxy.b", []string{"A", "B"}},
		{"list of names", []string{pxRegA, pxRegB}, []string{"A", "B"}},
		{"[]any of names and proxies", []any{pxRegA, pxNaming("X")}, []string{"A", "X"}},
		{"[]Proxy", []driver.Proxy{pxNaming("X"), pxNaming("Y")}, []string{"X", "Y"}},
		{"one Proxy", pxNaming("X"), []string{"X"}},
		{"a func", func(next driver.Backend) driver.Backend { return pxNaming("F")(next) }, []string{"F"}},
		{"empty text", "", nil},
		{"None", "None", nil},
		{"nil", nil, nil},
		{"empty list", []string{}, nil},
	}
	for _, tt := range tests {
		for _, kind := range pxKinds {
			t.Run(tt.name+"/"+kind.name, func(t *testing.T) {
				r := dogpile.NewRegion()
				err := pyconfig.ConfigureFromConfig(r, map[string]any{
					"cache.example.backend": kind.backend,
					"cache.example.wrap":    tt.wrap,
				}, "cache.example.")
				if err != nil {
					t.Fatal(err)
				}
				b := r.Backend()
				var got []string
				for {
					c, ok := b.(*pxNamed)
					if !ok {
						break
					}
					got = append(got, c.name)
					b = c.Proxied()
				}
				if !slices.Equal(got, tt.outer) {
					t.Errorf("proxies %q, want %q", got, tt.outer)
				}
				if actual := driver.Unwrap(r.Backend()); b != actual || reflect.TypeOf(actual) != kind.inner {
					t.Errorf("innermost %T is not the backend %T the region opened", b, actual)
				}
				if err := r.Set(ctx, "k", "v"); err != nil {
					t.Fatal(err)
				}
				if v, ok, err := dogpile.Get[string](ctx, r, "k"); err != nil || !ok || v != "v" {
					t.Errorf("Get through the proxies = %q, %v, %v", v, ok, err)
				}
			})
		}
	}
}

func TestConfigureFromConfigWrapErrors(t *testing.T) {
	tests := []struct {
		name string
		wrap any
		want string
	}{
		{"unknown name", "test.proxy.a, test.proxy.nope", `"test.proxy.nope"`},
		{"unknown name in a list", []string{"test.proxy.nope"}, `"test.proxy.nope"`},
		{"number", 5, "cache.example.wrap"},
		{"bool text", "true", "cache.example.wrap"},
		{"list of numbers", []any{1}, "cache.example.wrap"},
		{"nil Proxy", []driver.Proxy{nil}, "nil proxy"},
		{"nil in []any", []any{driver.Proxy(nil)}, "nil proxy"},
		{"nil func in []any", []any{(func(driver.Backend) driver.Backend)(nil)}, "nil proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dogpile.NewRegion()
			err := pyconfig.ConfigureFromConfig(r, map[string]any{
				"cache.example.backend": memory.Name,
				"cache.example.wrap":    tt.wrap,
			}, "cache.example.")
			if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalidArgument mentioning %s", err, tt.want)
			}
			cfgCheckPrefix(t, err)
			if n := strings.Count(err.Error(), dogpile.ErrInvalidArgument.Error()); n != 1 {
				t.Errorf("error %q says %q %d times", err, dogpile.ErrInvalidArgument, n)
			}
			if r.IsConfigured() {
				t.Error("region configured after an error")
			}
		})
	}
}

// Replacing a wrapped backend drops the old proxies.
func TestProxyReplaceBackend(t *testing.T) {
	r := dogpile.NewRegion()
	if err := r.Configure(memory.Name, dogpile.Config{Wrap: []driver.Proxy{pxNaming("A")}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Backend().(*pxNamed); !ok {
		t.Fatalf("Backend() = %T, want the proxy", r.Backend())
	}
	if err := pyconfig.ConfigureFromConfig(r, map[string]any{
		"p.backend": memory.BytesName, "p.replace_existing_backend": "true",
	}, "p."); err != nil {
		t.Fatal(err)
	}
	b := r.Backend()
	if _, ok := b.(*memory.BytesBackend); !ok {
		t.Errorf("Backend() = %T after replacement without wrap", b)
	}
	if actual := driver.Unwrap(b); actual != b {
		t.Errorf("Unwrap(Backend()) = %T, want the new backend", actual)
	}
}
