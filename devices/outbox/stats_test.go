package outbox_test

import (
	"context"
	"testing"

	"github.com/canopy-fleet/canopy/devices/outbox"
)

func TestStatsCountAppendsAcksAndPendingPerDestination(t *testing.T) {
	ctx := context.Background()
	o := open(t, outbox.Config{MaxBytes: 1 << 20})
	for _, m := range []outbox.Message{msg("a", "cloud", "xxxx"), msg("b", "cloud", "yy"), msg("c", "status", "z")} {
		if err := o.Append(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Append(ctx, msg("a", "cloud", "xxxx")); err != nil { // duplicate: not appended again
		t.Fatal(err)
	}
	if err := o.Ack(ctx, "b", "unknown"); err != nil {
		t.Fatal(err)
	}
	st := o.Stats()
	if st.Appended != 3 || st.Acked != 1 || st.Duplicates != 1 || st.Len != 2 || st.MaxBytes != 1<<20 {
		t.Fatalf("stats %+v: want 3 appended, 1 acked, 1 duplicate, 2 pending, max 1MiB", st)
	}
	got := o.PendingByDestination()
	a, c := msg("a", "cloud", "xxxx"), msg("c", "status", "z")
	want := map[string]outbox.Pending{
		"cloud":  {Messages: 1, Bytes: int64(len(a.ID) + len(a.Dest) + len(a.Payload))},
		"status": {Messages: 1, Bytes: int64(len(c.ID) + len(c.Dest) + len(c.Payload))},
	}
	if len(got) != len(want) || got["cloud"] != want["cloud"] || got["status"] != want["status"] {
		t.Fatalf("pending by destination %v, want %v", got, want)
	}
	if got["cloud"].Bytes+got["status"].Bytes != st.Bytes {
		t.Fatalf("per-destination bytes %v do not add up to %d", got, st.Bytes)
	}
	if err := o.Ack(ctx, "a", "c"); err != nil {
		t.Fatal(err)
	}
	if got := o.PendingByDestination(); len(got) != 0 {
		t.Fatalf("pending after acking all: %v", got)
	}
}
