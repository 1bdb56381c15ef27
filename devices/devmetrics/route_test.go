package devmetrics_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/canopy-fleet/canopy/devices/devmetrics"
	"github.com/canopy-fleet/canopy/devices/route"
	"github.com/canopy-fleet/canopy/kernel"
)

func TestRouterMetricsCountOverflowPerTask(t *testing.T) {
	r, err := route.New(route.Config{QueueSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sub := []kernel.Subscription{{Topic: "sensors/+/temp"}}
	started, release := make(chan struct{}, 8), make(chan struct{})
	for _, s := range []route.Subscriber{
		{ID: "slow", Subs: sub, Handler: func(string, []byte) { started <- struct{}{}; <-release }},
		{ID: "fast", Subs: sub, Handler: func(string, []byte) {}},
		{ID: "crash", Subs: sub, Handler: func(string, []byte) { panic("bad reading") }},
	} {
		if err := r.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock() // before r.Close, which waits for the handler
	c := devmetrics.NewRouter(r)
	handled := func(n float64) func() bool {
		return func() bool {
			v := values(t, c)
			return v[`canopy_route_delivered_total{task="fast"}`] == n && v[`canopy_route_panics_total{task="crash"}`] == n
		}
	}
	// One message at a time, so that fast and crash (queues of one) never
	// overflow while slow, stuck on the first, keeps the second and drops
	// the third.
	r.Deliver("sensors/a/temp", []byte("1"))
	<-started
	eventually(t, "fast and crash handled one", handled(1))
	r.Deliver("sensors/a/temp", []byte("2"))
	eventually(t, "fast and crash handled two", handled(2))
	r.Deliver("sensors/a/temp", []byte("3"))
	eventually(t, "fast and crash handled three", handled(3))
	want := `
# HELP canopy_route_overflow_total Messages the router dropped because the task's queue was full.
# TYPE canopy_route_overflow_total counter
canopy_route_overflow_total{task="crash"} 0
canopy_route_overflow_total{task="fast"} 0
canopy_route_overflow_total{task="slow"} 1
# HELP canopy_route_queued_messages Messages waiting in the task's queue now.
# TYPE canopy_route_queued_messages gauge
canopy_route_queued_messages{task="crash"} 0
canopy_route_queued_messages{task="fast"} 0
canopy_route_queued_messages{task="slow"} 1
# HELP canopy_route_delivered_total Messages the router handed to a task's handler.
# TYPE canopy_route_delivered_total counter
canopy_route_delivered_total{task="crash"} 0
canopy_route_delivered_total{task="fast"} 3
canopy_route_delivered_total{task="slow"} 0
# HELP canopy_route_panics_total Handler calls that panicked.
# TYPE canopy_route_panics_total counter
canopy_route_panics_total{task="crash"} 3
canopy_route_panics_total{task="fast"} 0
canopy_route_panics_total{task="slow"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	unblock()
	eventually(t, "slow caught up", func() bool { return values(t, c)[`canopy_route_delivered_total{task="slow"}`] == 2 })
	lint(t, c)

	r.Remove("slow")
	if _, ok := values(t, c)[`canopy_route_overflow_total{task="slow"}`]; ok {
		t.Fatal("a removed task is still reported")
	}
}
