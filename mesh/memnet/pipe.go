package memnet

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// errAborted is what reads and writes get after Abort or a closed connection.
var errAborted = errors.New("memnet: stream aborted")

// half is one direction of a stream: a bounded buffer with end-of-stream,
// abort and a broadcast channel that wakes waiters on every change.
type half struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	limit  int
	eof    bool
	err    error
	wake   chan struct{}
	done   bool
	onDone func()
}

func newHalf(limit int, onDone func()) *half {
	return &half{limit: limit, wake: make(chan struct{}), onDone: onDone}
}

func (h *half) broadcastLocked() {
	close(h.wake)
	h.wake = make(chan struct{})
	if !h.done && (h.eof || h.err != nil) {
		h.done = true
		if h.onDone != nil {
			go h.onDone()
		}
	}
}

func wait(ch <-chan struct{}, deadline time.Time) error {
	if deadline.IsZero() {
		<-ch
		return nil
	}
	d := time.Until(deadline)
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
}

func (h *half) read(p []byte, deadline func() time.Time) (int, error) {
	h.mu.Lock()
	for {
		if h.err != nil {
			h.mu.Unlock()
			return 0, h.err
		}
		if h.buf.Len() > 0 {
			n, _ := h.buf.Read(p)
			h.broadcastLocked()
			h.mu.Unlock()
			return n, nil
		}
		if h.eof {
			h.mu.Unlock()
			return 0, io.EOF
		}
		ch := h.wake
		h.mu.Unlock()
		if err := wait(ch, deadline()); err != nil {
			return 0, err
		}
		h.mu.Lock()
	}
}

func (h *half) write(p []byte, deadline func() time.Time) (int, error) {
	n := 0
	h.mu.Lock()
	for len(p) > 0 {
		if h.err != nil {
			h.mu.Unlock()
			return n, h.err
		}
		if h.eof {
			h.mu.Unlock()
			return n, errors.New("memnet: write after CloseWrite")
		}
		if room := h.limit - h.buf.Len(); room > 0 {
			k := min(room, len(p))
			h.buf.Write(p[:k])
			p, n = p[k:], n+k
			h.broadcastLocked()
			continue
		}
		ch := h.wake
		h.mu.Unlock()
		if err := wait(ch, deadline()); err != nil {
			return n, err
		}
		h.mu.Lock()
	}
	h.mu.Unlock()
	return n, nil
}

func (h *half) closeWrite() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.eof {
		h.eof = true
		h.broadcastLocked()
	}
}

func (h *half) abort() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		h.err = errAborted
		h.broadcastLocked()
	}
}

// stream is one end of an in-memory stream.
type stream struct {
	in, out *half
	mu      sync.Mutex
	dl      time.Time
}

func (s *stream) deadline() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dl
}

func (s *stream) Read(p []byte) (int, error)  { return s.in.read(p, s.deadline) }
func (s *stream) Write(p []byte) (int, error) { return s.out.write(p, s.deadline) }
func (s *stream) CloseWrite() error           { s.out.closeWrite(); return nil }
func (s *stream) Abort()                      { s.in.abort(); s.out.abort() }
func (s *stream) SetDeadline(t time.Time) error {
	s.mu.Lock()
	s.dl = t
	s.mu.Unlock()
	// Wake waiters so they re-read the deadline.
	for _, h := range []*half{s.in, s.out} {
		h.mu.Lock()
		close(h.wake)
		h.wake = make(chan struct{})
		h.mu.Unlock()
	}
	return nil
}
