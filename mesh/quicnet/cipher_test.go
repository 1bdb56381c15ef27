package quicnet

import (
	"context"
	"crypto/tls"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/cpu"

	"github.com/canopy-fleet/canopy/kernel"
)

// TestMain sets the cipher preference from CipherEnv, as canopy's main
// does, before any test makes a connection.
func TestMain(m *testing.M) {
	if err := SetCipherPreference(os.Getenv(CipherEnv)); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// aesHardware is crypto/tls's test for preferring AES-GCM.
func aesHardware() bool {
	switch runtime.GOARCH {
	case "amd64":
		return cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ
	case "arm64":
		return cpu.ARM64.HasAES && cpu.ARM64.HasPMULL
	}
	return false
}

// A link negotiates ChaCha20-Poly1305 by default; with CipherAuto it gets
// crypto/tls's choice (AES-128-GCM on a CPU with AES instructions).
func TestLinkCipher(t *testing.T) {
	want := uint16(tls.TLS_CHACHA20_POLY1305_SHA256)
	if CipherPreference() == CipherAuto && aesHardware() {
		want = tls.TLS_AES_128_GCM_SHA256
	}
	cl := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lc, err := echoLink(ctx, t, Config{Identity: cl.node(t, "gw-1", kernel.RoleGateway)}, Config{Identity: cl.node(t, "leaf-1", kernel.RoleLeaf)})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if got := lc.(*conn).qc.ConnectionState().TLS.CipherSuite; got != want {
		t.Errorf("preference %q: link cipher %s, want %s", CipherPreference(), tls.CipherSuiteName(got), tls.CipherSuiteName(want))
	}
	if got, err := roundTrip(ctx, lc, "hi"); err != nil || got != "hi" {
		t.Fatalf("echo %q %v", got, err)
	}
}

// TestLinkCipher passes in a process started with CANOPY_LINK_CIPHER=auto
// (a preference is set once per process, so it runs in a fresh one), and
// a bad value stops the process with an error naming the variable.
func TestLinkCipherAuto(t *testing.T) {
	if os.Getenv(CipherEnv) != "" {
		return // the re-run itself
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestLinkCipher$", "-test.count", "1")
	cmd.Env = append(os.Environ(), CipherEnv+"="+CipherAuto)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("TestLinkCipher with %s=%s: %v\n%s", CipherEnv, CipherAuto, err, out)
	}
}

func TestSetCipherPreference(t *testing.T) {
	if err := SetCipherPreference("aes"); err == nil {
		t.Error(`preference "aes" accepted`)
	}
	if err := SetCipherPreference(CipherPreference()); err != nil {
		t.Errorf("setting the preference already set: %v", err)
	}
	other := CipherAuto
	if CipherPreference() == CipherAuto {
		other = CipherChaCha20
	}
	if err := SetCipherPreference(other); err == nil {
		t.Errorf("preference changed from %q to %q after it was set", CipherPreference(), other)
	}
	got := chachaFirst([]uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_CHACHA20_POLY1305_SHA256, tls.TLS_AES_256_GCM_SHA384})
	want := []uint16{tls.TLS_CHACHA20_POLY1305_SHA256, tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("chachaFirst: %x, want %x", got, want)
	}
}
