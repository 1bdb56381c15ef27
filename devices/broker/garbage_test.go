package broker_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/devices/broker"
)

// Malformed packets close the sender's connection; the broker keeps
// serving everyone else.
func TestMalformedPacketsCloseTheConnection(t *testing.T) {
	b := start(t, broker.Config{})
	for name, raw := range map[string][]byte{
		"not mqtt":                     []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"publish before connect":       {0x30, 0x05, 0x00, 0x01, 'a', 'h', 'i'},
		"bad remaining length":         {0x10, 0xff, 0xff, 0xff, 0xff, 0x7f},
		"connect, wrong protocol name": {0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'X', 'X', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00},
	} {
		c, err := net.DialTimeout("tcp", b.Addr(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(raw); err != nil {
			t.Fatalf("%s: write: %v", name, err)
		}
		// The broker may answer (a CONNACK with an error code) but must
		// then close: reading reaches EOF or a reset, not the deadline.
		_, err = io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%s: connection left open", name)
		}
		c.Close()
	}
	// A wildcard in a publish topic is a protocol violation: the sender is
	// disconnected and nothing is delivered; the next client is served.
	got := make(chan string, 4)
	if err := b.Subscribe("#", 1, func(topic string, _ []byte) { got <- topic }); err != nil {
		t.Fatal(err)
	}
	connect := []byte{0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x01, 'r'}
	bad := append(append([]byte(nil), connect...), 0x30, 0x06, 0x00, 0x03, 'a', '/', '+', 'x')
	c, err := net.DialTimeout("tcp", b.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(bad); err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("wildcard publisher left connected")
	}
	c.Close()
	good := append(append([]byte(nil), connect...), 0x30, 0x07, 0x00, 0x04, 'o', 'k', '/', 'x', 'y')
	c, err = net.DialTimeout("tcp", b.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(good); err != nil {
		t.Fatal(err)
	}
	if topic := recv(t, got); topic != "ok/x" {
		t.Fatalf("got %q first, want ok/x", topic)
	}
}
