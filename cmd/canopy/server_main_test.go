package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// TestMain lets a test run this package's main() in a child process (the
// test binary itself, with CANOPY_TEST_MAIN=1), to see exit codes and
// signal handling as a user does. Other tests run with the TLS cipher
// preference main sets.
func TestMain(m *testing.M) {
	if os.Getenv("CANOPY_TEST_MAIN") == "1" {
		main()
		return
	}
	if err := quicnet.SetCipherPreference(os.Getenv(quicnet.CipherEnv)); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// canopyProcess starts `canopy args...` as a child process.
func canopyProcess(t *testing.T, stderr *syncBuffer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CANOPY_TEST_MAIN=1")
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

func exitCodeOf(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(time.Minute):
		t.Fatal("canopy did not exit")
		return -1
	}
}

// SIGTERM stops a server and SIGINT an agent, both with exit 0; a refused
// join exits 1 with the reason as the first line on stderr.
func TestSignalsAndExitCodes(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	t.Setenv("CANOPY_CONFIG", cfgPath)
	t.Setenv("CANOPY_SERVER", "")
	t.Setenv("CANOPY_TOKEN", "")
	var serverLog syncBuffer
	srv := canopyProcess(t, &serverLog, "server", "--data", filepath.Join(dir, "ctl"), "--name", "ctl", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0")
	eventually(t, "client config written", func() error {
		c, err := loadClientConfig(cfgPath)
		if err == nil && c.Token == "" {
			err = errors.New("not yet")
		}
		return err
	})
	tok := createToken(t, "--role", "agent")

	var agentLog syncBuffer
	agent := canopyProcess(t, &agentLog, agentArgs(t, tok, "--name", "leaf-1", "--data", filepath.Join(dir, "leaf-1"))...)
	nodeIs(t, "leaf-1", "leaf", "ctl", "linked")
	agent.Process.Signal(syscall.SIGINT)
	if code := exitCodeOf(t, agent); code != 0 {
		t.Fatalf("agent exit %d after SIGINT; stderr:\n%s", code, agentLog.String())
	}

	var badLog syncBuffer
	bad := canopyProcess(t, &badLog, agentArgs(t, tok, "--name", "leaf-2", "--data", filepath.Join(dir, "leaf-2"))...)
	if code := exitCodeOf(t, bad); code != 1 {
		t.Fatalf("reused token: exit %d; stderr:\n%s", code, badLog.String())
	}
	first, _, _ := strings.Cut(badLog.String(), "\n")
	if !strings.HasPrefix(first, "canopy: join ") || !strings.Contains(first, "already used") {
		t.Fatalf("reused token: first line of stderr %q", first)
	}

	var usageLog syncBuffer
	if code := exitCodeOf(t, canopyProcess(t, &usageLog, "agent", "--no-such-flag")); code != 2 {
		t.Fatalf("bad flag: exit %d", code)
	}

	srv.Process.Signal(syscall.SIGTERM)
	if code := exitCodeOf(t, srv); code != 0 {
		t.Fatalf("server exit %d after SIGTERM; stderr:\n%s", code, serverLog.String())
	}
	if !bytes.Contains([]byte(serverLog.String()), []byte("controller stopping")) {
		t.Fatalf("server log:\n%s", serverLog.String())
	}
}

// A bad CANOPY_LINK_CIPHER stops canopy before anything runs: exit 2,
// one line naming the variable.
func TestBadLinkCipherIsAUsageError(t *testing.T) {
	t.Setenv(quicnet.CipherEnv, "aes")
	var log syncBuffer
	if code := exitCodeOf(t, canopyProcess(t, &log, "version")); code != 2 {
		t.Fatalf("exit %d; stderr:\n%s", code, log.String())
	}
	first, _, _ := strings.Cut(log.String(), "\n")
	if !strings.HasPrefix(first, "canopy: "+quicnet.CipherEnv+`="aes"`) {
		t.Fatalf("first line of stderr %q", first)
	}
}
