package outbox_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/devices/outbox"
)

// The crash test re-executes the test binary as a child that appends (and
// acknowledges some) messages as fast as it can, printing "A id" after each
// Append returned and "K id" after each Ack returned. The parent SIGKILLs
// it mid-stream, reopens the outbox and checks that every printed append is
// there (unless acknowledged) and every printed ack is gone.
const childEnv = "CANOPY_OUTBOX_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(crashChild(dir, os.Getenv(childEnv+"_BASE")))
	}
	os.Exit(m.Run())
}

func crashChild(dir, base string) int {
	o, err := outbox.Open(outbox.Config{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	b, _ := strconv.Atoi(base)
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	say := func(s string) {
		mu.Lock()
		out.WriteString(s + "\n")
		out.Flush()
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range 8 { // concurrent writers, so group commit groups
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := 0; i < 1_000_000; i++ {
				id := fmt.Sprintf("%d-%d-%07d", b, w, i)
				if err := o.Append(ctx, outbox.Message{ID: id, Dest: fmt.Sprint("dest", w%3), Payload: []byte(strings.Repeat("p", 100))}); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
				say("A " + id)
				if i%4 == 0 && os.Getenv(childEnv+"_NOACK") == "" {
					if err := o.Ack(ctx, id); err != nil {
						fmt.Fprintln(os.Stderr, err)
						os.Exit(3)
					}
					say("K " + id)
				}
			}
		}()
	}
	wg.Wait()
	return 0
}

func TestSIGKILLLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	// id → state: must be pending, must be gone, or either (an ack was
	// issued but had not returned when the child died).
	const (
		mustBePending = iota + 1
		mustBeGone
		either
	)
	appended := map[string]int{}
	rng := rand.New(rand.NewPCG(1, 2))
	rounds := 6
	if raceEnabled {
		rounds = 3 // the race detector slows the child tenfold
	}
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir, fmt.Sprintf("%s_BASE=%d", childEnv, round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 200 + rng.IntN(4000) // lines
		r := bufio.NewReader(stdout)
		lines, killed := 0, false
		deadline := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
		for {
			line, err := r.ReadString('\n')
			if err == io.EOF || err != nil {
				break // a partial last line was cut by the kill: not acknowledged
			}
			kind, id, _ := strings.Cut(strings.TrimSpace(line), " ")
			switch kind {
			case "A":
				appended[id] = mustBePending
				if n, _ := strconv.Atoi(id[strings.LastIndexByte(id, '-')+1:]); n%4 == 0 {
					appended[id] = either // the child acks it next
				}
			case "K":
				appended[id] = mustBeGone
			}
			lines++
			if lines == killAfter && !killed {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		deadline.Stop()
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child did not die by SIGKILL: %v %s", round, err, stderr.String())
		}

		o, err := outbox.Open(outbox.Config{Dir: dir})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		present := map[string]bool{}
		for dest := range o.Destinations() {
			ms, err := o.Next(dest, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			last := map[string]string{} // writer → last id, to check order
			for _, m := range ms {
				present[m.ID] = true
				w := m.ID[:strings.LastIndexByte(m.ID, '-')]
				if prev, ok := last[w]; ok && prev >= m.ID {
					t.Fatalf("round %d: %s after %s in %s", round, m.ID, prev, dest)
				}
				last[w] = m.ID
			}
		}
		var lost, resurrected, pending int
		for id, want := range appended {
			switch {
			case want == mustBePending && !present[id]:
				lost++
			case want == mustBeGone && present[id]:
				resurrected++
			case present[id]:
				pending++
			}
		}
		t.Logf("round %d: killed after %d lines; %d acknowledged appends pending, recovery %s", round, lines, pending, o.Stats().Recovery)
		if lost > 0 || resurrected > 0 {
			t.Fatalf("round %d: %d acknowledged appends lost, %d acknowledged acks undone", round, lost, resurrected)
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
