package memcached

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// badKeys are keys memcached refuses, by name.
func badKeys(p string) map[string]string {
	return map[string]string{
		"long300":    p + strings.Repeat("a", 300),
		"long300b":   p + strings.Repeat("a", 299) + "b",
		"long10k":    p + strings.Repeat("0123456789", 1024),
		"space":      p + "user 42",
		"spaces":     p + "user  42",
		"underscore": p + "user_42 ", // the readable prefix of "user_42" with a space
		"tab":        p + "a\tb",
		"nul":        p + "a\x00b",
		"del":        p + "a\x7fb",
		"newline":    p + "a\nb",
		"injection":  p + "x\r\nflush_all\r\nset y 0 0 1",
		"unicode":    p + strings.Repeat("ключ", 40), // 320 bytes, 160 characters
		"invalid":    p + "\xff\xfe " + strings.Repeat("\xc3", 300),
		"empty":      "",
	}
}

// goodKeys are valid keys, stored as they are.
func goodKeys(p string) []string {
	return []string{
		p + "user:42",
		p + "ключ:🔑", // UTF-8: memcached counts bytes
		p + strings.Repeat("k", 250-len(p)),
		p + strings.Repeat("ж", (250-len(p))/2),
		p + "~sha256:x", // the marker without a hash
		p + "|{}[]!#$%&'()*+,-./:;<=>?@\\^`~",
	}
}

func TestMangleKey(t *testing.T) {
	for _, k := range goodKeys("p:") {
		if !ValidKey(k) || MangleKey(k) != k {
			t.Errorf("valid key %s: ValidKey %v, mangled to %q", showKey(k), ValidKey(k), MangleKey(k))
		}
	}
	seen := map[string]string{}
	for name, k := range badKeys("p:") {
		if ValidKey(k) {
			t.Errorf("%s: ValidKey(%s) is true", name, showKey(k))
		}
		m := MangleKey(k)
		if !ValidKey(m) || !looksMangled(m) || len(m) > MaxKeyLength || !utf8.ValidString(m) {
			t.Errorf("%s: MangleKey = %q (%d bytes): not a valid mangled key", name, m, len(m))
		}
		if MangleKey(k) != m {
			t.Errorf("%s: MangleKey is not deterministic", name)
		}
		if other, dup := seen[m]; dup {
			t.Errorf("%s and %s both map to %q", name, other, m)
		}
		seen[m] = name
		// A valid key that looks like m is mangled too, to another key.
		if MangleKey(m) == m {
			t.Errorf("%s: the valid key %q, shaped like a mangled key, is sent unchanged", name, m)
		}
	}
	if m := MangleKey("user 42"); !strings.HasPrefix(m, "user_42~sha256:") {
		t.Errorf("MangleKey(%q) = %q; want the readable prefix user_42", "user 42", m)
	}
	if m := MangleKey(strings.Repeat("ж", 200)); !strings.HasPrefix(m, strings.Repeat("ж", maxPrefix/2)+mangleMarker) {
		t.Errorf("a long UTF-8 key keeps %q as its prefix; want whole characters up to %d bytes", m[:len(m)-hashLen], maxPrefix)
	}
	if m := MangleKey("a\x00b\xffc\u00a0d"); !strings.HasPrefix(m, "a_b_c_d~") {
		t.Errorf("unprintable characters: %q", m)
	}
}

// FuzzMangleKey: whatever the key, the stored key is one memcached takes,
// and keys stored unchanged never look mangled.
func FuzzMangleKey(f *testing.F) {
	for _, k := range badKeys("") {
		f.Add(k)
	}
	for _, k := range goodKeys("") {
		f.Add(k)
	}
	f.Add(MangleKey("a b"))
	f.Fuzz(func(t *testing.T, k string) {
		m := MangleKey(k)
		if !ValidKey(m) {
			t.Fatalf("MangleKey(%q) = %q is not a valid key", k, m)
		}
		if m == k && looksMangled(k) {
			t.Fatalf("%q looks mangled and was kept", k)
		}
		if m != k && !looksMangled(m) {
			t.Fatalf("MangleKey(%q) = %q does not look mangled", k, m)
		}
	})
}

func TestKeys(t *testing.T) {
	t.Parallel()
	m := testserver.StartMemcached(t)
	ctx := context.Background()
	raw := rawClient(t, m.Addr)

	t.Run("Mangled", func(t *testing.T) {
		p := keyPrefix(t)
		survivor := p + "survivor"
		if err := raw.Set(memcacheItem(survivor, "still here")); err != nil {
			t.Fatal(err)
		}
		b := open(t, driver.Arguments{"url": m.Addr, "distributed_lock": true})
		bad := badKeys(p)
		stored := map[string]string{}
		for name, k := range bad {
			if err := b.SetBytes(ctx, k, []byte("value "+name)); err != nil {
				t.Fatalf("%s: SetBytes: %v", name, err)
			}
			got, ok, err := b.GetBytes(ctx, k)
			if err != nil || !ok || string(got) != "value "+name {
				t.Errorf("%s: GetBytes = %q, %v, %v; want %q", name, got, ok, err, "value "+name)
			}
			sk, err := b.StoredKey(k)
			if err != nil || sk != MangleKey(k) {
				t.Errorf("%s: StoredKey = %q, %v; want %q", name, sk, err, MangleKey(k))
			}
			if it, err := raw.Get(sk); err != nil || string(it.Value) != "value "+name || it.Flags != 0 {
				t.Errorf("%s: the server holds %v, %v under %q", name, it, err, sk)
			}
			if other, dup := stored[sk]; dup {
				t.Errorf("%s and %s share the stored key %q", name, other, sk)
			}
			stored[sk] = name
		}
		// Multi calls, mixed with a valid key.
		names := []string{"space", "long10k", "injection", "unicode"}
		keys := []string{p + "valid"}
		items := []driver.BytesItem{{Key: p + "valid", Value: []byte("valid")}}
		for _, n := range names {
			keys = append(keys, bad[n])
			items = append(items, driver.BytesItem{Key: bad[n], Value: []byte("multi " + n)})
		}
		if err := b.SetBytesMulti(ctx, items); err != nil {
			t.Fatal(err)
		}
		got, err := b.GetBytesMulti(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		for i, it := range items {
			if string(got[i]) != string(it.Value) {
				t.Errorf("GetBytesMulti entry %d = %q; want %q", i, got[i], it.Value)
			}
		}
		// The lock of a bad key, and of a valid key whose lock key is too long.
		for _, k := range []string{bad["injection"], bad["long10k"], p + strings.Repeat("k", 248-len(p))} {
			mu := b.Mutex(k)
			if ok, err := mu.Acquire(ctx, false); !ok || err != nil {
				t.Fatalf("Acquire(%s) = %v, %v", showKey(k), ok, err)
			}
			lk := MangleKey("_lock" + k)
			if _, err := raw.Get(lk); err != nil {
				t.Errorf("lock of %s: no item under %q: %v", showKey(k), lk, err)
			}
			if locked, err := b.Mutex(k).Locked(ctx); !locked || err != nil {
				t.Errorf("Locked(%s) = %v, %v", showKey(k), locked, err)
			}
			if err := mu.Release(ctx); err != nil {
				t.Error(err)
			}
		}
		if err := b.DeleteMulti(ctx, keys); err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(ctx, bad["tab"]); err != nil {
			t.Fatal(err)
		}
		if got, err := b.GetBytesMulti(ctx, append(keys, bad["tab"])); err != nil || got[1] != nil || got[3] != nil || got[5] != nil {
			t.Errorf("after the deletes: %q, %v", got, err)
		}
		if it, err := raw.Get(survivor); err != nil || string(it.Value) != "still here" {
			t.Errorf("an unrelated key did not survive the odd keys: %v, %v", it, err)
		}
	})

	t.Run("ValidUnchanged", func(t *testing.T) {
		b := open(t, driver.Arguments{"url": m.Addr})
		for _, k := range goodKeys(keyPrefix(t)) {
			if err := b.SetBytes(ctx, k, []byte("v")); err != nil {
				t.Fatalf("SetBytes(%s): %v", showKey(k), err)
			}
			if it, err := raw.Get(k); err != nil || string(it.Value) != "v" {
				t.Errorf("valid key %s was not stored as it is: %v", showKey(k), err)
			}
		}
	})

	t.Run("LooksMangled", func(t *testing.T) {
		b := open(t, driver.Arguments{"url": m.Addr})
		k := keyPrefix(t) + "x y"
		lookalike := MangleKey(k) // a valid key of its own
		for _, kv := range [][2]string{{k, "original"}, {lookalike, "lookalike"}} {
			if err := b.SetBytes(ctx, kv[0], []byte(kv[1])); err != nil {
				t.Fatal(err)
			}
		}
		for _, kv := range [][2]string{{k, "original"}, {lookalike, "lookalike"}} {
			if got, _, err := b.GetBytes(ctx, kv[0]); string(got) != kv[1] || err != nil {
				t.Errorf("GetBytes(%q) = %q, %v; want %q", kv[0], got, err, kv[1])
			}
		}
	})

	t.Run("Refused", func(t *testing.T) {
		p := keyPrefix(t)
		survivor := p + "survivor"
		if err := raw.Set(memcacheItem(survivor, "still here")); err != nil {
			t.Fatal(err)
		}
		var written atomic.Int64
		c := countingClient(m.Addr, &written)
		b := openClient(t, c, Options{RefuseInvalidKeys: true, DistributedLock: true})
		check := func(what, key string, err error) {
			t.Helper()
			if err == nil || !errors.Is(err, driver.ErrInvalidArgument) ||
				!strings.HasPrefix(err.Error(), "key ") || !strings.Contains(err.Error(), showKey(key)) {
				t.Errorf("%s(%s): %v; want an error wrapping driver.ErrInvalidArgument naming the key", what, showKey(key), err)
			}
		}
		for _, k := range badKeys(p) {
			_, _, err := b.GetBytes(ctx, k)
			check("GetBytes", k, err)
			_, err = b.GetBytesMulti(ctx, []string{p + "valid", k})
			check("GetBytesMulti", k, err)
			check("SetBytes", k, b.SetBytes(ctx, k, []byte("v")))
			check("SetBytesMulti", k, b.SetBytesMulti(ctx, []driver.BytesItem{{Key: p + "valid", Value: []byte("v")}, {Key: k, Value: []byte("v")}}))
			check("Delete", k, b.Delete(ctx, k))
			check("DeleteMulti", k, b.DeleteMulti(ctx, []string{p + "valid", k}))
			if k == "" {
				continue // its lock key, "_lock", is valid
			}
			_, err = b.Mutex(k).Acquire(ctx, true)
			check("Acquire", "_lock"+k, err)
			_, err = b.Mutex(k).Locked(ctx)
			check("Locked", "_lock"+k, err)
		}
		if n := written.Load(); n != 0 {
			t.Errorf("%d bytes were sent to the server for refused keys; want none", n)
		}
		// A key that looks mangled is a valid key: sent as it is.
		if err := b.SetBytes(ctx, MangleKey(p+"a b"), []byte("v")); err != nil {
			t.Errorf("SetBytes of a valid key shaped like a mangled one: %v", err)
		}
		if it, err := raw.Get(survivor); err != nil || string(it.Value) != "still here" {
			t.Errorf("an unrelated key did not survive: %v, %v", it, err)
		}
	})

	t.Run("Region", func(t *testing.T) {
		p := keyPrefix(t)
		long := p + strings.Repeat("arg ", 100) // a function key with 100 arguments
		b := open(t, driver.Arguments{"url": m.Addr, "distributed_lock": true})
		for _, tc := range []struct {
			name    string
			mangler func(string) string
			stored  string
		}{
			{"NoMangler", nil, MangleKey(long)},
			{"SHA1", pyconfig.SHA1MangleKey, pyconfig.SHA1MangleKey(long)},
		} {
			var opts []dogpile.Option
			if tc.mangler != nil {
				opts = append(opts, dogpile.WithKeyMangler(tc.mangler))
			}
			r := region(t, b, time.Hour, opts...)
			v, err := dogpile.GetOrCreate(ctx, r, long, func(context.Context) (string, error) { return tc.name, nil })
			if err != nil || v != tc.name {
				t.Errorf("%s: GetOrCreate = %q, %v", tc.name, v, err)
			}
			if it, err := raw.Get(tc.stored); err != nil || !strings.HasSuffix(string(it.Value), `|"`+tc.name+`"`) {
				t.Errorf("%s: nothing stored under %q: %v", tc.name, tc.stored, err)
			}
			if v, ok, err := dogpile.Get[string](ctx, r, long); !ok || err != nil || v != tc.name {
				t.Errorf("%s: Get = %q, %v, %v", tc.name, v, ok, err)
			}
			vals, err := dogpile.GetOrCreateMulti(ctx, r, []string{long, long + "\n2"}, func(_ context.Context, keys []string) (map[string]string, error) {
				if len(keys) != 1 || keys[0] != long+"\n2" {
					return nil, fmt.Errorf("creator called for %d keys; want only the missing one", len(keys))
				}
				return map[string]string{keys[0]: "second"}, nil
			})
			if err != nil || len(vals) != 2 || vals[long] != tc.name || vals[long+"\n2"] != "second" {
				t.Errorf("%s: GetOrCreateMulti = %q, %v", tc.name, vals, err)
			}
			if err := r.DeleteMulti(ctx, []string{long, long + "\n2"}); err != nil {
				t.Error(err)
			}
		}
		strict := open(t, driver.Arguments{"url": m.Addr, "mangle_invalid_keys": false})
		r := region(t, strict, time.Hour)
		_, err := dogpile.GetOrCreate(ctx, r, long, func(context.Context) (string, error) { return "x", nil })
		if !errors.Is(err, driver.ErrInvalidArgument) {
			t.Errorf("GetOrCreate of a long key without mangling: %v; want driver.ErrInvalidArgument", err)
		}
		r = region(t, strict, time.Hour, dogpile.WithKeyMangler(pyconfig.SHA1MangleKey))
		if v, err := dogpile.GetOrCreate(ctx, r, long, func(context.Context) (string, error) { return "x", nil }); err != nil || v != "x" {
			t.Errorf("GetOrCreate of a long key behind the SHA-1 mangler without mangling: %q, %v", v, err)
		}
	})
}
