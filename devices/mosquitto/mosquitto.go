// Package mosquitto runs a Debian mosquitto broker as a child process on a
// loopback port. Tests use it to check the MQTT client against a broker that
// is not Canopy's own, and `canopy bench devices` uses it as the baseline.
package mosquitto

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// DefaultBinary is where Debian installs the broker.
const DefaultBinary = "/usr/sbin/mosquitto"

// ErrNotInstalled is returned when the mosquitto binary is missing.
var ErrNotInstalled = errors.New("mosquitto is not installed (apt-get install mosquitto)")

// Config configures a Process. Zero fields take defaults.
type Config struct {
	// Binary is the mosquitto executable; empty means DefaultBinary.
	Binary string
	// Port is the loopback port; zero picks a free one.
	Port int
	// Dir holds the generated config file; empty means a new temp dir,
	// removed by Stop.
	Dir string
}

// Process is a running mosquitto.
type Process struct {
	cfg     Config
	ownsDir bool
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Installed reports whether the broker binary exists at bin (or the
// default when bin is empty).
func Installed(bin string) bool {
	if bin == "" {
		bin = DefaultBinary
	}
	_, err := os.Stat(bin)
	return err == nil
}

// Start writes a config allowing anonymous access on 127.0.0.1:port and
// starts mosquitto, returning once it accepts TCP connections.
func Start(ctx context.Context, cfg Config) (*Process, error) {
	if cfg.Binary == "" {
		cfg.Binary = DefaultBinary
	}
	if !Installed(cfg.Binary) {
		return nil, fmt.Errorf("%s: %w", cfg.Binary, ErrNotInstalled)
	}
	p := &Process{cfg: cfg}
	if p.cfg.Dir == "" {
		d, err := os.MkdirTemp("", "canopy-mosquitto-")
		if err != nil {
			return nil, fmt.Errorf("mosquitto dir: %w", err)
		}
		p.cfg.Dir, p.ownsDir = d, true
	}
	if p.cfg.Port == 0 {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		p.cfg.Port = port
	}
	if err := p.start(ctx); err != nil {
		p.cleanup()
		return nil, err
	}
	return p, nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (p *Process) start(ctx context.Context) error {
	conf := filepath.Join(p.cfg.Dir, "mosquitto.conf")
	body := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nset_tcp_nodelay true\nlog_dest none\n", p.cfg.Port)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return fmt.Errorf("mosquitto config: %w", err)
	}
	// The readiness check below dials the port, so it must not be someone
	// else's already.
	l, err := net.Listen("tcp", p.Addr())
	if err != nil {
		return fmt.Errorf("mosquitto port %d: %w", p.cfg.Port, err)
	}
	l.Close()
	cmd := exec.Command(p.cfg.Binary, "-c", conf)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start mosquitto: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()

	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.Addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("mosquitto exited at start (port %d in use?)", p.cfg.Port)
		case <-ctx.Done():
			p.kill()
			return fmt.Errorf("start mosquitto: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			return fmt.Errorf("mosquitto did not listen on %s within 5s", p.Addr())
		}
	}
}

// Addr is host:port of the broker.
func (p *Process) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.cfg.Port)) }

// URL is the broker's tcp:// URL.
func (p *Process) URL() string { return "tcp://" + p.Addr() }

// PID is the broker process's id, or 0 when it is not running.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Kill stops the broker abruptly (SIGKILL), keeping its port and dir so
// Restart can bring it back.
func (p *Process) Kill() { p.kill() }

func (p *Process) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Restart starts the broker again on the same port after Kill.
func (p *Process) Restart(ctx context.Context) error {
	p.kill()
	return p.start(ctx)
}

// Stop kills the broker and removes its temp dir.
func (p *Process) Stop() {
	p.kill()
	p.cleanup()
}

func (p *Process) cleanup() {
	if p.ownsDir {
		_ = os.RemoveAll(p.cfg.Dir)
	}
}
