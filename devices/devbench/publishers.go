package devbench

import (
	"context"
	"sync"
)

// publisherPool publishes from several goroutines, each waiting for its
// message's acknowledgement: QoS 1 devices in flight at once.
type publisherPool struct {
	in   chan pubMsg
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
	stop context.CancelFunc
}

type pubMsg struct {
	topic   string
	payload []byte
}

func newPublisherPool(ctx context.Context, n int, pub func(context.Context, string, []byte) error) *publisherPool {
	ctx, cancel := context.WithCancel(ctx)
	p := &publisherPool{in: make(chan pubMsg, n), stop: cancel}
	for range n {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for m := range p.in {
				if err := pub(ctx, m.topic, m.payload); err != nil {
					p.mu.Lock()
					if p.err == nil {
						p.err = err
					}
					p.mu.Unlock()
					cancel()
				}
			}
		}()
	}
	return p
}

// submit hands a message to a free publisher, waiting while all are busy.
func (p *publisherPool) submit(ctx context.Context, topic string, payload []byte) error {
	p.mu.Lock()
	err := p.err
	p.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case p.in <- pubMsg{topic, payload}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close waits for the messages in hand and returns the first error.
func (p *publisherPool) close() error {
	close(p.in)
	p.wg.Wait()
	p.stop()
	return p.err
}
