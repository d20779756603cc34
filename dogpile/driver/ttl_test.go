package driver_test

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

func TestDerivedTTL(t *testing.T) {
	for _, tc := range []struct {
		name          string
		regions       []time.Duration
		longest, want time.Duration
	}{
		{"no region", nil, 0, 0},
		{"one region", []time.Duration{time.Minute}, time.Minute, 2 * time.Minute},
		{"the longest wins", []time.Duration{time.Minute, time.Hour, time.Second}, time.Hour, 2 * time.Hour},
		{"a region that never expires", []time.Duration{time.Minute, 0, time.Hour}, 0, 0},
		{"the first never expires", []time.Duration{0, time.Minute}, 0, 0},
		{"saturates", []time.Duration{math.MaxInt64}, math.MaxInt64, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ttl driver.DerivedTTL
			for _, d := range tc.regions {
				ttl.Add(d)
			}
			if got := ttl.Longest(); got != tc.longest {
				t.Errorf("after %v: longest %v, want %v", tc.regions, got, tc.longest)
			}
			if got := ttl.Load(); got != tc.want {
				t.Errorf("after %v: %v, want %v", tc.regions, got, tc.want)
			}
		})
	}
	// Regions configured at once: the longest wins whatever the order.
	var ttl driver.DerivedTTL
	var wg sync.WaitGroup
	for i := 1; i <= 100; i++ {
		wg.Go(func() { ttl.Add(time.Duration(i) * time.Second) })
	}
	wg.Wait()
	if got := ttl.Load(); got != 200*time.Second {
		t.Errorf("100 regions at once: %v, want 200s", got)
	}
}
