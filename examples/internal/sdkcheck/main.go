// Command sdkcheck is a task that exercises every call of sdk/go against a
// real host and logs one line per check ("check name=... result=ok" or the
// failure). Its test runs it in wasmhost both as a service (built with
// -buildmode=c-shared; the checks run when it gets a message on
// "cmd/check") and as a job (a plain build; main runs the checks). It
// expects the grants and limits its test gives it: publish check/#, kv
// 64KiB, and config greeting=hello plus a 3000-byte value under long.
// csrc/ holds its C twin, which checks sdk/c/canopy.h the same way.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	canopy "github.com/canopy-fleet/canopy/sdk/go"
)

// kept holds topic strings from earlier messages, to check that they stay
// valid after the host reuses its message region.
var kept []string

func init() {
	canopy.OnMessage(func(topic string, data []byte) error {
		switch {
		case topic == "cmd/check":
			runChecks()
		case topic == "cmd/fail":
			return errors.New("failed on purpose")
		case topic == "cmd/panic":
			var m map[string]int
			m["x"] = 1 // a nil map write: a runtime panic
		case topic == "cmd/tick-panics":
			canopy.OnTick(func() error { panic("tick panic on purpose") })
		case topic == "cmd/verify-topics":
			for i, want := range strings.Split(string(data), ",") {
				if i >= len(kept) || kept[i] != want {
					return fmt.Errorf("kept topics %q, want %q", kept, data)
				}
			}
			canopy.Info("check", "name", "topics-stable", "result", "ok")
		case strings.HasPrefix(topic, "keep/"):
			kept = append(kept, topic)
		case topic == "big":
			// A payload of len(data) bytes with byte i = i%251.
			for i, b := range data {
				if b != byte(i%251) {
					return fmt.Errorf("big payload: byte %d is %d, want %d", i, b, i%251)
				}
			}
			return canopy.Publish("check/big-len", fmt.Appendf(nil, "%d", len(data)))
		}
		return nil
	})
}

func main() { runChecks() }

type check struct {
	name string
	run  func() error
}

func runChecks() {
	for _, c := range checks {
		result := "ok"
		if err := c.run(); err != nil {
			result = err.Error()
		}
		canopy.Info("check", "name", c.name, "result", result)
	}
}

// want returns nil if err is target, else an error saying what it was.
func want(err, target error) error {
	if errors.Is(err, target) {
		return nil
	}
	return fmt.Errorf("got %v, want %v", err, target)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

var checks = []check{
	{"kv-small", func() error {
		if err := canopy.KV.Set("a", []byte("1")); err != nil {
			return err
		}
		v, err := canopy.KV.Get("a")
		if err != nil || string(v) != "1" {
			return fmt.Errorf("get: %q, %v", v, err)
		}
		return nil
	}},
	{"kv-large", func() error { // past the SDK's 512-byte scratch: the retry path
		big := pattern(10000)
		if err := canopy.KV.Set("big", big); err != nil {
			return err
		}
		v, err := canopy.KV.Get("big")
		if err != nil || !bytes.Equal(v, big) {
			return fmt.Errorf("get: %d bytes, %v", len(v), err)
		}
		return canopy.KV.Delete("big")
	}},
	{"kv-empty-value", func() error {
		if err := canopy.KV.Set("e", nil); err != nil {
			return err
		}
		v, err := canopy.KV.Get("e")
		if err != nil || v == nil || len(v) != 0 {
			return fmt.Errorf("get: %q (nil %v), %v", v, v == nil, err)
		}
		return nil
	}},
	{"kv-missing", func() error { _, err := canopy.KV.Get("nope"); return want(err, canopy.ErrNotFound) }},
	{"kv-delete-missing", func() error { return canopy.KV.Delete("nope") }},
	{"kv-delete", func() error {
		if err := canopy.KV.Delete("a"); err != nil {
			return err
		}
		_, err := canopy.KV.Get("a")
		return want(err, canopy.ErrNotFound)
	}},
	{"kv-empty-key", func() error { return want(canopy.KV.Set("", []byte("x")), canopy.ErrInvalidArgument) }},
	{"kv-quota", func() error { return want(canopy.KV.Set("huge", pattern(100<<10)), canopy.ErrQuotaExceeded) }},
	{"config", func() error {
		if v, ok := canopy.Config("greeting"); !ok || v != "hello" {
			return fmt.Errorf("greeting: %q, %v", v, ok)
		}
		if v, ok := canopy.Config("absent"); ok {
			return fmt.Errorf("absent: %q", v)
		}
		if v := canopy.ConfigOr("absent", "def"); v != "def" {
			return fmt.Errorf("ConfigOr: %q", v)
		}
		if v, ok := canopy.Config("long"); !ok || v != strings.Repeat("x", 3000) {
			return fmt.Errorf("long: %d bytes, %v", len(v), ok)
		}
		return nil
	}},
	{"config-typed", func() error {
		if v, err := canopy.ConfigInt("n", 1); v != 16 || err != nil {
			return fmt.Errorf("ConfigInt: %v, %v", v, err)
		}
		if v, err := canopy.ConfigFloat("ratio", 1); v != 2.5 || err != nil {
			return fmt.Errorf("ConfigFloat: %v, %v", v, err)
		}
		if v, err := canopy.ConfigBool("flag", false); !v || err != nil {
			return fmt.Errorf("ConfigBool: %v, %v", v, err)
		}
		if v, err := canopy.ConfigDuration("every", 0); v != 250*time.Millisecond || err != nil {
			return fmt.Errorf("ConfigDuration: %v, %v", v, err)
		}
		if v, err := canopy.ConfigInt("absent", 7); v != 7 || err != nil {
			return fmt.Errorf("ConfigInt default: %v, %v", v, err)
		}
		if _, err := canopy.ConfigFloat("greeting", 0); err == nil || err.Error() != `config greeting: "hello" is not a finite number` {
			return fmt.Errorf("ConfigFloat of hello: %v", err)
		}
		return nil
	}},
	{"publish", func() error { return canopy.PublishString("check/ok", "x") }},
	{"publish-empty", func() error { return canopy.Publish("check/empty", nil) }},
	{"publish-ungranted", func() error { return want(canopy.Publish("secret/x", nil), canopy.ErrNotPermitted) }},
	{"publish-too-large", func() error {
		return want(canopy.Publish("check/huge", make([]byte, 300<<10)), canopy.ErrTooLarge)
	}},
	{"log", func() error {
		canopy.Log(canopy.LevelDebug, "debug line")
		canopy.Warn("warn line", "k", "v w")
		canopy.Logf(canopy.LevelError, "error line %d", 7)
		return nil
	}},
	// Last: it uses up the publish budget.
	{"publish-rate-limited", func() error {
		for i := range 1000 {
			err := canopy.Publish("check/flood", nil)
			if errors.Is(err, canopy.ErrRateLimited) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("publish %d: %v", i, err)
			}
		}
		return errors.New("1000 publishes and never rate limited")
	}},
}
