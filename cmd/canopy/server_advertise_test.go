package main

import (
	"net"
	"testing"
)

func TestAdvertiseAddr(t *testing.T) {
	out := net.JoinHostPort(outboundIP().String(), "7443")
	for _, c := range []struct{ name, flag, bound, host, want string }{
		{"flag with port", "ctl.lan:9000", "[::]:7443", "10.0.0.5", "ctl.lan:9000"},
		{"flag without port", "ctl.lan", "[::]:7443", "", "ctl.lan:7443"},
		{"flag IPv6", "fd00::1", "[::]:7443", "", "[fd00::1]:7443"},
		{"bound to a host", "", "192.168.1.2:7443", "10.0.0.5", "192.168.1.2:7443"},
		{"API reached by address", "", "[::]:7443", "10.0.0.5", "10.0.0.5:7443"},
		{"API reached by name", "", "0.0.0.0:7443", "ctl.lan", "ctl.lan:7443"},
		{"API reached by IPv6", "", "[::]:7443", "[fd00::1]", "[fd00::1]:7443"},
		{"API reached on loopback", "", "[::]:7443", "127.0.0.1", out},
		{"API reached as localhost", "", "[::]:7443", "localhost", out},
	} {
		if got := advertiseAddr(c.flag, c.bound, c.host); got != c.want {
			t.Errorf("%s: advertiseAddr(%q, %q, %q) = %q, want %q", c.name, c.flag, c.bound, c.host, got, c.want)
		}
	}
	for _, bad := range []string{"host:0", ":7443", "a b", "http://x"} {
		if validAdvertise(bad) == nil {
			t.Errorf("--advertise %q accepted", bad)
		}
	}
	for _, good := range []string{"", "ctl.lan", "10.0.0.5:7443", "[fd00::1]:7443"} {
		if err := validAdvertise(good); err != nil {
			t.Errorf("--advertise %q: %v", good, err)
		}
	}
}
