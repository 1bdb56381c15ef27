package wasmhost

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost/testmodules"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testmodules.Cleanup()
	os.Exit(code)
}

// module returns a test guest's bytes (see package testmodules).
func module(t testing.TB, name string) []byte {
	t.Helper()
	b, err := testmodules.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newHost makes a Host with its cache and a real badger in t.TempDir().
func newHost(t testing.TB) *Host {
	t.Helper()
	dir := t.TempDir()
	db, err := badger.Open(badger.DefaultOptions(dir + "/kv").WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(context.Background(), Config{CacheDir: dir + "/cache", DB: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close(context.Background())
		db.Close()
	})
	return h
}

// published records what a task publishes.
type published struct {
	mu   sync.Mutex
	msgs []string // "topic payload"
}

func (p *published) Publish(_ context.Context, topic string, payload []byte) error {
	p.mu.Lock()
	p.msgs = append(p.msgs, topic+" "+string(payload))
	p.mu.Unlock()
	return nil
}

func (p *published) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

// logLines collects log records.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.lines = append(l.lines, r.Level.String()+" "+r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }
func (l *logLines) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, substr) {
			n++
		}
	}
	return n
}

// start loads the guest module and starts a service with cfg (ID defaults).
func start(t testing.TB, h *Host, name string, cfg TaskConfig) *Instance {
	t.Helper()
	m, err := h.Load(context.Background(), module(t, name))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ID == "" {
		cfg.ID = kernel.TaskID(strings.ReplaceAll(t.Name(), "/", "-"))
	}
	i, err := h.Instantiate(context.Background(), m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { i.Close(context.Background()) })
	return i
}

func slogger(l *logLines) *slog.Logger { return slog.New(l) }
