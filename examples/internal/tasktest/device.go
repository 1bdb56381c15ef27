//go:build !wasip1

package tasktest

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost"
	"github.com/dgraph-io/badger/v4"
)

// Manifest reads and validates dir/manifest.yaml with
// kernel.ParseDeployment, as canopy deploy does.
func Manifest(t testing.TB, dir string) *kernel.Deployment {
	t.Helper()
	dep, err := kernel.ParseDeployment(readFile(t, filepath.Join(dir, "manifest.yaml")))
	if err != nil {
		t.Fatalf("%s/manifest.yaml: %v", dir, err)
	}
	return dep
}

// Device is one wasmhost Host with its KV store (badger) on disk, as on a
// device. Restart closes everything and opens it again from the same
// directory. Devices of one test binary share an on-disk compilation cache
// (see Main).
type Device struct {
	t    testing.TB
	dir  string
	db   *badger.DB
	Host *wasmhost.Host
	logs *lockedBuffer
	// tasks started since the last restart, closed by Restart.
	tasks []*Task
}

// NewDevice starts a Device in a temporary directory; it is closed when
// the test ends.
func NewDevice(t testing.TB) *Device {
	d := &Device{t: t, dir: t.TempDir(), logs: &lockedBuffer{}}
	d.open()
	t.Cleanup(d.close)
	return d
}

func (d *Device) open() {
	t := d.t
	t.Helper()
	var err error
	d.db, err = badger.Open(badger.DefaultOptions(filepath.Join(d.dir, "kv")).WithLogger(nil))
	if err != nil {
		t.Fatalf("open badger: %v", err)
	}
	cache, err := sharedCache()
	if err != nil {
		t.Fatalf("compilation cache: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d.Host, err = wasmhost.New(context.Background(), wasmhost.Config{CacheDir: cache, DB: d.db, Logger: logger})
	if err != nil {
		t.Fatalf("wasmhost.New: %v", err)
	}
}

func (d *Device) close() {
	ctx := context.Background()
	for _, task := range d.tasks {
		task.inst.Close(ctx)
	}
	d.tasks = nil
	if d.Host != nil {
		if err := d.Host.Close(ctx); err != nil {
			d.t.Errorf("close host: %v", err)
		}
		d.Host = nil
	}
	if d.db != nil {
		if err := d.db.Close(); err != nil {
			d.t.Errorf("close badger: %v", err)
		}
		d.db = nil
	}
}

// Restart stops every task and the host, closes the KV store, and opens
// them again, keeping the disk: what a device reboot does.
func (d *Device) Restart() {
	d.t.Helper()
	d.close()
	d.open()
}

// Logs returns everything logged so far by the host and the tasks, as
// slog text lines.
func (d *Device) Logs() string { return d.logs.String() }

// MinCallTimeout is the smallest call timeout Start gives a task.
const MinCallTimeout = kernel.Duration(5 * time.Second)

// Start loads wasm and starts it as the task dep describes (its name,
// type, limits, publish grants and config), with config overriding
// dep.Config key by key. The call timeout is at least MinCallTimeout.
func (d *Device) Start(wasm []byte, dep *kernel.Deployment, config map[string]string) *Task {
	t := d.t
	t.Helper()
	ctx := context.Background()
	mod, err := d.Host.Load(ctx, wasm)
	if err != nil {
		t.Fatalf("load %s: %v", dep.Name, err)
	}
	cfg := make(map[string]string)
	for k, v := range dep.Config {
		cfg[k] = v
	}
	for k, v := range config {
		cfg[k] = v
	}
	limits := dep.Limits.WithDefaults()
	// The call timeout is wall-clock time: on a loaded test machine (or
	// under the race detector) a process descheduled for longer than a
	// manifest's 20ms would fail a test that is not about timing. Tests of
	// the timeout itself live in wasmhost.
	limits.CallTimeout = max(limits.CallTimeout, MinCallTimeout)
	task := &Task{}
	task.inst, err = d.Host.Instantiate(ctx, mod, wasmhost.TaskConfig{
		ID:        kernel.TaskID(dep.Name),
		Type:      dep.Type,
		Limits:    limits,
		Config:    cfg,
		Publish:   dep.Publish,
		Publisher: wasmhost.PublisherFunc(task.publish),
	})
	if err != nil {
		t.Fatalf("start %s: %v\nlogs:\n%s", dep.Name, err, d.Logs())
	}
	d.tasks = append(d.tasks, task)
	return task
}

// lockedBuffer is a bytes.Buffer safe for the host's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
