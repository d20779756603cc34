package dogpile_test

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dogpilego/dogpile/dogpile"
)

const (
	regFailingBackend = "test.backend.failing"
	regNilBackend     = "test.backend.nil"
)

var errRegFactory = errors.New("factory refused")

func init() {
	dogpile.Register(regFailingBackend, func(dogpile.Arguments) (dogpile.Backend, error) {
		return nil, errRegFactory
	})
	dogpile.Register(regNilBackend, func(dogpile.Arguments) (dogpile.Backend, error) {
		return nil, nil
	})
}

func regPanics(f func()) (msg string, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			msg, panicked = p.(string), true
		}
	}()
	f()
	return "", false
}

func TestRegisterPanics(t *testing.T) {
	factory := func(dogpile.Arguments) (dogpile.Backend, error) { return dogpile.NullBackend{}, nil }
	tests := []struct {
		name    string
		backend string
		factory dogpile.Factory
	}{
		{"duplicate built-in", "dogpile.cache.memory", factory},
		{"duplicate test backend", cfgRecordingBackend, factory},
		{"empty name", "", factory},
		{"nil factory", "test.backend.never-registered", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, panicked := regPanics(func() { dogpile.Register(tt.backend, tt.factory) })
			if !panicked {
				t.Fatal("Register did not panic")
			}
			if !strings.HasPrefix(msg, "dogpile:") {
				t.Errorf("panic %q lacks the dogpile: prefix", msg)
			}
		})
	}
	if slices.Contains(dogpile.Backends(), "test.backend.never-registered") {
		t.Error("a refused registration was kept")
	}
}

func TestBackends(t *testing.T) {
	names := dogpile.Backends()
	if !slices.IsSorted(names) {
		t.Errorf("Backends() not sorted: %q", names)
	}
	for _, want := range []string{"dogpile.cache.memory", "dogpile.cache.memory_pickle", "dogpile.cache.null", cfgRecordingBackend} {
		if !slices.Contains(names, want) {
			t.Errorf("Backends() = %q lacks %s", names, want)
		}
	}
	// The result is a copy.
	names[0] = "changed"
	if dogpile.Backends()[0] == "changed" {
		t.Error("Backends() returns the registry's own slice")
	}
}

func TestOpenBackend(t *testing.T) {
	tests := []struct {
		name    string
		backend string
		args    dogpile.Arguments
		wantErr error
		wantMsg []string
		want    any // the backend's type, when it opens
	}{
		{name: "memory", backend: "dogpile.cache.memory", want: &dogpile.MemoryBackend{}},
		{name: "memory_pickle", backend: "dogpile.cache.memory_pickle", want: &dogpile.MemoryBytesBackend{}},
		{name: "null", backend: "dogpile.cache.null", want: dogpile.NullBackend{}},
		{name: "memory with nil cache_dict", backend: "dogpile.cache.memory", args: dogpile.Arguments{"cache_dict": nil}, want: &dogpile.MemoryBackend{}},
		{name: "unknown", backend: "no.such.backend", wantErr: dogpile.ErrUnknownBackend,
			wantMsg: []string{`"no.such.backend"`, "dogpile.cache.memory"}},
		{name: "known name, missing import", backend: "dogpile.cache.memcached", wantErr: dogpile.ErrUnknownBackend,
			wantMsg: []string{"github.com/dogpilego/dogpile/dogpile/backends/memcached"}},
		{name: "valkey", backend: "dogpile.cache.valkey_cluster", wantErr: dogpile.ErrUnknownBackend,
			wantMsg: []string{"github.com/dogpilego/dogpile/dogpile/backends/redis"}},
		{name: "factory error", backend: regFailingBackend, wantErr: errRegFactory,
			wantMsg: []string{regFailingBackend}},
		{name: "factory returns nil", backend: regNilBackend, wantErr: dogpile.ErrInvalidBackend,
			wantMsg: []string{regNilBackend}},
		{name: "memory, unknown argument", backend: "dogpile.cache.memory", args: dogpile.Arguments{"url": "x", "zzz": 1},
			wantErr: dogpile.ErrInvalidArgument, wantMsg: []string{"url", "zzz"}},
		{name: "memory_pickle, unknown argument", backend: "dogpile.cache.memory_pickle", args: dogpile.Arguments{"expiration_time": 1},
			wantErr: dogpile.ErrInvalidArgument, wantMsg: []string{"expiration_time"}},
		{name: "null, unknown argument", backend: "dogpile.cache.null", args: dogpile.Arguments{"host": "h"},
			wantErr: dogpile.ErrInvalidArgument, wantMsg: []string{"host"}},
		{name: "memory, cache_dict of another type", backend: "dogpile.cache.memory", args: dogpile.Arguments{"cache_dict": map[string]any{}},
			wantErr: dogpile.ErrInvalidArgument, wantMsg: []string{"cache_dict"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantErr == dogpile.ErrUnknownBackend && slices.Contains(dogpile.Backends(), tt.backend) {
				t.Skipf("%s is registered in this test binary", tt.backend)
			}
			b, err := dogpile.OpenBackend(tt.backend, tt.args)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if reflect.TypeOf(b) != reflect.TypeOf(tt.want) {
					t.Errorf("OpenBackend = %T, want %T", b, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if b != nil {
				t.Errorf("backend %T returned with an error", b)
			}
			if !strings.HasPrefix(err.Error(), "dogpile:") {
				t.Errorf("error %q lacks the dogpile: prefix", err)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
			// The region refuses the same and stays unconfigured.
			r := dogpile.NewRegion()
			if err := r.Configure(tt.backend, dogpile.Config{Arguments: tt.args}); !errors.Is(err, tt.wantErr) {
				t.Errorf("Configure: err = %v, want %v", err, tt.wantErr)
			}
			if r.IsConfigured() {
				t.Error("region configured after an error")
			}
		})
	}
}

// Configure passes Arguments to the factory without changing them, and the
// factory cannot change the caller's map through them.
func TestConfigureDoesNotModifyArguments(t *testing.T) {
	args := dogpile.Arguments{"url": "127.0.0.1", "port": "6379", "list": []string{"a"}, "xyz": nil}
	before := maps.Clone(args)
	r := dogpile.NewRegion()
	if err := r.Configure(cfgRecordingBackend, dogpile.Config{Arguments: args}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(args, before) {
		t.Errorf("arguments modified: %#v, was %#v", args, before)
	}
	if got := cfgArgs(t, r); !reflect.DeepEqual(got, before) {
		t.Errorf("factory got %#v, want %#v", got, before)
	}
	// Memory backends read cache_dict and leave the map as it was, on
	// success and on failure.
	for _, args := range []dogpile.Arguments{
		{"cache_dict": map[string]dogpile.CachedValue{}},
		{"cache_dict": map[string]dogpile.CachedValue{}, "bogus": 1},
	} {
		before := maps.Clone(args)
		_ = dogpile.NewRegion().Configure("dogpile.cache.memory", dogpile.Config{Arguments: args})
		if len(args) != len(before) || !reflect.DeepEqual(args["cache_dict"], before["cache_dict"]) {
			t.Errorf("memory factory modified its arguments: %#v", args)
		}
	}
}

// dogpile.cache.memory's cache_dict: the backend takes the caller's map over.
func TestMemoryCacheDict(t *testing.T) {
	ctx := context.Background()
	values := map[string]dogpile.CachedValue{}
	r := dogpile.NewRegion()
	if err := r.Configure("dogpile.cache.memory", dogpile.Config{Arguments: dogpile.Arguments{"cache_dict": values}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if cv, ok := values["k"]; !ok || cv.Payload != "v" || cv.Metadata.Version != dogpile.ValueVersion {
		t.Errorf("cache_dict[k] = %#v, %v", cv, ok)
	}

	raw := map[string][]byte{}
	rb := dogpile.NewRegion()
	if err := rb.Configure("dogpile.cache.memory_pickle", dogpile.Config{Arguments: dogpile.Arguments{"cache_dict": raw}}); err != nil {
		t.Fatal(err)
	}
	if err := rb.Set(ctx, "k", map[string]int{"x": 1}); err != nil {
		t.Fatal(err)
	}
	md, payload, err := dogpile.DecodeEntry(raw["k"])
	if err != nil || md.Version != dogpile.ValueVersion || string(payload) != `{"x":1}` {
		t.Errorf("cache_dict[k] = %q: %v %q %v", raw["k"], md, payload, err)
	}
}
