package clock

import (
	"testing"
	"time"
)

func TestFakeFiresInOrderAndStops(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	a, b, c := f.NewTimer(3*time.Second), f.NewTimer(time.Second), f.NewTimer(2*time.Second)
	if !c.Stop() {
		t.Fatal("stop of a pending timer reported false")
	}
	f.Advance(1500 * time.Millisecond)
	select {
	case at := <-b.C():
		if !at.Equal(time.Unix(1, 0)) {
			t.Fatalf("b fired at %v", at)
		}
	default:
		t.Fatal("b did not fire")
	}
	select {
	case <-a.C():
		t.Fatal("a fired early")
	case <-c.C():
		t.Fatal("stopped timer fired")
	default:
	}
	a.Reset(time.Second) // now due at 2.5s
	f.Advance(time.Second)
	if got := <-a.C(); !got.Equal(time.Unix(2, 5e8)) {
		t.Fatalf("a fired at %v", got)
	}
	if f.Timers() != 0 || !f.Now().Equal(time.Unix(2, 5e8)) {
		t.Fatalf("timers %d, now %v", f.Timers(), f.Now())
	}
}
