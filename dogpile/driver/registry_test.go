package driver_test

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/backends/memory"
	"github.com/dogpilego/dogpile/dogpile/backends/null"
	"github.com/dogpilego/dogpile/dogpile/driver"
)

const (
	regFailingBackend   = "test.backend.failing"
	regNilBackend       = "test.backend.nil"
	regRecordingBackend = "test.backend.recording"
)

var errRegFactory = errors.New("factory refused")

// regRecorded is a memory backend that keeps the Arguments its factory
// received. It takes any argument names.
type regRecorded struct {
	*memory.Backend
	args driver.Arguments
}

func init() {
	driver.Register(regFailingBackend, func(driver.Arguments) (driver.Backend, error) {
		return nil, errRegFactory
	})
	driver.Register(regNilBackend, func(driver.Arguments) (driver.Backend, error) {
		return nil, nil
	})
	driver.Register(regRecordingBackend, func(args driver.Arguments) (driver.Backend, error) {
		return &regRecorded{Backend: must(memory.New(memory.Options{})), args: maps.Clone(args)}, nil
	})
}

func regPanics(f func()) (msg string, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			msg, panicked = fmt.Sprint(p), true
		}
	}()
	f()
	return "", false
}

func TestRegisterPanics(t *testing.T) {
	factory := func(driver.Arguments) (driver.Backend, error) { return null.Backend{}, nil }
	tests := []struct {
		name    string
		backend string
		factory driver.Factory
		want    string // in the panic message
	}{
		{"duplicate built-in", memory.Name, factory, memory.Name},
		{"duplicate test backend", regRecordingBackend, factory, regRecordingBackend},
		{"empty name", "", factory, "empty name"},
		{"nil factory", "test.backend.never-registered", nil, "nil factory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, panicked := regPanics(func() { driver.Register(tt.backend, tt.factory) })
			if !panicked {
				t.Fatal("Register did not panic")
			}
			if !strings.HasPrefix(msg, "dogpile/driver: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("panic %q: want the package's prefix and %q", msg, tt.want)
			}
		})
	}
	if slices.Contains(driver.Backends(), "test.backend.never-registered") {
		t.Error("a refused registration was kept")
	}
	// The refused duplicate did not replace the original factory.
	if b, err := driver.Open(memory.Name, nil); err != nil || reflect.TypeOf(b) != reflect.TypeOf(must(memory.New(memory.Options{}))) {
		t.Errorf("Open(%s) after a refused duplicate = %T, %v", memory.Name, b, err)
	}
}

func TestBackends(t *testing.T) {
	names := driver.Backends()
	if !slices.IsSorted(names) {
		t.Errorf("Backends() not sorted: %q", names)
	}
	for _, want := range []string{memory.Name, memory.BytesName, null.Name, regRecordingBackend, regFailingBackend} {
		if !slices.Contains(names, want) {
			t.Errorf("Backends() = %q lacks %s", names, want)
		}
	}
	// The result is a copy.
	names[0] = "changed"
	if driver.Backends()[0] == "changed" {
		t.Error("Backends() returns the registry's own slice")
	}
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name    string
		backend string
		args    driver.Arguments
		wantErr error // nil: no sentinel, only wantMsg
		bad     bool
		wantMsg []string
		want    any // the backend's type, when it opens
	}{
		{name: "memory", backend: memory.Name, want: &memory.Backend{}},
		{name: "memory_pickle", backend: memory.BytesName, want: &memory.BytesBackend{}},
		{name: "null", backend: null.Name, want: null.Backend{}},
		{name: "memory with nil cache_dict", backend: memory.Name, args: driver.Arguments{"cache_dict": nil}, want: &memory.Backend{}},
		{name: "unknown", backend: "no.such.backend", bad: true, wantErr: driver.ErrUnknownBackend,
			wantMsg: []string{`unknown backend "no.such.backend"`, `import _ "github.com/dogpilego/dogpile/dogpile/backends/`, memory.Name}},
		{name: "known name, missing import", backend: "dogpile.cache.memcached", bad: true, wantErr: driver.ErrUnknownBackend,
			wantMsg: []string{`"dogpile.cache.memcached"`, `import _ "github.com/dogpilego/dogpile/dogpile/backends/`}},
		{name: "valkey", backend: "dogpile.cache.valkey_cluster", bad: true, wantErr: driver.ErrUnknownBackend,
			wantMsg: []string{`"dogpile.cache.valkey_cluster"`, `import _ "github.com/dogpilego/dogpile/dogpile/backends/`}},
		{name: "factory error", backend: regFailingBackend, bad: true, wantErr: errRegFactory,
			wantMsg: []string{regFailingBackend + ": factory refused"}},
		{name: "factory returns nil", backend: regNilBackend, bad: true,
			wantMsg: []string{regNilBackend + ": ", "nil backend"}},
		{name: "memory, unknown argument", backend: memory.Name, args: driver.Arguments{"url": "x", "zzz": 1}, bad: true,
			wantErr: driver.ErrInvalidArgument, wantMsg: []string{memory.Name + ": ", `"url"`, `"zzz"`}},
		{name: "memory_pickle, unknown argument", backend: memory.BytesName, args: driver.Arguments{"expiration_time": 1}, bad: true,
			wantErr: driver.ErrInvalidArgument, wantMsg: []string{memory.BytesName + ": ", "expiration_time"}},
		{name: "null, unknown argument", backend: null.Name, args: driver.Arguments{"host": "h"}, bad: true,
			wantErr: driver.ErrInvalidArgument, wantMsg: []string{null.Name + ": ", "host"}},
		{name: "memory, cache_dict of another type", backend: memory.Name, args: driver.Arguments{"cache_dict": map[string]any{}}, bad: true,
			wantErr: driver.ErrInvalidArgument, wantMsg: []string{memory.Name + ": ", "cache_dict"}},
		{name: "memory_pickle, cache_dict of another type", backend: memory.BytesName, args: driver.Arguments{"cache_dict": map[string]driver.CachedValue{}}, bad: true,
			wantErr: driver.ErrInvalidArgument, wantMsg: []string{memory.BytesName + ": ", "cache_dict"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if errors.Is(tt.wantErr, driver.ErrUnknownBackend) && slices.Contains(driver.Backends(), tt.backend) {
				t.Skipf("%s is registered in this test binary", tt.backend)
			}
			b, err := driver.Open(tt.backend, tt.args)
			if !tt.bad {
				if err != nil {
					t.Fatal(err)
				}
				if reflect.TypeOf(b) != reflect.TypeOf(tt.want) {
					t.Errorf("Open = %T, want %T", b, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Open = %T, nil; want an error", b)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if b != nil {
				t.Errorf("backend %T returned with an error", b)
			}
			msg := err.Error()
			// The factory's own text does not begin with dogpile: Open
			// puts the backend's name in front, the region its prefix.
			if rest := strings.TrimPrefix(msg, tt.backend+": "); strings.HasPrefix(rest, "dogpile") {
				t.Errorf("error %q: the factory's text begins with dogpile", msg)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %s", msg, w)
				}
			}
			// The region refuses the same, with the dogpile prefix once,
			// and stays unconfigured.
			r := dogpile.NewRegion()
			rerr := r.Configure(tt.backend, dogpile.Config{Arguments: tt.args})
			if rerr == nil || (tt.wantErr != nil && !errors.Is(rerr, tt.wantErr)) {
				t.Errorf("Configure: err = %v, want %v", rerr, tt.wantErr)
			}
			if rerr != nil && (strings.Count(rerr.Error(), "dogpile:") != 1 || !strings.Contains(rerr.Error(), msg)) {
				t.Errorf("Configure: err = %q, want one dogpile: prefix and %q", rerr, msg)
			}
			if r.IsConfigured() {
				t.Error("region configured after an error")
			}
		})
	}
}

// TestOpenNilBackendIsInvalidBackend: a factory returning a nil backend
// without an error makes Configure fail with dogpile.ErrInvalidBackend,
// the error for a backend the region cannot use.
func TestOpenNilBackendIsInvalidBackend(t *testing.T) {
	err := dogpile.NewRegion().Configure(regNilBackend, dogpile.Config{})
	if !errors.Is(err, dogpile.ErrInvalidBackend) {
		t.Errorf("Configure(%s) = %v, want an error wrapping ErrInvalidBackend", regNilBackend, err)
	}
}

// Configure passes Arguments to the factory without changing them, and the
// factory cannot change the caller's map through them.
func TestConfigureDoesNotModifyArguments(t *testing.T) {
	args := map[string]any{"url": "127.0.0.1", "port": "6379", "list": []string{"a"}, "xyz": nil}
	before := maps.Clone(args)
	r := dogpile.NewRegion()
	if err := r.Configure(regRecordingBackend, dogpile.Config{Arguments: args}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(args, before) {
		t.Errorf("arguments modified: %#v, was %#v", args, before)
	}
	rec, ok := driver.Unwrap(r.Backend()).(*regRecorded)
	if !ok {
		t.Fatalf("backend is %T", r.Backend())
	}
	if !reflect.DeepEqual(map[string]any(rec.args), before) {
		t.Errorf("factory got %#v, want %#v", rec.args, before)
	}
	// Memory backends read cache_dict and leave the map as it was, on
	// success and on failure.
	for _, args := range []map[string]any{
		{"cache_dict": map[string]driver.CachedValue{}},
		{"cache_dict": map[string]driver.CachedValue{}, "bogus": 1},
	} {
		before := maps.Clone(args)
		_ = dogpile.NewRegion().Configure(memory.Name, dogpile.Config{Arguments: args})
		if len(args) != len(before) || !reflect.DeepEqual(args["cache_dict"], before["cache_dict"]) {
			t.Errorf("memory factory modified its arguments: %#v", args)
		}
	}
}
