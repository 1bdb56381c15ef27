package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// advertiseAddr is the mesh address a join command names: --advertise
// when given (its port defaulting to the bound one), else the bound
// address when it names a host, else the host the client reached the API
// by when that is not loopback, else this machine's outbound address.
func advertiseAddr(flag, bound, reqHost string) string {
	_, port, err := net.SplitHostPort(bound)
	if err != nil {
		return bound
	}
	if flag != "" {
		if _, _, err := net.SplitHostPort(flag); err == nil {
			return flag
		}
		return net.JoinHostPort(strings.Trim(flag, "[]"), port)
	}
	host, _, _ := net.SplitHostPort(bound)
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return bound
	}
	if reqHost = strings.Trim(reqHost, "[]"); reqHost != "" && reqHost != "localhost" {
		if ip := net.ParseIP(reqHost); ip == nil || !ip.IsLoopback() {
			return net.JoinHostPort(reqHost, port)
		}
	}
	return net.JoinHostPort(outboundIP().String(), port)
}

// outboundIP is the address this machine sends from toward other hosts:
// the source of a route to a public address (no packet is sent), else
// the first non-loopback interface address, else loopback.
func outboundIP() net.IP {
	return outboundIPTo("192.0.2.1:7443") // TEST-NET-1: only the route is looked up
}

// outboundIPTo is the address this machine sends from toward addr
// (HOST:PORT): the source of the route to it (no packet is sent; a
// loopback source only toward a loopback addr), else the first
// non-loopback interface address, else loopback.
func outboundIPTo(addr string) net.IP {
	if c, err := net.Dial("udp", addr); err == nil {
		defer c.Close()
		ua, ok := c.LocalAddr().(*net.UDPAddr)
		ra, _ := c.RemoteAddr().(*net.UDPAddr)
		if ok && (!ua.IP.IsLoopback() || (ra != nil && ra.IP.IsLoopback())) {
			return ua.IP
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if in, ok := a.(*net.IPNet); ok && in.IP.IsGlobalUnicast() {
				return in.IP
			}
		}
	}
	return net.IPv4(127, 0, 0, 1)
}

// validAdvertise checks --advertise: HOST or HOST:PORT.
func validAdvertise(s string) error {
	if s == "" {
		return nil
	}
	h := s
	if hh, p, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("--advertise %q: want HOST or HOST:PORT with a port from 1 to 65535", s)
		}
		h = hh
	}
	if h == "" || strings.ContainsAny(h, " /") {
		return fmt.Errorf("--advertise %q: want HOST or HOST:PORT", s)
	}
	return nil
}
