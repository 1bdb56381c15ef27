package mosquitto

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

func TestStartKillRestart(t *testing.T) {
	if !Installed("") {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing: CI needs mosquitto", DefaultBinary)
		}
		t.Skip("mosquitto not installed")
	}
	ctx := context.Background()
	p, err := Start(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	dialable := func() bool {
		c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	if !dialable() || p.PID() == 0 {
		t.Fatal("not listening after Start")
	}
	p.Kill()
	if dialable() || p.PID() != 0 {
		t.Fatal("still listening after Kill")
	}
	if err := p.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if !dialable() {
		t.Fatal("not listening after Restart")
	}
	// A second broker on the same port fails to start, with an error.
	if _, err := Start(ctx, Config{Port: p.cfg.Port}); err == nil {
		t.Fatal("second broker on a used port started")
	}
}

func TestNotInstalled(t *testing.T) {
	_, err := Start(context.Background(), Config{Binary: "/nonexistent/mosquitto"})
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("want ErrNotInstalled, got %v", err)
	}
}
