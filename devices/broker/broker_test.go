package broker_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/devices/broker"
	"github.com/canopy-fleet/canopy/devices/mqttclient"
)

func start(t *testing.T, cfg broker.Config) *broker.Broker {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	b, err := broker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func dial(t *testing.T, cfg mqttclient.Config) (*mqttclient.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := mqttclient.Dial(ctx, cfg)
	if err == nil {
		t.Cleanup(c.Close)
	}
	return c, err
}

func recv(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
		return ""
	}
}

func TestAnonymousAndInline(t *testing.T) {
	b := start(t, broker.Config{})
	if _, port, _ := net.SplitHostPort(b.Addr()); port == "0" {
		t.Fatalf("Addr %q not resolved", b.Addr())
	}
	inline := make(chan string, 4)
	if err := b.Subscribe("sensors/#", 1, func(topic string, p []byte) { inline <- topic + "=" + string(p) }); err != nil {
		t.Fatal(err)
	}
	c, err := dial(t, mqttclient.Config{URL: "tcp://" + b.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4)
	if err := c.Subscribe(context.Background(), "cmd/+", 1, func(topic string, p []byte) { got <- topic + "=" + string(p) }); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(context.Background(), "sensors/t1", []byte("20"), 1); err != nil {
		t.Fatal(err)
	}
	if s := recv(t, inline); s != "sensors/t1=20" {
		t.Fatalf("inline got %q", s)
	}
	if err := b.Publish("cmd/reboot", []byte("now"), 1); err != nil {
		t.Fatal(err)
	}
	if s := recv(t, got); s != "cmd/reboot=now" {
		t.Fatalf("client got %q", s)
	}
	if st := b.Stats(); st.Clients != 1 || st.MessagesReceived < 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAddressInUse(t *testing.T) {
	a := start(t, broker.Config{})
	b, err := broker.New(broker.Config{Addr: a.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "address already in use") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want one-line address-in-use error, got %v", err)
	}
	_ = b.Close()
}

func TestStartContextCancelCloses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b, err := broker.New(broker.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("broker still listening after ctx cancel")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCredentialsAndACL(t *testing.T) {
	b := start(t, broker.Config{Users: []broker.User{
		{Username: "pump1", Password: "s3cret", Subscribe: []string{"fleet/cmd/#"}},
		{Username: "ctl", Password: "ctlpw", Publish: []string{"fleet/#"}, Subscribe: []string{"#"}},
	}})
	url := "tcp://" + b.Addr()
	for name, cfg := range map[string]mqttclient.Config{
		"anonymous":      {URL: url},
		"wrong password": {URL: url, Username: "pump1", Password: "nope"},
		"unknown user":   {URL: url, Username: "ghost", Password: "s3cret"},
	} {
		if _, err := dial(t, cfg); err == nil {
			t.Errorf("%s: connected, want refused", name)
		}
	}
	if st := b.Stats(); st.DeniedConnects != 3 {
		t.Errorf("denied connects = %d, want 3", st.DeniedConnects)
	}

	pump, err := dial(t, mqttclient.Config{URL: url, Username: "pump1", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := dial(t, mqttclient.Config{URL: url, Username: "ctl", Password: "ctlpw"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	seen := make(chan string, 16)
	if err := ctl.Subscribe(ctx, "#", 1, func(topic string, _ []byte) { seen <- topic }); err != nil {
		t.Fatal(err)
	}
	// Own topics are allowed; a QoS 0 publish outside them is dropped by
	// the broker. The pump publishes the denied message first, so if it got
	// through it would arrive before the allowed one (one client, in order).
	if err := pump.Publish(ctx, "devices/pump2/temp", []byte("spoof"), 0); err != nil {
		t.Fatal(err)
	}
	if err := pump.Publish(ctx, "devices/pump1/temp", []byte("20"), 1); err != nil {
		t.Fatal(err)
	}
	if topic := recv(t, seen); topic != "devices/pump1/temp" {
		t.Fatalf("controller saw %q first; the ACL let a foreign topic through", topic)
	}
	if st := b.Stats(); st.DeniedPublishes != 1 {
		t.Errorf("denied publishes = %d, want 1", st.DeniedPublishes)
	}

	// MQTT 3.1.1 cannot refuse a QoS 1 publish, so the broker disconnects
	// the client instead; whatever paho reports, the message must not reach
	// the controller: the next message it sees is the pump's own.
	other, err := dial(t, mqttclient.Config{URL: url, Username: "pump1", Password: "s3cret", ClientID: "pump1-b", MaxReconnectInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = other.Publish(qctx, "devices/pump2/temp", []byte("spoof"), 1)
	if st := b.Stats(); st.DeniedPublishes < 2 {
		t.Errorf("denied publishes = %d, want >= 2", st.DeniedPublishes)
	}
	if err := pump.Publish(ctx, "devices/pump1/temp", []byte("21"), 1); err != nil {
		t.Fatal(err)
	}
	if topic := recv(t, seen); topic != "devices/pump1/temp" {
		t.Fatalf("controller saw %q; the ACL let a QoS 1 foreign publish through", topic)
	}

	noop := func(string, []byte) {}
	for _, f := range []string{"#", "devices/+/temp", "devices/pump2/#", "fleet/#"} {
		if err := pump.Subscribe(ctx, f, 1, noop); !errors.Is(err, mqttclient.ErrRefused) {
			t.Errorf("pump subscribe %q: want refused, got %v", f, err)
		}
	}
	for _, f := range []string{"devices/pump1/#", "devices/pump1/+", "fleet/cmd/pump1", "fleet/cmd/#"} {
		if err := pump.Subscribe(ctx, f, 1, noop); err != nil {
			t.Errorf("pump subscribe %q: %v", f, err)
		}
	}
}

func TestTLS(t *testing.T) {
	serverTLS, roots := selfSigned(t)
	b := start(t, broker.Config{TLS: serverTLS})
	c, err := dial(t, mqttclient.Config{URL: "tls://" + b.Addr(), TLS: &tls.Config{RootCAs: roots, ServerName: "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	if err := c.Subscribe(context.Background(), "t", 1, func(_ string, p []byte) { got <- string(p) }); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(context.Background(), "t", []byte("over tls"), 1); err != nil {
		t.Fatal(err)
	}
	if s := recv(t, got); s != "over tls" {
		t.Fatalf("got %q", s)
	}
	// A plain TCP client cannot talk to a TLS listener.
	if _, err := dial(t, mqttclient.Config{URL: "tcp://" + b.Addr(), ConnectTimeout: time.Second}); err == nil {
		t.Fatal("plain client connected to TLS broker")
	}
}

func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

func TestOversizePacketDisconnects(t *testing.T) {
	b := start(t, broker.Config{MaxPacketSize: 1024})
	got := make(chan string, 4)
	if err := b.Subscribe("#", 1, func(topic string, _ []byte) { got <- topic }); err != nil {
		t.Fatal(err)
	}
	// A raw client: CONNECT, then a 4,096-byte PUBLISH over the 1 KiB bound.
	c, err := net.DialTimeout("tcp", b.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	raw := []byte{0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x01, 'r'}
	body := append([]byte{0x00, 0x03, 'b', 'i', 'g'}, make([]byte, 4091)...) // remaining length 4096
	raw = append(raw, 0x30, 0x80, 0x20)                                      // PUBLISH, 4096 as a varint
	raw = append(raw, body...)
	if _, err := c.Write(raw); err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, c) // CONNACK, then the broker must hang up
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("oversize publisher left connected")
	}
	// Nothing was delivered: the next message anyone sees is a normal one.
	if err := b.Publish("small", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if topic := recv(t, got); topic != "small" {
		t.Fatalf("got %q first; the oversize message was delivered", topic)
	}
}

func TestConfigValidate(t *testing.T) {
	err := broker.Config{
		Addr:          "nonsense",
		MaxPacketSize: -1,
		Users: []broker.User{
			{Username: "", Password: "x"},
			{Username: "a/b", Password: ""},
			{Username: "c", Password: "x", Publish: []string{"a/#/b"}},
			{Username: "c", Password: "x"},
		},
	}.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"addr", "maxPacketSize", "empty username", "a/b", "empty password", "publish filter", "duplicate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
	if _, err := broker.New(broker.Config{Addr: "nonsense"}); err == nil {
		t.Error("New accepted a bad config")
	}
	if err := (broker.Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}

func TestFilterCovers(t *testing.T) {
	cases := []struct {
		outer, sub string
		want       bool
	}{
		{"a/#", "a/b/c", true},
		{"a/#", "a", true},
		{"a/#", "a/+/c", true},
		{"a/#", "a/#", true},
		{"a/+", "a/b", true},
		{"a/+", "a/+", true},
		{"a/+", "a/#", false},
		{"a/+", "a/b/c", false},
		{"a/b", "a/+", false},
		{"a/b", "a/b", true},
		{"#", "x/y", true},
		{"a/#", "b", false},
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a/b/d", false},
	}
	for _, c := range cases {
		if got := broker.FilterCovers(c.outer, c.sub); got != c.want {
			t.Errorf("FilterCovers(%q, %q) = %v, want %v", c.outer, c.sub, got, c.want)
		}
	}
}
