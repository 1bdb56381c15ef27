package profile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/devices/profile"
	"github.com/canopy-fleet/canopy/kernel"
)

func TestProfiles(t *testing.T) {
	want := []string{"industrial-gateway", "jetson-orin-nano", "pi-4", "pi-5", "pi-zero-2w", "x86-server"}
	if got := strings.Join(profile.Names(), ","); got != strings.Join(want, ",") {
		t.Fatalf("names %s", got)
	}
	now := time.Unix(1_700_000_000, 0)
	prev := 0
	for _, n := range []string{"pi-zero-2w", "pi-4", "industrial-gateway", "jetson-orin-nano", "pi-5", "x86-server"} {
		p, err := profile.Get(n)
		if err != nil {
			t.Fatal(err)
		}
		c := p.CapabilityFor("node-1", now, 1)
		switch {
		case c.Profile != n || c.Hostname != "node-1" || !c.Live.MeasuredAt.Equal(now):
			t.Errorf("%s: identity %+v", n, c)
		case c.Cores < 1 || c.Memory < 256<<20 || c.Live.MemoryFree >= c.Memory || c.Live.TempC >= c.Live.TempLimitC:
			t.Errorf("%s: implausible figures %+v", n, c)
		case c.Score < prev:
			t.Errorf("%s: score %d below the previous, smaller device's %d", n, c.Score, prev)
		}
		prev = c.Score
		for _, s := range c.Sensors {
			if err := kernel.ValidateTopicName(s); err != nil || !strings.HasPrefix(s, "sensors/node-1/") {
				t.Errorf("%s: sensor topic %q", n, s)
			}
		}
		// CapabilityFor hands out copies.
		if len(c.Devices) > 0 {
			c.Devices[0].Path = "mutated"
			if again := p.CapabilityFor("x", now, 1); again.Devices[0].Path == "mutated" {
				t.Errorf("%s: shared device slice", n)
			}
		}
	}
	pi5, _ := profile.Get("pi-5")
	if c := pi5.CapabilityFor("n", now, 0.5); c.Score != 260 || !c.HasDevice(kernel.DeviceNPU) {
		t.Errorf("scaled pi-5 %+v", c)
	}
	if _, err := profile.Get("pi-6"); err == nil || !strings.Contains(err.Error(), "pi-zero-2w") {
		t.Errorf("unknown profile error %v", err)
	}
}

func TestNode(t *testing.T) {
	clock := time.Unix(1_700_000_000, 0)
	n, err := profile.NewNode("edge-7", "jetson-orin-nano", 1, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Minute)
	c, err := n.Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Hostname != "edge-7" || c.Profile != "jetson-orin-nano" || !c.HasDevice(kernel.DeviceGPU) || c.Live.Uptime != time.Minute {
		t.Fatalf("%+v", c)
	}
	l, _ := n.Live(context.Background())
	if !l.MeasuredAt.Equal(clock) {
		t.Fatalf("live %+v", l)
	}
	if _, err := profile.NewNode("x", "nope", 1, nil); err == nil {
		t.Fatal("unknown profile accepted")
	}
}
