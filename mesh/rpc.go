package mesh

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/link"
)

// Errors of routing.
var (
	ErrNoRoute  = errors.New("no route to node")
	ErrNoParent = errors.New("no parent link")
)

var _ kernel.Transport = (*Node)(nil)

// Handle registers the handler for messages of kind arriving at this node.
func (n *Node) Handle(kind string, h kernel.MessageHandler) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.handlers[kind] = h
}

// Request sends a message to node to ("" is the root) and waits for the
// reply. A handler's error comes back as a *RemoteError.
func (n *Node) Request(ctx context.Context, to kernel.NodeName, kind string, body []byte) ([]byte, error) {
	n.counter.RequestsSent.Add(1)
	ctx, cancel := n.timeout(ctx) // here rather than in route, to tell a timeout apart
	defer cancel()
	b, err := n.route(ctx, envelope{Src: n.cfg.Name, Dst: to, Kind: kind, Body: body}, true)
	if err != nil {
		n.counter.RequestsFailed.Add(1)
		if timedOut(ctx, err) {
			n.counter.RequestsTimedOut.Add(1)
		}
	}
	return b, err
}

// timedOut reports whether a request on ctx failed with err because a
// deadline passed: its own, or a hop's or handler's (CodeTimeout).
func timedOut(ctx context.Context, err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	var re *RemoteError
	return errors.As(err, &re) && re.Code == CodeTimeout
}

// Send sends a one-way message to node to ("" is the root); it returns
// once the next hop has it.
func (n *Node) Send(ctx context.Context, to kernel.NodeName, kind string, body []byte) error {
	_, err := n.route(ctx, envelope{Src: n.cfg.Name, Dst: to, Kind: kind, Body: body}, false)
	return err
}

func (n *Node) isLocal(dst kernel.NodeName) bool {
	return dst == n.cfg.Name || (dst == "" && n.IsRoot())
}

// nextHop picks the link toward dst: the child whose subtree holds it,
// else the parent.
func (n *Node) nextHop(dst kernel.NodeName) (*peerLink, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if l, ok := n.routes[dst]; ok && dst != "" {
		return l, nil
	}
	if n.parent != nil {
		return n.parent, nil
	}
	if n.IsRoot() {
		return nil, fmt.Errorf("%q: %w", dst, ErrNoRoute)
	}
	return nil, fmt.Errorf("to %q: %w", dst, ErrNoParent)
}

func (n *Node) route(ctx context.Context, env envelope, wantReply bool) ([]byte, error) {
	ctx, cancel := n.timeout(ctx)
	defer cancel()
	if n.isLocal(env.Dst) {
		if !wantReply {
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				hctx, cancel := n.ctxFor(env.TimeoutMs)
				defer cancel()
				if _, err := n.dispatch(hctx, env); err != nil {
					n.log.Warn("one-way handler failed", "kind", env.Kind, "from", string(env.Src), "err", err)
				}
			}()
			return nil, nil
		}
		n.counter.RequestsServed.Add(1)
		return n.dispatch(ctx, env)
	}
	if env.Hops >= maxHops {
		return nil, fmt.Errorf("to %q: too many hops: %w", env.Dst, ErrNoRoute)
	}
	l, err := n.nextHop(env.Dst)
	if err != nil {
		return nil, err
	}
	env.Hops++
	if dl, ok := ctx.Deadline(); ok {
		env.TimeoutMs = max(1, time.Until(dl).Milliseconds())
	}
	if env.Src != n.cfg.Name {
		n.counter.Relayed.Add(1)
	}
	if !wantReply {
		return nil, l.oneWay(ctx, tOneWay, env)
	}
	_, b, err := l.call(ctx, tRequest, env)
	return b, err
}

func (n *Node) dispatch(ctx context.Context, env envelope) ([]byte, error) {
	n.mu.Lock()
	h := n.handlers[env.Kind]
	n.mu.Unlock()
	if h == nil {
		return nil, &RemoteError{Code: CodeNoHandler, Msg: fmt.Sprintf("no handler for %q on %s", env.Kind, n.cfg.Name)}
	}
	b, err := h(ctx, env.Src, env.Body)
	if err != nil {
		var re *RemoteError
		if errors.As(err, &re) {
			return nil, re
		}
		code := CodeHandler
		if errors.Is(err, context.DeadlineExceeded) {
			code = CodeTimeout
		}
		return nil, &RemoteError{Code: code, Msg: err.Error()}
	}
	return b, nil
}

// onEnvelope handles a routed message arriving on link l: for this node it
// is dispatched to its handler, otherwise relayed one hop on.
func (n *Node) onEnvelope(l *peerLink, p []byte, s link.Stream, guard *time.Timer, wantReply bool) {
	var env envelope
	if !n.decode(l, s, p, &env) {
		return
	}
	if !l.isParent && !n.fromSubtree(l, env.Src) {
		n.counter.Dropped.Add(1)
		replyError(s, CodeBadRequest, "source %q is not in %s's subtree", env.Src, l.peer.Name)
		return
	}
	ctx, cancel := n.ctxFor(env.TimeoutMs)
	defer cancel()
	if !wantReply {
		replyOK(s)
		if _, err := n.route(ctx, env, false); err != nil {
			n.log.Warn("one-way message not delivered", "kind", env.Kind, "to", string(env.Dst), "err", err)
		}
		return
	}
	if dl, ok := ctx.Deadline(); ok {
		guard.Reset(time.Until(dl) + time.Second) // room to write the reply after the handler's deadline
	}
	b, err := n.route(ctx, env, true)
	if err != nil {
		var re *RemoteError
		if errors.As(err, &re) {
			replyError(s, re.Code, "%s", re.Msg)
			return
		}
		code := CodeHandler
		if errors.Is(err, ErrNoRoute) || errors.Is(err, ErrNoParent) {
			code = CodeNoRoute
		} else if errors.Is(err, context.DeadlineExceeded) {
			code = CodeTimeout
		}
		replyError(s, code, "%v", err)
		return
	}
	frame.Write(s, tResponse, b)
	s.CloseWrite()
}

// fromSubtree reports whether src may send through child link l: the child
// itself or a node below it. Children cannot speak for others.
func (n *Node) fromSubtree(l *peerLink, src kernel.NodeName) bool {
	if src == l.peer.Name {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.routes[src] == l
}
