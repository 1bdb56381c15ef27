package wasmhost

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Config configures a Host. The zero value is valid: an in-memory
// compilation cache, an in-memory badger for KV and a discarding logger.
type Config struct {
	// CacheDir holds the on-disk compilation cache and the instrumented
	// module cache. Empty means in memory only (every process recompiles).
	CacheDir string
	// DB holds task KV namespaces (keys prefixed by task id). Nil means an
	// in-memory badger owned and closed by the Host.
	DB *badger.DB
	// Logger receives the host's own log lines. Nil discards them.
	Logger *slog.Logger
	// WatchdogInterval is how often the watchdog looks for calls past their
	// timeout; a call is stopped between its timeout and its timeout plus
	// this interval. Zero means 5ms.
	WatchdogInterval time.Duration
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.WatchdogInterval < 0 {
		errs = append(errs, fmt.Errorf("watchdogInterval: negative (%s)", c.WatchdogInterval))
	}
	if c.CacheDir != "" {
		if fi, err := os.Stat(c.CacheDir); err == nil && !fi.IsDir() {
			errs = append(errs, fmt.Errorf("cacheDir: %s is not a directory", c.CacheDir))
		}
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.WatchdogInterval == 0 {
		c.WatchdogInterval = 5 * time.Millisecond
	}
	return c
}

// Host runs tasks. It is safe for concurrent use; create one per process.
type Host struct {
	cfg   Config
	log   *slog.Logger
	rt    wazero.Runtime
	cache wazero.CompilationCache
	db    *badger.DB
	ownDB bool
	wd    *watchdog
	// modConfig is every task's module configuration but its stdout and
	// stderr: no name (instances are anonymous), no start functions (the
	// host calls them under limits), real clocks, crypto/rand. No args,
	// environment or filesystem.
	modConfig wazero.ModuleConfig
	slots     slotPool
	closeMu   sync.Mutex
	closed    bool
}

// New creates the Host: one wazero runtime (compiler engine, cached
// compilation), WASI preview 1 and the canopy host module.
func New(ctx context.Context, cfg Config) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("wasmhost config: %w", err)
	}
	cfg = cfg.withDefaults()
	h := &Host{cfg: cfg, log: cfg.Logger.With("component", "wasmhost")}
	h.modConfig = wazero.NewModuleConfig().WithName("").WithStartFunctions().
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
	var err error
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(filepath.Join(cfg.CacheDir, "instrumented"), 0o755); err != nil {
			return nil, fmt.Errorf("wasmhost cache dir: %w", err)
		}
		h.cache, err = wazero.NewCompilationCacheWithDir(filepath.Join(cfg.CacheDir, "compiled"))
		if err != nil {
			return nil, fmt.Errorf("wasmhost compilation cache: %w", err)
		}
	} else {
		h.cache = wazero.NewCompilationCache()
	}
	h.db = cfg.DB
	if h.db == nil {
		opts := badger.DefaultOptions("").WithInMemory(true).WithLogger(nil)
		if h.db, err = badger.Open(opts); err != nil {
			return nil, fmt.Errorf("wasmhost in-memory kv: %w", err)
		}
		h.ownDB = true
	}
	// NewRuntimeConfig picks the optimizing compiler where wazero has one
	// (amd64, arm64) and the interpreter elsewhere (32-bit Pis, riscv64),
	// so every device runs tasks; the benchmark score tells them apart.
	rc := wazero.NewRuntimeConfig().WithCompilationCache(h.cache)
	h.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, h.rt); err != nil {
		h.Close(ctx)
		return nil, fmt.Errorf("wasmhost wasi: %w", err)
	}
	if err := instantiateABI(ctx, h.rt); err != nil {
		h.Close(ctx)
		return nil, fmt.Errorf("wasmhost abi: %w", err)
	}
	h.wd = newWatchdog(cfg.WatchdogInterval)
	return h, nil
}

// Close stops the watchdog, closes every module and instance, the runtime,
// the compilation cache and the in-memory KV (a Config.DB stays open).
func (h *Host) Close(ctx context.Context) error {
	h.closeMu.Lock()
	defer h.closeMu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	var errs []error
	if h.wd != nil {
		h.wd.stop()
	}
	if h.rt != nil {
		errs = append(errs, h.rt.Close(ctx))
	}
	if h.cache != nil {
		errs = append(errs, h.cache.Close(ctx))
	}
	if h.ownDB && h.db != nil {
		errs = append(errs, h.db.Close())
	}
	return errors.Join(errs...)
}
