package mesh

import (
	"fmt"
	"sync"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
)

// Concurrent subscriptions leave the parent with the last interest set:
// the sets are queued to the link in the order they were computed, so an
// older one never arrives after a newer one that is then not resent.
func TestConcurrentInterestArrivesInOrder(t *testing.T) {
	const k = 64
	for round := 0; round < 200; round++ {
		tr, _ := memTree(t, fastTimers)
		ctl := tr.start("ctl", kernel.RoleController, "mem:ctl")
		leaf := tr.start("leaf", kernel.RoleLeaf, "", "ctl")
		eventually(t, "linked", func() bool { return leaf.Parent() == "ctl" })
		var wg sync.WaitGroup
		for i := range k {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := leaf.Subscribe(fmt.Sprintf("t/%d", i), func(Message) {}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		eventually(t, fmt.Sprintf("round %d: the parent holds all %d filters", round, k), func() bool {
			ctl.mu.Lock()
			l := ctl.children["leaf"]
			ctl.mu.Unlock()
			l.mu.Lock()
			defer l.mu.Unlock()
			return len(l.interest) == k
		})
		tr.closeAll()
	}
}
