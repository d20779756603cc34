package pongo2ext_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/pongo2ext"
)

func TestExpiresFromVariables(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tag   string
		ttl   any
		fresh time.Duration // still cached this long after the render
		stale time.Duration // rendered again this long after
	}{
		{"int", `expires=ttl`, 60, 59 * time.Second, 61 * time.Second},
		{"int64", `expires=ttl`, int64(90), 89 * time.Second, 91 * time.Second},
		{"uint8", `expires=ttl`, uint8(30), 29 * time.Second, 31 * time.Second},
		{"float holding a whole number", `expires=ttl`, 120.0, 119 * time.Second, 121 * time.Second},
		{"time.Duration", `expires=ttl`, 1500 * time.Millisecond, time.Second, 2 * time.Second},
		{"arithmetic", `expires=ttl * 60`, 2, 119 * time.Second, 121 * time.Second},
		{"parentheses", `expires=(ttl*60) ttl`, 3, 179 * time.Second, 181 * time.Second},
		{"minus one: never", `expires=ttl`, -1, 10 * 365 * 24 * time.Hour, -1},
		{"NoExpiration", `expires=ttl`, dogpile.NoExpiration, 10 * 365 * 24 * time.Hour, -1},
		{"negated", `expires=-ttl`, 1, 10 * 365 * 24 * time.Hour, -1},
		{"filter", `expires=ttl|add:10`, 50, 59 * time.Second, 61 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{}) // the regions' own expiration is an hour
			tpl := e.parse(`{% cached ` + tc.tag + ` %}{{ count("e") }}{% endcached %}`)
			data := pongo2.Context{"ttl": tc.ttl}
			render(t, tpl, data)
			e.advance(tc.fresh)
			if got := render(t, tpl, data); got != "e#1" || e.count("e") != 1 {
				t.Errorf("after %v: %q, want the cached e#1", tc.fresh, got)
			}
			if tc.stale < 0 {
				return
			}
			e.advance(tc.stale - tc.fresh)
			if got := render(t, tpl, data); got != "e#2" {
				t.Errorf("after %v: %q, want e#2", tc.stale, got)
			}
		})
	}
}

func TestExpiresErrorsNameTheValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		ttl  any
		msg  string
	}{
		{"zero", 0, "expires= is 0, which would expire the fragment at once"},
		{"negative", -5, "expires= is -5, which is negative"},
		{"not whole", 1.5, "expires= is 1.5, not a whole number"},
		{"string", "60", `expires= is the string "60"`},
		{"undefined", nil, "expires= is nil (an undefined variable?)"},
		{"bool", true, "expires= is true, of type bool"},
		{"list", []int{60}, "expires= is [60], of type []int"},
		{"zero duration", time.Duration(0), "expires= is the time.Duration 0s"},
		{"negative duration", -2 * time.Second, "expires= is the time.Duration -2s"},
		{"huge", uint64(math.MaxUint64), "expires= is 18446744073709551615, out of range"},
		{"too many seconds", int64(math.MaxInt64), "expires= is 9223372036854775807, which is out of range"},
		{"infinite", math.Inf(1), "expires= is +Inf, not a whole number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{})
			tpl := e.parse("<p>\n  {% cached \"exp\" region=\"local\" expires=ttl %}{{ count(\"e\") }}{% endcached %}")
			data := pongo2.Context{}
			if tc.ttl != nil {
				data["ttl"] = tc.ttl
			}
			out, err := execute(t, tpl, data)
			if !errors.Is(pongo2ext.Cause(err), pongo2ext.ErrExpires) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), `fragment "exp"`) {
				t.Fatalf("%q, %v\nwant ErrExpires, %q", out, err, tc.msg)
			}
			var pe *pongo2.Error
			if !errors.As(err, &pe) || pe.Line != 2 || pe.Column != 42 {
				t.Errorf("error at %#v, want line 2 col 42 (the expression)", pe)
			}
			if e.count("e") != 0 || len(e.observedKeys()) != 0 {
				t.Errorf("rendered %d times, region asked for %q", e.count("e"), e.observedKeys())
			}
		})
	}
}

// The literal forms are checked when the template is parsed, as before.
func TestExpiresLiterals(t *testing.T) {
	e := newEnv(t, envConfig{})
	for _, lit := range []string{"1", "-1", "86400", fmt.Sprint(int64(math.MaxInt64) / int64(time.Second))} {
		if _, err := e.set.FromString(`{% cached expires=` + lit + ` %}x{% endcached %}`); err != nil {
			t.Errorf("expires=%s: %v", lit, err)
		}
	}
	// A literal ends at the number: what follows is a vary-on value.
	tpl := e.parse(`{% cached "lit" expires=60 -n %}{{ count("lit") }}{% endcached %}`)
	render(t, tpl, pongo2.Context{"n": 1})
	render(t, tpl, pongo2.Context{"n": 2})
	if e.count("lit") != 2 {
		t.Errorf("rendered %d times for two values of -n, want 2", e.count("lit"))
	}
	e.advance(61 * time.Second)
	render(t, tpl, pongo2.Context{"n": 1})
	if e.count("lit") != 3 {
		t.Errorf("rendered %d times after 61 s, want 3", e.count("lit"))
	}
}
