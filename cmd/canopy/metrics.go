package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newMetricsRegistry returns a registry of its own (never the global one)
// holding the Go runtime and process collectors, canopy_build_info, and cs:
// the component collectors of devices/devmetrics, mesh/meshmetrics and
// wasmhost/hostmetrics, which read their components at scrape time. More
// may be registered later with Register, e.g. as components start.
//
// `canopy server` and `canopy agent` build theirs the same way and mount
// metricsHandler(reg) at /metrics on their API mux.
func newMetricsRegistry(cs ...prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "canopy_build_info",
		Help:        "Always 1; the labels name the running canopy's version and commit.",
		ConstLabels: prometheus.Labels{"version": version, "commit": buildCommit()},
	})
	build.Set(1)
	all := append([]prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build,
	}, cs...)
	for _, c := range all {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return reg, nil
}

func buildCommit() string {
	if commit != "" {
		return commit
	}
	return vcsRevision()
}

// metricsHandler serves reg's metrics in the Prometheus text format (or
// OpenMetrics when asked). A collector that fails is reported in the
// response and the rest are still served.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:      reg, // promhttp_metric_handler_* about the endpoint itself
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       10 * time.Second,
	})
}

// metricsServer serves /metrics on a listener of its own (canopy run
// --metrics).
type metricsServer struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// listenMetrics binds addr at once, so a bad or busy address fails the
// command before anything starts, and serves reg at /metrics until Close.
func listenMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metricsHandler(reg))
	m := &metricsServer{
		ln:   ln,
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan struct{}),
	}
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server stopped", "err", err)
		}
	}()
	log.Info("serving metrics", "url", "http://"+m.Addr()+"/metrics")
	return m, nil
}

// Addr is the bound address (a ":0" port resolved).
func (m *metricsServer) Addr() string { return m.ln.Addr().String() }

// Close stops serving, giving a scrape in progress a second to finish.
func (m *metricsServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := m.srv.Shutdown(ctx); err != nil {
		m.srv.Close()
	}
	<-m.done
}

// runMetrics is canopy run's metrics endpoint. A nil *runMetrics (no
// --metrics) ignores add and Close.
type runMetrics struct {
	reg *prometheus.Registry
	srv *metricsServer
}

// startRunMetrics serves the process's metrics at addr; "" serves nothing
// and returns nil.
func startRunMetrics(addr string, log *slog.Logger) (*runMetrics, error) {
	if addr == "" {
		return nil, nil
	}
	reg, err := newMetricsRegistry()
	if err != nil {
		return nil, err
	}
	srv, err := listenMetrics(addr, reg, log)
	if err != nil {
		return nil, err
	}
	return &runMetrics{reg, srv}, nil
}

// add registers the collectors of components as the run starts them.
func (m *runMetrics) add(log *slog.Logger, cs ...prometheus.Collector) {
	if m == nil {
		return
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			log.Warn("metrics: collector not registered", "err", err)
		}
	}
}

// Close stops serving.
func (m *runMetrics) Close() {
	if m != nil {
		m.srv.Close()
	}
}
