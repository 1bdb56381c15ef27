package main

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// failingListener accepts nothing: its Accept fails at once, as a listener
// does whose socket broke.
type failingListener struct{ net.Listener }

func (f failingListener) Accept() (net.Conn, error) { return nil, errors.New("accept: socket broke") }

// A controller whose API stops serving ends with exit 1 and the reason
// first, instead of hanging on its certificate renewal loop.
func TestServerEndsWhenAPIFails(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CANOPY_CONFIG", filepath.Join(dir, "config.yaml"))
	listenAPI = func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		return failingListener{ln}, err
	}
	defer func() { listenAPI = net.Listen }()
	p := startProc(t, "server", "server", "--data", filepath.Join(dir, "ctl"), "--name", "ctl", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0")
	select {
	case err := <-p.done:
		p.cancel()
		p.cancel = nil
		if err == nil || exitCodeQuiet(err) != 1 || !strings.Contains(err.Error(), "socket broke") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("server ended with %v (exit %d), want exit 1 naming the API's failure", err, exitCodeQuiet(err))
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("server did not end after its API failed; log:\n%s", p.log)
	}
}
