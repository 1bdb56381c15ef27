package mesh

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/ledger"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// The child root of TestOutboxLedgerSIGKILL runs in a process of its own,
// this test binary started again with these variables set.
const (
	killChildEnv  = "MESH_LEDGER_CHILD" // the work directory
	killListenEnv = "MESH_LEDGER_LISTEN"
)

// killTimers detect a dead root within about a second on real sockets.
var killTimers = Config{HeartbeatInterval: 200 * time.Millisecond, LostAfter: time.Second, ReportInterval: time.Second,
	ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond, OutboxPoll: 20 * time.Millisecond, DialTimeout: time.Second}

func killNetwork(ca *identity.CA, dir string, name kernel.NodeName, role kernel.Role) (*quicnet.Network, error) {
	auth := &identity.Authority{CA: ca, Tokens: identity.NewTokens(nil)}
	id, err := auth.Issue(dir, name, role)
	if err != nil {
		return nil, err
	}
	return quicnet.New(quicnet.Config{Identity: id, Revoked: ca.IsRevoked, MaxIdleTimeout: time.Second, KeepAlivePeriod: 200 * time.Millisecond})
}

// TestOutboxLedgerKillChild is the child root, not a test of its own: with
// MESH_LEDGER_CHILD unset it does nothing.
func TestOutboxLedgerKillChild(t *testing.T) {
	work := os.Getenv(killChildEnv)
	if work == "" {
		return
	}
	if err := runKillChild(work, os.Getenv(killListenEnv)); err != nil {
		fmt.Fprintln(os.Stderr, "child root:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// runKillChild starts the root on the ledger in work/ledger; OnOutbox
// appends each message's ID to work/record, after a line "start L" with
// what the ledger held at start. It prints its address, then runs until
// killed or until its standard input closes (the test process died).
func runKillChild(work, listen string) error {
	ca, err := identity.LoadOrCreateCA(filepath.Join(work, "ca"), nil)
	if err != nil {
		return err
	}
	idDir, err := os.MkdirTemp(work, "ctl-")
	if err != nil {
		return err
	}
	network, err := killNetwork(ca, idDir, "ctl", kernel.RoleController)
	if err != nil {
		return err
	}
	led, err := ledger.Open(filepath.Join(work, "ledger"))
	if err != nil {
		return err
	}
	_, start, err := led.Load("leaf") // one leaf outbox, one epoch
	if err != nil {
		return err
	}
	rec, err := os.OpenFile(filepath.Join(work, "record"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(rec, "start %d\n", start); err != nil {
		return err
	}
	cfg := killTimers
	cfg.Name, cfg.Role, cfg.Network, cfg.Listen, cfg.Logger = "ctl", kernel.RoleController, network, listen, testLogger()
	cfg.OutboxLedger = led
	cfg.OnOutbox = func(from kernel.NodeName, m kernel.OutboxMessage) error {
		// One write per message: once it returns the line survives SIGKILL.
		_, err := fmt.Fprintf(rec, "%d\n", m.ID)
		return err
	}
	n, err := New(cfg)
	if err != nil {
		return err
	}
	if err := n.Start(context.Background()); err != nil {
		return err
	}
	fmt.Printf("addr %s\n", n.Addr())
	io.Copy(io.Discard, os.Stdin)
	n.Close()
	return led.Close()
}

// killChild is one run of the child root.
type killChild struct {
	cmd   *exec.Cmd
	stdin io.Closer
	addr  string
}

func startKillChild(t *testing.T, work, listen string) *killChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOutboxLedgerKillChild$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+work, killListenEnv+"="+listen)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr ")
	if err != nil || !ok {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child root did not start: %q %v", line, err)
	}
	c := &killChild{cmd: cmd, stdin: stdin, addr: addr}
	t.Cleanup(c.kill)
	return c
}

// kill sends SIGKILL and reaps the process.
func (c *killChild) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.cmd.Process.Kill()
	c.stdin.Close()
	c.cmd.Wait()
}

// killRun is what one run of the child root recorded.
type killRun struct {
	start uint64   // the ledger's value when it started
	ids   []uint64 // what OnOutbox accepted, in order
}

func readKillRecord(t *testing.T, path string) (runs []killRun, accepted int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	b = b[:strings.LastIndexByte(string(b), '\n')+1] // a line being written is not yet accepted
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		if s, ok := strings.CutPrefix(line, "start "); ok {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				t.Fatalf("record line %q: %v", line, err)
			}
			runs = append(runs, killRun{start: v})
			continue
		}
		v, err := strconv.ParseUint(line, 10, 64)
		if err != nil || len(runs) == 0 {
			t.Fatalf("record line %q: %v", line, err)
		}
		runs[len(runs)-1].ids = append(runs[len(runs)-1].ids, v)
		accepted++
	}
	return runs, accepted
}

// TestOutboxLedgerSIGKILL kills the root (a process of its own, on a real
// QUIC socket) four times at arbitrary moments while a leaf's outbox of
// 2,000 messages (IDs from 0) streams to it, restarting it each time on the same ledger
// directory and address. Every message must be accepted, in order; a
// restarted root must start exactly after what its ledger holds; and the
// ledger must never hold more than the previous runs accepted. What is
// accepted twice is only what a run accepted past its ledger before it
// died: at most one batch per kill.
func TestOutboxLedgerSIGKILL(t *testing.T) {
	const total = 2000
	work := t.TempDir()
	ca, err := identity.LoadOrCreateCA(filepath.Join(work, "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(work, "record")
	child := startKillChild(t, work, "127.0.0.1:0")
	addr := child.addr

	network, err := killNetwork(ca, t.TempDir(), "leaf", kernel.RoleLeaf)
	if err != nil {
		t.Fatal(err)
	}
	ob := NewMemOutbox()
	for i := 0; i < total; i++ {
		ob.Append("t/x", []byte(strconv.Itoa(i)))
	}
	cfg := killTimers
	cfg.Name, cfg.Role, cfg.Network, cfg.Logger = "leaf", kernel.RoleLeaf, network, testLogger()
	cfg.Parents, cfg.Outbox = []Parent{{Addr: addr, Name: "ctl"}}, shifted{ob} // IDs 0-1999, as devices/outbox numbers them
	leaf, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { leaf.Close() })

	for _, at := range []int{150, 500, 900, 1400} {
		eventually(t, fmt.Sprintf("%d messages accepted", at), func() bool { _, n := readKillRecord(t, record); return n >= at })
		child.kill()
		child = startKillChild(t, work, addr)
	}
	eventually(t, "leaf's outbox drained", func() bool { return ob.Len() == 0 })
	child.kill()

	runs, _ := readKillRecord(t, record)
	if len(runs) != 5 {
		t.Fatalf("%d runs of the root recorded, want 5", len(runs))
	}
	var reach uint64 // one past the highest ID accepted so far
	repeats := 0
	for i, r := range runs {
		if r.start > reach {
			t.Fatalf("run %d: the ledger expects %d next, but only IDs below %d were accepted", i, r.start, reach)
		}
		if i > 0 && r.start < runs[i-1].start {
			t.Fatalf("run %d: the ledger went back from %d to %d", i, runs[i-1].start, r.start)
		}
		if dup := int(reach - r.start); dup > outboxBatch {
			t.Fatalf("run %d starts at %d after IDs below %d were accepted: %d repeats, more than one batch (%d)", i, r.start, reach, dup, outboxBatch)
		} else {
			repeats += dup
		}
		for j, id := range r.ids {
			if want := r.start + uint64(j); id != want {
				t.Fatalf("run %d (ledger at %d): message %d has ID %d, want %d", i, r.start, j, id, want)
			}
		}
		if len(r.ids) > 0 {
			reach = max(reach, r.ids[len(r.ids)-1]+1)
		}
	}
	if reach != total {
		t.Fatalf("accepted IDs below %d, want 0-%d", reach, total-1)
	}
	t.Logf("4 kills: every message accepted in order; %d accepted twice (killed between OnOutbox and Advance)", repeats)
}
