package prometheus

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dogpilego/dogpile/metrics"
)

// Collector is a prometheus.Collector of a metrics.Observer's counts.
type Collector struct {
	obs       *metrics.Observer
	results   *prometheus.Desc
	ops       *prometheus.Desc
	opSeconds *prometheus.Desc
	creations *prometheus.Desc
	createSec *prometheus.Desc
	lockWaits *prometheus.Desc
	lockSec   *prometheus.Desc
	invalid   *prometheus.Desc
	errors    *prometheus.Desc
	evictions *prometheus.Desc
	expired   *prometheus.Desc
	readB     *prometheus.Desc
	writtenB  *prometheus.Desc
}

// NewCollector returns a Collector of obs's counts. constLabels are added
// to every metric (nil for none).
func NewCollector(obs *metrics.Observer, constLabels prometheus.Labels) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("dogpile_"+name, help, append([]string{"region"}, labels...), constLabels)
	}
	return &Collector{
		obs:       obs,
		results:   d("results_total", "Keys looked up, by result (hit, stale, miss, created, waited).", "result"),
		ops:       d("operations_total", "Region operations, by operation.", "op"),
		opSeconds: d("operation_seconds_total", "Time spent in region operations, by operation.", "op"),
		creations: d("creations_total", "Keys made by creators."),
		createSec: d("creation_seconds_total", "Time spent in creators."),
		lockWaits: d("lock_waits_total", "Waits for a dogpile lock held elsewhere."),
		lockSec:   d("lock_wait_seconds_total", "Time spent waiting for dogpile locks."),
		invalid:   d("invalidations_total", "Region invalidations, hard and soft."),
		errors:    d("errors_total", "Failed operations, errors absorbed in fail-open mode included."),
		evictions: d("evictions_total", "Entries a bounded backend dropped to stay within its bounds."),
		expired:   d("expirations_total", "Entries a backend dropped once they outlived its own time to live."),
		readB:     d("read_bytes_total", "Payload bytes read from byte-storing backends."),
		writtenB:  d("written_bytes_total", "Payload bytes written to byte-storing backends."),
	}
}

// Describe sends the descriptors of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.results, c.ops, c.opSeconds, c.creations, c.createSec,
		c.lockWaits, c.lockSec, c.invalid, c.errors, c.evictions, c.expired, c.readB, c.writtenB} {
		ch <- d
	}
}

// Collect sends the current counts.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, r := range c.obs.Stats().Regions {
		for _, res := range []struct {
			name string
			n    uint64
		}{{"hit", r.Hits}, {"stale", r.Stale}, {"miss", r.Misses}, {"created", r.Created}, {"waited", r.Waited}} {
			counter(c.results, float64(res.n), r.Region, res.name)
		}
		for op, s := range r.Ops {
			counter(c.ops, float64(s.Calls), r.Region, op)
			counter(c.opSeconds, s.Time.Seconds(), r.Region, op)
		}
		counter(c.creations, float64(r.Creations), r.Region)
		counter(c.createSec, r.CreateTime.Seconds(), r.Region)
		counter(c.lockWaits, float64(r.LockWaits), r.Region)
		counter(c.lockSec, r.LockWaitTime.Seconds(), r.Region)
		counter(c.invalid, float64(r.Invalidations), r.Region)
		counter(c.errors, float64(r.Errors), r.Region)
		counter(c.evictions, float64(r.Evictions), r.Region)
		counter(c.expired, float64(r.Expirations), r.Region)
		counter(c.readB, float64(r.BytesRead), r.Region)
		counter(c.writtenB, float64(r.BytesWritten), r.Region)
	}
}

var _ prometheus.Collector = (*Collector)(nil)
