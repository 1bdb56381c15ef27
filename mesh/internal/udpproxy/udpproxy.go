// Package udpproxy forwards UDP between clients and one target until told
// to drop everything: a crashed or unplugged peer as the other end sees
// it (no close, no reset, just silence), for tests and benchmarks of
// links that must notice that.
package udpproxy

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards UDP between clients and a target until told to drop
// everything.
type Proxy struct {
	pc     *net.UDPConn
	target *net.UDPAddr
	drop   atomic.Bool
	delay  atomic.Int64 // each way, nanoseconds
	mu     sync.Mutex
	ups    map[string]*net.UDPConn
}

// New starts a proxy on a loopback port to target.
func New(target string) (*Proxy, error) {
	ta, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return nil, err
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	p := &Proxy{pc: pc, target: ta, ups: map[string]*net.UDPConn{}}
	go p.run()
	return p, nil
}

// Addr is the proxy's address: clients send here.
func (p *Proxy) Addr() string { return p.pc.LocalAddr().String() }

// Drop makes the proxy drop every packet both ways (true) or forward them
// again (false).
func (p *Proxy) Drop(drop bool) { p.drop.Store(drop) }

// Delay holds every packet this long each way before forwarding it (a
// slow link: the round trip grows by twice d).
func (p *Proxy) Delay(d time.Duration) { p.delay.Store(int64(d)) }

// send writes b to w now or, with a delay set, that much later (from a
// copy, so the caller may reuse b).
func (p *Proxy) send(b []byte, write func([]byte)) {
	d := time.Duration(p.delay.Load())
	if d <= 0 {
		write(b)
		return
	}
	c := append([]byte(nil), b...)
	time.AfterFunc(d, func() {
		if !p.drop.Load() {
			write(c)
		}
	})
}

func (p *Proxy) run() {
	buf := make([]byte, 65536)
	for {
		n, from, err := p.pc.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if p.drop.Load() {
			continue
		}
		p.mu.Lock()
		up := p.ups[from.String()]
		if up == nil {
			up, err = net.DialUDP("udp", nil, p.target)
			if err != nil {
				p.mu.Unlock()
				continue
			}
			p.ups[from.String()] = up
			go p.back(up, from)
		}
		p.mu.Unlock()
		p.send(buf[:n], func(b []byte) { up.Write(b) })
	}
}

func (p *Proxy) back(up *net.UDPConn, client *net.UDPAddr) {
	buf := make([]byte, 65536)
	for {
		n, err := up.Read(buf)
		if err != nil {
			return
		}
		if !p.drop.Load() {
			p.send(buf[:n], func(b []byte) { p.pc.WriteToUDP(b, client) })
		}
	}
}

// Close stops the proxy and closes its sockets.
func (p *Proxy) Close() {
	p.pc.Close()
	p.mu.Lock()
	for _, u := range p.ups {
		u.Close()
	}
	p.mu.Unlock()
}
