package devmetrics_test

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/canopy-fleet/canopy/devices/devmetrics"
	"github.com/canopy-fleet/canopy/devices/route"
	"github.com/canopy-fleet/canopy/kernel"
)

// BenchmarkScrapeRouter100 is one scrape (gather) of a router with 100
// tasks: the whole cost of the route metrics, paid by the scraper, none on
// Deliver.
func BenchmarkScrapeRouter100(b *testing.B) {
	r, err := route.New(route.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for i := range 100 {
		err := r.Add(route.Subscriber{ID: fmt.Sprint("task-", i), Subs: []kernel.Subscription{{Topic: "sensors/#"}},
			Handler: func(string, []byte) {}})
		if err != nil {
			b.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(devmetrics.NewRouter(r))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
