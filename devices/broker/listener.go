package broker

import (
	"log/slog"
	"net"
	"sync"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// gatedListener wraps mochi's TCP listener to make shutdown race-free.
// mochi adds each new connection to a WaitGroup (in attachClient) that
// Server.Close waits on; a connection accepted while Close runs makes that
// Add race with the Wait (the race detector flags it in any test that
// closes a broker with clients still arriving). The gate stops new
// connections before Close, and waits until every admitted connection has
// made its first read — which mochi does only after its Add.
type gatedListener struct {
	*listeners.TCP
	mu      sync.Mutex
	closing bool
	started sync.WaitGroup
}

func (l *gatedListener) Serve(establish listeners.EstablishFn) {
	l.TCP.Serve(func(id string, c net.Conn) error {
		l.mu.Lock()
		if l.closing {
			l.mu.Unlock()
			return c.Close()
		}
		l.started.Add(1)
		l.mu.Unlock()
		return establish(id, &firstReadConn{Conn: c, first: l.started.Done})
	})
}

// Init is mochi's listener Init (named here for the interface check).
func (l *gatedListener) Init(log *slog.Logger) error { return l.TCP.Init(log) }

// shut refuses new connections and waits for admitted ones to have been
// registered with mochi.
func (l *gatedListener) shut() {
	l.mu.Lock()
	l.closing = true
	l.mu.Unlock()
	l.started.Wait()
}

// firstReadConn calls first once, before its first Read.
type firstReadConn struct {
	net.Conn
	once  sync.Once
	first func()
}

func (c *firstReadConn) Read(p []byte) (int, error) {
	c.once.Do(c.first)
	return c.Conn.Read(p)
}

var _ listeners.Listener = (*gatedListener)(nil)
