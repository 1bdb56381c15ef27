package devmetrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/canopy-fleet/canopy/devices/devmetrics"
	"github.com/canopy-fleet/canopy/devices/outbox"
)

func openOutbox(t *testing.T, cfg outbox.Config) *outbox.Outbox {
	t.Helper()
	cfg.Dir = t.TempDir()
	o, err := outbox.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close() })
	return o
}

func TestOutboxMetrics(t *testing.T) {
	ctx := context.Background()
	// Each message is 2 (id) + 5 (destination) + 3 (payload) = 10 bytes.
	o := openOutbox(t, outbox.Config{MaxBytes: 50, MinFreeDisk: -1})
	for i := range 7 {
		dest := []string{"cloud", "state"}[i%2]
		if err := o.Append(ctx, outbox.Message{ID: fmt.Sprint("m", i), Dest: dest, Payload: []byte("abc")}); err != nil {
			t.Fatal(err)
		}
	}
	// 7 appended, the bound keeps 5: m0 and m1 dropped.
	if err := o.Append(ctx, outbox.Message{ID: "m6", Dest: "cloud", Payload: []byte("abc")}); err != nil {
		t.Fatal(err)
	}
	if err := o.Ack(ctx, "m2", "m3"); err != nil {
		t.Fatal(err)
	}
	// Pending: m4, m6 (cloud) and m5 (state).
	c := devmetrics.NewOutbox(o)
	want := `
# HELP canopy_outbox_acked_total Messages removed from the outbox by an acknowledgement.
# TYPE canopy_outbox_acked_total counter
canopy_outbox_acked_total 2
# HELP canopy_outbox_appended_total Messages stored in the outbox (duplicates not counted).
# TYPE canopy_outbox_appended_total counter
canopy_outbox_appended_total 7
# HELP canopy_outbox_disk_full_errors_total Appends refused because the disk under the outbox was nearly full.
# TYPE canopy_outbox_disk_full_errors_total counter
canopy_outbox_disk_full_errors_total 0
# HELP canopy_outbox_dropped_total Messages dropped oldest-first by the byte bound or a full disk.
# TYPE canopy_outbox_dropped_total counter
canopy_outbox_dropped_total 2
# HELP canopy_outbox_duplicates_total Appends ignored because their id was pending or recently acknowledged.
# TYPE canopy_outbox_duplicates_total counter
canopy_outbox_duplicates_total 1
# HELP canopy_outbox_limit_bytes The outbox's bound on pending bytes; beyond it the oldest messages are dropped.
# TYPE canopy_outbox_limit_bytes gauge
canopy_outbox_limit_bytes 50
# HELP canopy_outbox_pending_bytes Bytes waiting in the outbox for a destination, as counted against its bound.
# TYPE canopy_outbox_pending_bytes gauge
canopy_outbox_pending_bytes{destination="cloud"} 20
canopy_outbox_pending_bytes{destination="state"} 10
# HELP canopy_outbox_pending_messages Messages waiting in the outbox for a destination.
# TYPE canopy_outbox_pending_messages gauge
canopy_outbox_pending_messages{destination="cloud"} 2
canopy_outbox_pending_messages{destination="state"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"canopy_outbox_acked_total", "canopy_outbox_appended_total", "canopy_outbox_disk_full_errors_total",
		"canopy_outbox_dropped_total", "canopy_outbox_duplicates_total", "canopy_outbox_limit_bytes",
		"canopy_outbox_pending_bytes", "canopy_outbox_pending_messages"); err != nil {
		t.Fatal(err)
	}
	if v := values(t, c); v["canopy_outbox_commits_total"] < 1 {
		t.Fatalf("commits %v, want at least one", v["canopy_outbox_commits_total"])
	}
	lint(t, c)
}

// TestOutboxDiskFullMetric: with less free space than MinFreeDisk (here
// more than any disk has), appends fail with ErrDiskFull and the metric
// counts them.
func TestOutboxDiskFullMetric(t *testing.T) {
	ctx := context.Background()
	o := openOutbox(t, outbox.Config{MinFreeDisk: 1 << 62})
	for i := range 3 {
		err := o.Append(ctx, outbox.Message{ID: fmt.Sprint("m", i), Dest: "cloud", Payload: []byte("x")})
		if !errors.Is(err, outbox.ErrDiskFull) {
			t.Fatalf("append on a full disk: %v, want ErrDiskFull", err)
		}
	}
	if got := values(t, devmetrics.NewOutbox(o))["canopy_outbox_disk_full_errors_total"]; got != 3 {
		t.Fatalf("disk full errors %v, want 3", got)
	}
}

// A destination that is not valid UTF-8 (the outbox takes any bytes but
// NUL) cannot be a label value: the scrape reports that one sample as an
// error and serves the rest, instead of panicking in the registry's
// collector goroutine and taking the process down.
func TestOutboxMetricsBadDestination(t *testing.T) {
	o := openOutbox(t, outbox.Config{MinFreeDisk: -1})
	if err := o.Append(context.Background(), outbox.Message{ID: "m0", Dest: "bad\xff", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(devmetrics.NewOutbox(o))
	mfs, err := reg.Gather()
	if err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("gather: %v, want an error about the label's UTF-8", err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "canopy_outbox_appended_total" {
			found = true
		}
	}
	if !found {
		t.Fatalf("the other outbox metrics were not served: %d families, err %v", len(mfs), err)
	}
}
