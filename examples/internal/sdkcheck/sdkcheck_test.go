//go:build !wasip1

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/examples/internal/tasktest"
	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost"
)

func TestMain(m *testing.M) { tasktest.Main(m) }

func deployment(typ kernel.TaskType) *kernel.Deployment {
	return &kernel.Deployment{
		Name:    "sdkcheck",
		Type:    typ,
		Publish: []string{"check/#"},
		Limits:  kernel.Limits{KV: 64 * kernel.KiB, PublishRate: 20, CallTimeout: kernel.Duration(5e9)},
		Config: map[string]string{"greeting": "hello", "long": strings.Repeat("x", 3000),
			"n": "0x10", "ratio": "2.5", "flag": "true", "every": "250ms"},
	}
}

var checkLine = regexp.MustCompile(`msg="check name=(\S+) result=(.*?)" component=task`)

// results reads the check lines from the device's log.
func results(t *testing.T, logs string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for _, m := range checkLine.FindAllStringSubmatch(logs, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func assertAllOK(t *testing.T, logs string, extra ...string) {
	t.Helper()
	got := results(t, logs)
	for _, c := range checks {
		if r, ok := got[c.name]; !ok {
			t.Errorf("check %s did not run", c.name)
		} else if r != "ok" {
			t.Errorf("check %s: %s", c.name, r)
		}
	}
	for _, name := range extra {
		if got[name] != "ok" {
			t.Errorf("check %s: %q", name, got[name])
		}
	}
	for _, line := range []string{"level=DEBUG msg=\"debug line\"", `level=WARN msg="warn line k=\"v w\""`, `level=ERROR msg="error line 7"`} {
		if !strings.Contains(logs, line) {
			t.Errorf("log line %s missing", line)
		}
	}
	if t.Failed() {
		t.Logf("logs:\n%s", logs)
	}
}

func TestSDKInService(t *testing.T) {
	wasm := tasktest.BuildGo(t, ".")
	dev := tasktest.NewDevice(t)
	task := dev.Start(wasm, deployment(kernel.TypeService), nil)

	// Topics handed to the handler stay valid after the host reuses its
	// message region for later messages of the same size.
	for _, topic := range []string{"keep/aaaa", "keep/bbbb", "keep/cccc"} {
		if err := task.Send(topic, "payload"); err != nil {
			t.Fatal(err)
		}
	}
	if err := task.Send("cmd/verify-topics", "keep/aaaa,keep/bbbb,keep/cccc"); err != nil {
		t.Fatal(err)
	}
	// Messages much larger than the first region make the host ask for a
	// bigger one; the payload arrives intact.
	for _, n := range []int{10, 5000, 200 << 10, 100} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i % 251)
		}
		if err := task.Send("big", string(b)); err != nil {
			t.Fatalf("%d-byte message: %v", n, err)
		}
		if got := task.Take(); len(got) != 1 || got[0].Payload != strconv.Itoa(n) {
			t.Errorf("%d-byte message: handler saw %v", n, got)
		}
	}
	// A handler's error and a handler's panic are handler errors (codes 1
	// and 2) that the SDK logs; the task carries on.
	for _, c := range []struct {
		topic string
		code  int32
		log   string
	}{
		{"cmd/fail", 1, `msg="message handler failed topic=cmd/fail err=\"failed on purpose\""`},
		{"cmd/panic", 2, `msg="message handler panicked topic=cmd/panic panic=\"assignment to entry in nil map\""`},
	} {
		var he *wasmhost.HandlerError
		if err := task.Send(c.topic, ""); !errors.As(err, &he) || he.Code != c.code {
			t.Errorf("%s: err = %v, want a handler error with code %d", c.topic, err, c.code)
		}
		if !strings.Contains(dev.Logs(), c.log) {
			t.Errorf("%s: log line %s missing", c.topic, c.log)
		}
	}
	if err := task.Send("cmd/tick-panics", ""); err != nil {
		t.Fatal(err)
	}
	var he *wasmhost.HandlerError
	if err := task.Tick(); !errors.As(err, &he) || he.Code != 2 {
		t.Errorf("panicking tick: err = %v, want a handler error with code 2", err)
	}
	if err := task.Send("cmd/check", ""); err != nil {
		t.Fatal(err)
	}
	assertAllOK(t, dev.Logs(), "topics-stable")
}

func TestSDKInJob(t *testing.T) {
	// A job is a plain WASI command: go build without -buildmode=c-shared.
	out := filepath.Join(t.TempDir(), "job.wasm")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build job: %v\n%s", err, msg)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	dev := tasktest.NewDevice(t)
	task := dev.Start(wasm, deployment(kernel.TypeJob), nil)
	if err := task.Instance().Run(t.Context()); err != nil {
		t.Fatalf("run job: %v\nlogs:\n%s", err, dev.Logs())
	}
	assertAllOK(t, dev.Logs())
}

func TestCHeader(t *testing.T) {
	wasm := tasktest.BuildC(t, "csrc/check.c", "csrc/helper.c")
	dep := deployment(kernel.TypeService)
	dep.Config["ratio"] = "2.5"
	dev := tasktest.NewDevice(t)
	task := dev.Start(wasm, dep, nil)
	if err := task.Tick(); err != nil {
		t.Errorf("tick with CANOPY_NO_TICK_HANDLER: %v", err)
	}
	if err := task.Send("cmd/check", ""); err != nil {
		t.Fatal(err)
	}
	logs := dev.Logs()
	got := results(t, logs)
	names := []string{"kv-str", "kv-get-str", "kv-get-str-too-small", "kv-set-large", "kv-get-reports-length",
		"kv-get-large", "kv-missing", "kv-delete", "kv-deleted", "kv-empty-key", "kv-bad-pointer",
		"config-str", "config-missing", "config-double", "config-double-default",
		"publish-str", "publish-bytes", "publish-ungranted", "abi-version", "strerror"}
	for _, name := range names {
		if got[name] != "ok" {
			t.Errorf("check %s: %q", name, got[name])
		}
	}
	if len(got) != len(names) {
		t.Errorf("%d checks ran, want %d", len(got), len(names))
	}
	if !strings.Contains(logs, `level=WARN msg="warn line"`) {
		t.Error("canopy_log_str line missing")
	}
	if out := task.Take(); len(out) != 2 || out[0].Topic != "check/ok" || out[1].Topic != "check/bytes" || len(out[1].Payload) != 100 {
		t.Errorf("published %v", out)
	}
	if t.Failed() {
		t.Logf("logs:\n%s", logs)
	}
}
