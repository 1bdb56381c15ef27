package outbox_test

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/devices/outbox"
)

// BenchmarkRecoveryAfterSIGKILL fills an outbox from a child process (8
// writers, 100-byte messages, no acks), SIGKILLs it once 20,000 appends
// have returned, and measures Open: badger's replay of its write-ahead log
// plus the outbox's index rebuild. Reported as ms per recovery.
func BenchmarkRecoveryAfterSIGKILL(b *testing.B) {
	const pending = 20_000
	var total, index time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir, childEnv+"_BASE=0", childEnv+"_NOACK=1")
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for n < pending && sc.Scan() {
			if strings.HasPrefix(sc.Text(), "A ") {
				n++
			}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if n < pending {
			b.Fatalf("child stopped after %d appends", n)
		}
		b.StartTimer()
		start := time.Now()
		o, err := outbox.Open(outbox.Config{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		index += o.Stats().Recovery
		b.StopTimer()
		if o.Len() < pending {
			b.Fatalf("recovered %d, want >= %d", o.Len(), pending)
		}
		o.Close()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/recovery")
	b.ReportMetric(float64(index.Milliseconds())/float64(b.N), "index-ms/recovery")
}
