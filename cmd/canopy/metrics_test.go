package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/canopy-fleet/canopy/devices/mqttclient"
)

// TestRunServesMetrics scrapes `canopy run --metrics` while a task runs and
// handles messages: the process's Go and process metrics, the MQTT client's
// and the task's are there, and the endpoint goes away with the run.
func TestRunServesMetrics(t *testing.T) {
	url := startBroker(t)
	mod := writeModule(t, "guest")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub, err := mqttclient.Dial(ctx, mqttclient.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	var stderr syncBuffer
	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		root := newRootCmd(io.Discard, &stderr)
		root.SetArgs([]string{"run", mod, "--mqtt", url, "--subscribe", "echo", "--cache", "", "--metrics", "127.0.0.1:0"})
		done <- root.ExecuteContext(runCtx)
	}()

	addr := regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+/metrics)`)
	var metricsURL string
	for metricsURL == "" {
		if m := addr.FindStringSubmatch(stderr.String()); m != nil {
			metricsURL = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("canopy run ended before serving metrics: %v\n%s", err, stderr.String())
		case <-ctx.Done():
			t.Fatalf("no metrics address logged:\n%s", stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}

	// Publish until the task has handled three messages, as the endpoint
	// says.
	handled := regexp.MustCompile(`canopy_task_messages_total\{task="guest"\} (\d+)`)
	var body string
	for {
		body = scrape(t, metricsURL)
		if m := handled.FindStringSubmatch(body); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= 3 {
				break
			}
		}
		if err := pub.Publish(ctx, "echo", []byte("x"), 1); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			t.Fatalf("canopy run ended early: %v", err)
		case <-ctx.Done():
			t.Fatalf("the task never handled three messages:\n%s", body)
		case <-time.After(50 * time.Millisecond):
		}
	}
	for _, want := range []string{
		"go_goroutines ",
		"process_resident_memory_bytes ",
		"canopy_build_info{",
		"canopy_mqtt_client_connected 1",
		`canopy_task_state{state="running",task="guest"} 1`,
		`canopy_task_failures_total{cause="trap",task="guest"} 0`,
		`canopy_task_queue_overflow_total{task="guest"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	// The whole exposition parses (compared on a name it lacks).
	if err := testutil.ScrapeAndCompare(metricsURL, strings.NewReader(""), "no_such_metric"); err != nil {
		t.Errorf("scrape does not parse: %v", err)
	}

	stopRun()
	if err := <-done; err != nil {
		t.Fatalf("canopy run after Ctrl-C: %v", err)
	}
	if _, err := http.Get(metricsURL); err == nil {
		t.Error("the metrics endpoint still answers after the run")
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}

// TestRunMetricsBadAddress: an address that cannot be bound fails the run
// before the task starts, naming the flag.
func TestRunMetricsBadAddress(t *testing.T) {
	mod := writeModule(t, "guest")
	err, _, _ := canopyRun(context.Background(), "run", mod, "--mqtt", "tcp://127.0.0.1:1", "--cache", "", "--metrics", "127.0.0.1:nope")
	if err == nil || !strings.Contains(err.Error(), "--metrics 127.0.0.1:nope") {
		t.Fatalf("err = %v, want one naming --metrics", err)
	}
}

// TestMetricsRegistryLint: the registry canopy server and agent start from
// is promlint clean.
func TestMetricsRegistryLint(t *testing.T) {
	reg, err := newMetricsRegistry()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
