package route_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/devices/route"
	"github.com/canopy-fleet/canopy/kernel"
)

// sink collects what a subscriber handled.
type sink struct {
	mu  sync.Mutex
	got []string
	wg  sync.WaitGroup
}

func (s *sink) handler(topic string, p []byte) {
	s.mu.Lock()
	s.got = append(s.got, topic)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *sink) topics() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func newRouter(t *testing.T, q int) *route.Router {
	t.Helper()
	r, err := route.New(route.Config{QueueSize: q})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func subs(filters ...string) []kernel.Subscription {
	var out []kernel.Subscription
	for _, f := range filters {
		out = append(out, kernel.Subscription{Topic: f})
	}
	return out
}

func TestFanOutAndDedupe(t *testing.T) {
	r := newRouter(t, 0)
	var a, b sink
	if err := r.Add(route.Subscriber{ID: "a", Subs: subs("sensors/+/temp", "sensors/#"), Handler: a.handler}); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(route.Subscriber{ID: "b", Subs: subs("sensors/s1/temp"), Handler: b.handler}); err != nil {
		t.Fatal(err)
	}
	a.wg.Add(2)
	b.wg.Add(1)
	if n := r.Deliver("sensors/s1/temp", nil); n != 2 {
		t.Fatalf("delivered to %d, want 2 (a once despite two filters, b)", n)
	}
	if n := r.Deliver("sensors/s2/power", nil); n != 1 {
		t.Fatalf("delivered to %d, want 1", n)
	}
	if n := r.Deliver("other", nil); n != 0 {
		t.Fatalf("delivered to %d, want 0", n)
	}
	a.wg.Wait()
	b.wg.Wait()
	if got := a.topics(); len(got) != 2 || got[0] != "sensors/s1/temp" || got[1] != "sensors/s2/power" {
		t.Fatalf("a got %v", got)
	}
	r.Remove("a")
	if n := r.Deliver("sensors/s2/power", nil); n != 0 {
		t.Fatalf("after remove delivered to %d", n)
	}
}

// A subscriber that does not keep up loses messages (counted); the other
// still gets every one.
func TestSlowSubscriberDoesNotBlockOthers(t *testing.T) {
	r := newRouter(t, 4)
	release := make(chan struct{})
	var fast sink
	if err := r.Add(route.Subscriber{ID: "slow", Subs: subs("t"), Handler: func(string, []byte) { <-release }}); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(route.Subscriber{ID: "fast", Subs: subs("t"), Handler: fast.handler}); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		fast.wg.Add(1)
		r.Deliver("t", nil)
		fast.wg.Wait() // the fast one handles each message while the slow one is stuck
	}
	st := r.AllStats()["slow"]
	if st.Overflow < 100-4-1 || st.Overflow > 100-4 {
		t.Fatalf("slow overflow %d, want 95..96 (queue 4 + one in hand)", st.Overflow)
	}
	close(release)
}

// recorder remembers which replica handled which topic.
type recorder struct {
	mu  sync.Mutex
	got map[string][]string // replica → topics
}

func (rc *recorder) handler(id string, block <-chan struct{}) route.Handler {
	return func(topic string, _ []byte) {
		rc.mu.Lock()
		if rc.got == nil {
			rc.got = map[string][]string{}
		}
		rc.got[id] = append(rc.got[id], topic)
		rc.mu.Unlock()
		if block != nil {
			<-block
		}
	}
}

func (rc *recorder) snapshot() map[string][]string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string][]string{}
	for k, v := range rc.got {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// waitHandled waits until the replicas together handled n messages.
func waitHandled(t *testing.T, r *route.Router, ids []string, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var sum int64
		for _, id := range ids {
			st, _ := r.Stats(id)
			sum += st.Delivered
		}
		if sum == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("handled %d of %d", sum, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSharedPolicies(t *testing.T) {
	ids := []string{"r0", "r1", "r2"}
	setup := func(t *testing.T, sub kernel.Subscription) (*route.Router, *recorder) {
		r := newRouter(t, 0)
		rc := &recorder{}
		for _, id := range ids {
			if err := r.Add(route.Subscriber{ID: id, Group: "deploy", Subs: []kernel.Subscription{sub}, Handler: rc.handler(id, nil)}); err != nil {
				t.Fatal(err)
			}
		}
		return r, rc
	}
	t.Run("round-robin", func(t *testing.T) {
		r, rc := setup(t, kernel.Subscription{Topic: "s/#", Shared: kernel.ShareRoundRobin})
		for i := range 30 {
			if n := r.Deliver(fmt.Sprint("s/", i), nil); n != 1 {
				t.Fatalf("shared delivered to %d", n)
			}
		}
		waitHandled(t, r, ids, 30)
		for id, got := range rc.snapshot() {
			if len(got) != 10 {
				t.Errorf("%s got %d of 30, want 10", id, len(got))
			}
		}
	})
	t.Run("hash", func(t *testing.T) {
		r, rc := setup(t, kernel.Subscription{Topic: "s/#", Shared: kernel.ShareHash, Key: "topic"})
		topics := []string{"s/a", "s/b", "s/c", "s/d", "s/e", "s/f"}
		for range 5 {
			for _, tp := range topics {
				r.Deliver(tp, nil)
			}
		}
		waitHandled(t, r, ids, 30)
		owner := map[string]string{}
		for id, got := range rc.snapshot() {
			for _, tp := range got {
				if prev, ok := owner[tp]; ok && prev != id {
					t.Fatalf("%s went to %s and %s", tp, prev, id)
				}
				owner[tp] = id
			}
		}
	})
	t.Run("least-loaded", func(t *testing.T) {
		r := newRouter(t, 0)
		rc := &recorder{}
		block := make(chan struct{})
		sub := kernel.Subscription{Topic: "s/#", Shared: kernel.ShareLeastLoaded}
		// "busy" also has a plain filter that fills its queue first; both
		// handlers block, so queue lengths are what the policy sees.
		if err := r.Add(route.Subscriber{ID: "busy", Group: "g", Subs: []kernel.Subscription{sub, {Topic: "fill"}}, Handler: rc.handler("busy", block)}); err != nil {
			t.Fatal(err)
		}
		if err := r.Add(route.Subscriber{ID: "idle", Group: "g", Subs: []kernel.Subscription{sub}, Handler: rc.handler("idle", block)}); err != nil {
			t.Fatal(err)
		}
		for range 10 {
			r.Deliver("fill", nil)
		}
		for i := range 6 {
			r.Deliver(fmt.Sprint("s/", i), nil)
		}
		close(block)
		waitHandled(t, r, []string{"busy", "idle"}, 16)
		got := rc.snapshot()
		if len(got["idle"]) != 6 || len(got["busy"]) != 10 {
			t.Fatalf("idle got %d shared (want 6), busy got %d (want its 10 fills only)", len(got["idle"]), len(got["busy"]))
		}
	})
}

func TestAddRejectsBadInput(t *testing.T) {
	r := newRouter(t, 0)
	h := func(string, []byte) {}
	for name, s := range map[string]route.Subscriber{
		"no id":      {Subs: subs("a"), Handler: h},
		"no handler": {ID: "x", Subs: subs("a")},
		"bad filter": {ID: "x", Subs: subs("a/#/b"), Handler: h},
		"bad policy": {ID: "x", Subs: []kernel.Subscription{{Topic: "a", Shared: "random"}}, Handler: h},
		"bad key":    {ID: "x", Subs: []kernel.Subscription{{Topic: "a", Shared: kernel.ShareHash, Key: "body"}}, Handler: h},
	} {
		if err := r.Add(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := r.Add(route.Subscriber{ID: "p", Subs: subs("a"), Handler: func(string, []byte) { panic("boom") }}); err != nil {
		t.Fatal(err)
	}
	r.Deliver("a", nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st, _ := r.Stats("p"); st.Panics == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("panic not contained and counted")
		}
		time.Sleep(time.Millisecond)
	}
}
