package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/spf13/cobra"

	"github.com/canopy-fleet/canopy/devices/devmetrics"
	"github.com/canopy-fleet/canopy/devices/sensorsim"
	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost"
	"github.com/canopy-fleet/canopy/wasmhost/hostmetrics"
	"github.com/canopy-fleet/canopy/wasmhost/supervise"
)

// runOptions are `canopy run`'s flags beyond the task's grants and limits.
type runOptions struct {
	task      runFlags
	mqtt      string
	qos       int
	forD      time.Duration
	data      string
	cache     string
	simulate  int
	simRate   float64
	logLevel  string
	queueSize int
	metrics   string
}

func newRunCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [MODULE.wasm] [flags]",
		Short: "Run one task locally, in the same sandbox and limits as in a fleet",
		Long: `Run one task locally with no cluster: the same sandbox, host ABI and limits a
fleet uses, fed by MQTT. With no --mqtt, it uses the broker listening on
127.0.0.1:1883 or starts the embedded one there. A task stopped by a limit makes
canopy run exit 1 naming the limit.`,
		Example: `  canopy run alert.wasm --subscribe 'sensors/+/temperature' --publish 'alerts/#' --config threshold=30
  canopy run -f examples/temp-alert/manifest.yaml --simulate 4 --for 30s`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			module := ""
			if len(args) == 1 {
				module = args[0]
			}
			return runTask(cmd.Context(), cmd, module, &o)
		},
	}
	fs := cmd.Flags()
	o.task.register(fs)
	fs.StringVar(&o.mqtt, "mqtt", "", "MQTT broker URL (default: the broker on 127.0.0.1:1883, started embedded if none)")
	fs.IntVar(&o.qos, "qos", 1, "MQTT QoS for subscriptions and publishes: 0 or 1")
	fs.DurationVar(&o.forD, "for", 0, "stop after this long (default: until Ctrl-C, or until a job ends)")
	fs.StringVar(&o.data, "data", "", "directory for the task's KV store (default: in memory, gone at exit)")
	fs.StringVar(&o.cache, "cache", defaultCacheDir(), "compilation cache directory (empty: none)")
	fs.IntVar(&o.simulate, "simulate", 0, "also run N simulated sensors publishing on sensors/<id>/<kind>")
	fs.Float64Var(&o.simRate, "simulate-rate", 0, "simulated messages per second in all (default 2 per sensor)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.IntVar(&o.queueSize, "queue", 256, "messages that may wait for the task before new ones are dropped")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics while running, e.g. 127.0.0.1:9464")
	return cmd
}

func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "canopy", "wasm")
	}
	return ""
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func runTask(ctx context.Context, cmd *cobra.Command, module string, o *runOptions) error {
	log, err := newLogger(cmd.ErrOrStderr(), o.logLevel)
	if err != nil {
		return err
	}
	if o.qos != 0 && o.qos != 1 {
		return usageError{fmt.Errorf("--qos must be 0 or 1, got %d", o.qos)}
	}
	if o.simulate < 0 || o.simRate < 0 || o.forD < 0 || o.queueSize < 1 {
		return usageError{errors.New("--simulate, --simulate-rate and --for must not be negative, --queue must be positive")}
	}
	d, modulePath, err := o.task.deployment(cmd.Flags(), module)
	if err != nil {
		return err
	}
	wasm, err := os.ReadFile(modulePath)
	if err != nil {
		return fmt.Errorf("read module: %w", err)
	}
	metrics, err := startRunMetrics(o.metrics, log)
	if err != nil {
		return err
	}
	defer metrics.Close()

	var db *badger.DB
	if o.data != "" {
		db, err = badger.Open(badger.DefaultOptions(filepath.Join(o.data, "kv")).WithLogger(nil))
		if err != nil {
			return fmt.Errorf("open KV store in %s: %w", o.data, err)
		}
		defer db.Close()
	}
	host, err := wasmhost.New(ctx, wasmhost.Config{CacheDir: o.cache, DB: db, Logger: log})
	if err != nil {
		return err
	}
	defer host.Close(context.Background())
	mod, err := host.Load(ctx, wasm)
	if err != nil {
		return fmt.Errorf("load %s: %w", modulePath, err)
	}
	if d.Type == "" {
		d.Type = kernel.TypeService
		if mod.IsCommand() {
			d.Type = kernel.TypeJob
		}
		if err := validateRun(d); err != nil {
			return err
		}
	}
	if len(d.Subscribe) > 0 && !mod.Exports(wasmhost.ExportOnMessage) {
		return fmt.Errorf("%s subscribes to %s but does not export %s", modulePath, d.Subscribe[0].Topic, wasmhost.ExportOnMessage)
	}
	if d.Tick > 0 && !mod.Exports(wasmhost.ExportOnTick) {
		return fmt.Errorf("%s has a tick of %s but does not export %s", modulePath, d.Tick, wasmhost.ExportOnTick)
	}

	client, emb, stopMQTT, err := connectMQTT(ctx, o.mqtt, log)
	if err != nil {
		return err
	}
	defer stopMQTT()
	metrics.add(log, devmetrics.NewMQTTClient(client))
	if emb != nil {
		metrics.add(log, devmetrics.NewBroker(emb))
	}
	pub := newAsyncPublisher(ctx, client, byte(o.qos), 4096, log)

	tcfg := wasmhost.TaskConfig{
		ID:        kernel.TaskID(d.Name),
		Type:      d.Type,
		Limits:    d.Limits,
		Config:    d.Config,
		Publish:   d.Publish,
		Publisher: pub,
		Logger:    log,
	}
	sup, err := supervise.Start(ctx, supervise.Config{
		Host: host, Module: mod, Task: tcfg, Restart: d.Restart, Tick: d.Tick.D(),
		QueueSize: o.queueSize, Logger: log,
		OnChange: func(s supervise.Status) {
			if s.State != kernel.TaskFailed && s.State != kernel.TaskBackoff { // the supervisor logs failures
				log.Info("task "+string(s.State), "task", s.Task, "restarts", s.Restarts)
			}
		},
	})
	if err != nil {
		pub.Close()
		return err
	}
	metrics.add(log, hostmetrics.New(hostmetrics.Supervisors(sup)))
	for _, s := range d.Subscribe {
		// Deliver counts what it drops (Status().Usage.Dropped).
		err := client.Subscribe(ctx, s.Topic, byte(o.qos), func(topic string, payload []byte) {
			sup.Deliver(topic, payload)
		})
		if err != nil {
			sup.Stop()
			pub.Close()
			return fmt.Errorf("subscribe %s: %w", s.Topic, err)
		}
	}
	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	simDone := startSimulator(simCtx, o, client, log)

	var timeout <-chan time.Time
	if o.forD > 0 {
		t := time.NewTimer(o.forD)
		defer t.Stop()
		timeout = t.C
	}
	var runErr error
	select {
	case <-sup.Done():
		runErr = sup.Wait()
	case <-timeout:
		sup.Stop()
	case <-ctx.Done():
		sup.Stop()
	}
	stopSim()
	<-simDone
	pub.Close()
	st := sup.Status()
	log.Info("task ended", "task", d.Name, "state", st.State, "messages", st.Usage.Messages,
		"handlerErrors", st.Usage.HandlerErrors, "dropped", st.Usage.Dropped, "restarts", st.Restarts)
	switch {
	case errors.Is(runErr, wasmhost.ErrInvalidTask): // already names the task
		return runErr
	case runErr != nil:
		return fmt.Errorf("task %s stopped: %w", d.Name, runErr)
	}
	return nil
}

// startSimulator runs o.simulate simulated sensors publishing to client until
// ctx ends. The returned channel closes when it has stopped.
func startSimulator(ctx context.Context, o *runOptions, client interface {
	Publish(context.Context, string, []byte, byte) error
}, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	if o.simulate == 0 {
		close(done)
		return done
	}
	rate := o.simRate
	if rate == 0 {
		rate = 2 * float64(o.simulate)
	}
	dur := o.forD
	if dur == 0 {
		dur = 24 * 365 * time.Hour // bounded by ctx (Ctrl-C) in practice
	}
	go func() {
		defer close(done)
		st, err := sensorsim.Run(ctx, sensorsim.Config{Sensors: o.simulate, Rate: rate, Duration: dur, Seed: uint64(time.Now().UnixNano())},
			func(ctx context.Context, topic string, payload []byte) error {
				return client.Publish(ctx, topic, payload, 0)
			})
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("sensor simulator stopped", "err", err)
		}
		log.Debug("sensor simulator done", "stats", fmt.Sprintf("%+v", st))
	}()
	return done
}
