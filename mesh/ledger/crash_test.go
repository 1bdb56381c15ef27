package ledger

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

const crashEnv = "LEDGER_CRASH_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

// crashChild advances leaf-1 from where the ledger is, one by one, and
// prints each value once Advance has returned, until it is killed.
func crashChild(dir string) int {
	l, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_, v, err := l.Load("leaf-1")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for {
		v++
		if err := l.Advance("leaf-1", ep, v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Fprintln(os.Stdout, v) // unbuffered: in the pipe before the next write starts
	}
}

// TestSIGKILLKeepsWhatAdvanceReturned kills a process that advances the
// ledger as fast as it can, at arbitrary moments, and reopens it: the
// ledger holds at least the last value whose Advance returned, at most the
// one being written, and opens cleanly every time.
func TestSIGKILLKeepsWhatAdvanceReturned(t *testing.T) {
	dir := t.TempDir()
	for round := 0; round < 6; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		var last uint64
		for i := 0; i < 20+round*37 && sc.Scan(); i++ {
			last, _ = strconv.ParseUint(sc.Text(), 10, 64)
		}
		cmd.Process.Kill() // SIGKILL
		for sc.Scan() {    // whatever it printed before it died
			last, _ = strconv.ParseUint(sc.Text(), 10, 64)
		}
		cmd.Wait()
		if last == 0 {
			t.Fatalf("round %d: the child printed nothing", round)
		}
		l, err := Open(dir)
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		e, v, err := l.Load("leaf-1")
		l.Close()
		if err != nil {
			t.Fatal(err)
		}
		if e != ep {
			t.Fatalf("round %d: ledger holds epoch %x, want %x", round, e, ep)
		}
		if v < last || v > last+1 {
			t.Fatalf("round %d: ledger holds %d; the last returned Advance was %d", round, v, last)
		}
	}
}
