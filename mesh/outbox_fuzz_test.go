package mesh

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// FuzzOutboxBatch hands arbitrary bodies to the root's outbox handler, for
// a source whose ledger holds epoch 7 at ID 10, twice. Whatever decodes, the
// root accepts IDs in increasing order from where that epoch stands (10 for
// epoch 7, 0 for any other), acknowledges exactly what its ledger then
// holds, and accepts nothing the second time.
func FuzzOutboxBatch(f *testing.F) {
	msgs := func(ids ...uint64) []kernel.OutboxMessage {
		var ms []kernel.OutboxMessage
		for _, id := range ids {
			ms = append(ms, kernel.OutboxMessage{ID: id, Topic: "t/x", Data: []byte{byte(id)}})
		}
		return ms
	}
	for _, b := range []outboxBatchMsg{
		{Epoch: 7, Msgs: msgs(8, 9, 10, 11)},
		{Epoch: 7, Msgs: msgs(1, 2)},
		{Epoch: 8, Msgs: msgs(0, 1, 2)},
		{Epoch: 0, Msgs: msgs(5)},
		{Epoch: 8, Msgs: msgs(3, 1, 3, math.MaxUint64)},
		{Epoch: 7},
	} {
		body, err := frame.Marshal(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte{})
	f.Add([]byte{0xa1, 0x65, 'E', 'p', 'o', 'c', 'h', 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	fab := memnet.NewFabric()
	f.Fuzz(func(t *testing.T, body []byte) {
		led := NewMemOutboxLedger()
		led.Advance("src", 7, 10)
		var got []uint64
		n, err := New(Config{Name: "ctl", Role: kernel.RoleController, Network: fab.Endpoint("ctl", kernel.RoleController), Listen: "mem:ctl",
			OutboxLedger: led, OnOutbox: func(_ kernel.NodeName, m kernel.OutboxMessage) error { got = append(got, m.ID); return nil }})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := n.onOutbox(context.Background(), "src", body)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error on several lines: %q", err)
			}
			return
		}
		var batch outboxBatchMsg
		if err := frame.Unmarshal(body, &batch); err != nil {
			t.Fatalf("the handler accepted a body that does not decode: %v", err)
		}
		var ack outboxAck
		if err := frame.Unmarshal(resp, &ack); err != nil {
			t.Fatalf("ack does not decode: %v", err)
		}
		start := uint64(10)
		if batch.Epoch != 7 {
			start = 0
		}
		for i, id := range got {
			if id < start || (i > 0 && id <= got[i-1]) {
				t.Fatalf("epoch %x from %d: accepted IDs %v", batch.Epoch, start, got)
			}
		}
		epoch, next, _ := led.Load("src")
		if ack.Next != next && !(batch.Epoch != epoch && ack.Next == 0) {
			t.Fatalf("acknowledged below %d, the ledger holds epoch %x at %d (batch epoch %x)", ack.Next, epoch, next, batch.Epoch)
		}
		if len(got) > 0 && (epoch != batch.Epoch || next != got[len(got)-1]+1) {
			t.Fatalf("accepted %v of epoch %x, the ledger holds epoch %x at %d", got, batch.Epoch, epoch, next)
		}
		before := len(got)
		if _, err := n.onOutbox(context.Background(), "src", body); err != nil && len(got) == before {
			return // refused again, e.g. ID 2^64-1 with nothing new
		}
		if len(got) != before {
			t.Fatalf("the same batch sent again was accepted again: %v", got[before:])
		}
	})
}
