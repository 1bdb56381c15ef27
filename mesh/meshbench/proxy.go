package meshbench

import (
	"net"
	"sync"
	"sync/atomic"
)

// udpProxy forwards UDP between clients and a target until told to drop
// everything, which looks like a crashed or unplugged parent: no close,
// no reset, just silence.
type udpProxy struct {
	pc     *net.UDPConn
	target *net.UDPAddr
	drop   atomic.Bool
	mu     sync.Mutex
	ups    map[string]*net.UDPConn
}

func newUDPProxy(target string) (*udpProxy, error) {
	ta, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return nil, err
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	p := &udpProxy{pc: pc, target: ta, ups: map[string]*net.UDPConn{}}
	go p.run()
	return p, nil
}

func (p *udpProxy) addr() string { return p.pc.LocalAddr().String() }

func (p *udpProxy) run() {
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
		up.Write(buf[:n])
	}
}

func (p *udpProxy) back(up *net.UDPConn, client *net.UDPAddr) {
	buf := make([]byte, 65536)
	for {
		n, err := up.Read(buf)
		if err != nil {
			return
		}
		if !p.drop.Load() {
			p.pc.WriteToUDP(buf[:n], client)
		}
	}
}

func (p *udpProxy) close() {
	p.pc.Close()
	p.mu.Lock()
	for _, u := range p.ups {
		u.Close()
	}
	p.mu.Unlock()
}
