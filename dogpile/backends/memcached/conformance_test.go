package memcached

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpilego/dogpile/dogpile/dogpiletest"
	"github.com/dogpilego/dogpile/dogpile/driver"
	"github.com/dogpilego/dogpile/dogpile/pyconfig"
	"github.com/dogpilego/dogpile/internal/testserver"
)

// TestConformance runs the backend conformance suite against one memcached
// and against two (keys spread over both), with the distributed lock on
// and off, behind a region's SHA-1 key mangler, and on clients given to
// New, writing through the client or pipelined on its Selector.
func TestConformance(t *testing.T) {
	t.Parallel()
	m1, m2 := testserver.StartMemcached(t), testserver.StartMemcached(t)
	cases := []struct {
		name    string
		args    driver.Arguments
		mangler func(string) string
	}{
		{"OneServer", driver.Arguments{"url": m1.Addr}, nil},
		{"OneServerLock", driver.Arguments{"url": m1.Addr, "distributed_lock": true, "lock_timeout": 5}, nil},
		{"TwoServers", driver.Arguments{"url": []string{m1.Addr, m2.Addr}}, nil},
		{"TwoServersLock", driver.Arguments{"url": m1.Addr + ", " + m2.Addr, "distributed_lock": "true"}, nil},
		{"SHA1Mangler", driver.Arguments{"url": []any{m1.Addr, m2.Addr}, "distributed_lock": true}, pyconfig.SHA1MangleKey},
	}
	t.Run("New", func(t *testing.T) {
		t.Parallel()
		dogpiletest.TestBackend(t, dogpiletest.Options{
			New: func(t *testing.T) driver.Backend {
				c := memcache.New(m1.Addr, m2.Addr)
				c.Timeout = testTimeout
				c.MaxIdleConns = defaultMaxIdleConns
				return openClient(t, c, Options{DistributedLock: true, LockTimeout: 5 * time.Second})
			},
		})
	})
	t.Run("NewSelector", func(t *testing.T) {
		// A client on a Selector, given to New with it: pipelined writes.
		t.Parallel()
		dogpiletest.TestBackend(t, dogpiletest.Options{
			New: func(t *testing.T) driver.Backend {
				sel, err := NewSelector(SelectPyMemcache, m1.Addr, m2.Addr)
				if err != nil {
					t.Fatal(err)
				}
				c := memcache.NewFromSelector(sel)
				c.Timeout = testTimeout
				c.MaxIdleConns = defaultMaxIdleConns
				return openClient(t, c, Options{Selector: sel, DistributedLock: true, LockTimeout: 5 * time.Second})
			},
		})
	})
	t.Run("Spread", func(t *testing.T) {
		t.Parallel()
		testSpread(t, m1.Addr, m2.Addr)
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dogpiletest.TestBackend(t, dogpiletest.Options{
				New:        func(t *testing.T) driver.Backend { return open(t, tc.args) },
				KeyMangler: tc.mangler,
			})
		})
	}
}

// testSpread: with a url list, keys are spread over every server, and a
// multi-key read gathers them from all.
func testSpread(t *testing.T, addr1, addr2 string) {
	ctx := context.Background()
	b := open(t, driver.Arguments{"url": []string{addr1, addr2}})
	p := keyPrefix(t)
	var keys []string
	var items []driver.BytesItem
	for i := range 64 {
		k := p + strconv.Itoa(i)
		keys = append(keys, k)
		items = append(items, driver.BytesItem{Key: k, Value: []byte(strconv.Itoa(i))})
	}
	if err := b.SetBytesMulti(ctx, items); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetBytesMulti(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		if string(got[i]) != strconv.Itoa(i) {
			t.Errorf("GetBytesMulti entry %d = %q", i, got[i])
		}
	}
	on1, err := rawClient(t, addr1).GetMulti(keys)
	if err != nil {
		t.Fatal(err)
	}
	on2, err := rawClient(t, addr2).GetMulti(keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(on1) == 0 || len(on2) == 0 || len(on1)+len(on2) != len(keys) {
		t.Errorf("%d keys on the first server and %d on the second; want all %d spread over both", len(on1), len(on2), len(keys))
	}
	if err := b.DeleteMulti(ctx, keys); err != nil {
		t.Fatal(err)
	}
}
