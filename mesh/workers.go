package mesh

import "time"

// workerIdle is how long a stream worker waits for the next stream before
// it exits.
const workerIdle = time.Second

// runStream runs f, a stream's handling, on a worker goroutine: an idle
// worker takes it if one is waiting, else a new worker starts. A worker
// that finishes waits up to workerIdle for the next stream.
//
// A fresh goroutine per stream starts with the smallest stack and grows it
// on every stream (reading a frame from the transport and decoding CBOR go
// deep): measured at about a tenth of the CPU of a request. A worker keeps
// its grown stack between streams. Workers exist only while streams
// arrive; an idle node keeps none past workerIdle. The timer is real time,
// like the transport's: it bounds a resource, not a protocol decision.
func (n *Node) runStream(f func()) {
	select {
	case n.work <- f:
		return
	default:
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		t := time.NewTimer(workerIdle)
		defer t.Stop()
		for {
			f()
			t.Reset(workerIdle)
			select {
			case f = <-n.work:
			case <-t.C:
				return
			case <-n.ctx.Done():
				return
			}
		}
	}()
}
