package mqttclient

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Writes from many goroutines arrive whole and in each writer's order;
// Close sends what is still buffered.
func TestBufferedConnCoalescesInOrder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(c)
		got <- b
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := newBufferedConn(raw)
	const writers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := fmt.Fprintf(c, "<%d:%d>", w, i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	b := <-got
	next := make([]int, writers)
	n := 0
	for len(b) > 0 {
		var w, i int
		end := bytes.IndexByte(b, '>')
		if end < 0 {
			t.Fatalf("torn record at %q", b)
		}
		if _, err := fmt.Sscanf(string(b[:end+1]), "<%d:%d>", &w, &i); err != nil {
			t.Fatalf("record %q: %v", b[:end+1], err)
		}
		if i != next[w] {
			t.Fatalf("writer %d: got %d, want %d", w, i, next[w])
		}
		next[w]++
		n++
		b = b[end+1:]
	}
	if n != writers*each {
		t.Fatalf("received %d records, want %d", n, writers*each)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

// A failed socket write is reported by a later Write.
func TestBufferedConnReportsWriteErrors(t *testing.T) {
	a, b := net.Pipe()
	c := newBufferedConn(a)
	b.Close() // the peer is gone: writes on a fail
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := c.Write([]byte("hello")); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writes keep succeeding on a dead connection")
		}
		time.Sleep(time.Millisecond)
	}
	c.Close()
}
