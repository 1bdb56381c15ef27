package outbox_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/canopy-fleet/canopy/devices/outbox"
	"github.com/canopy-fleet/canopy/kernel"
)

// The mesh reads the outbox through kernel.Outbox: oldest first over all
// destinations, IDs strictly increasing for the outbox's life.
func TestKernelView(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o, err := outbox.Open(outbox.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var k kernel.Outbox = o.Kernel()
	for i := range 5 {
		if err := o.Append(ctx, msg(fmt.Sprint("m", i), []string{"cloud", "status"}[i%2], fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	got, err := k.Peek(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Topic != "cloud" || got[1].Topic != "status" || string(got[2].Data) != "2" || !(got[0].ID < got[1].ID && got[1].ID < got[2].ID) {
		t.Fatalf("peek %+v", got)
	}
	if err := k.Ack(ctx, got[0].ID, got[1].ID, 999); err != nil {
		t.Fatal(err)
	}
	rest, _ := k.Peek(ctx, 10)
	if len(rest) != 3 || rest[0].ID != got[2].ID {
		t.Fatalf("after ack %+v", rest)
	}
	var ids []uint64
	for _, m := range rest {
		ids = append(ids, m.ID)
	}
	if err := k.Ack(ctx, ids...); err != nil {
		t.Fatal(err)
	}
	if empty, _ := k.Peek(ctx, 10); len(empty) != 0 || empty == nil {
		t.Fatalf("want empty non-nil slice, got %#v", empty)
	}
	last := ids[len(ids)-1]
	o.Close()

	// Everything was acknowledged; after a restart IDs still go up.
	o = open(t, outbox.Config{Dir: dir})
	if err := o.Append(ctx, msg("after", "cloud", "x")); err != nil {
		t.Fatal(err)
	}
	got, _ = o.Kernel().Peek(ctx, 1)
	if len(got) != 1 || got[0].ID <= last {
		t.Fatalf("after restart got %+v, want ID > %d", got, last)
	}
}
