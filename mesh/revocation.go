package mesh

import (
	"context"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
)

// kindRevokedNews tells a gateway that the root's revocation list grew:
// it fetches the list now (from the root, which alone is believed) instead
// of at its next RenewCheck, drops the children it revokes and passes the
// news on to its own gateway children. The message carries nothing, so a
// forged one costs a refresh and no more.
const kindRevokedNews = "mesh.revoked.news"

// Revoked is called on the root once serials (hex, as the CA lists them)
// are on the CA's revocation list: it drops the root's children holding
// those certificates at once and tells the gateways below, so that a
// revoked node loses its link wherever it is within a round trip per
// level, not a RenewCheck.
func (n *Node) Revoked(serials []string) {
	if len(serials) == 0 {
		return
	}
	n.dropRevoked(serials)
	n.announceRevocations()
}

// announceRevocations sends kindRevokedNews to every gateway child, in
// the background (a child that does not answer does not hold the caller).
func (n *Node) announceRevocations() {
	n.mu.Lock()
	var gateways []kernel.NodeName
	for name, l := range n.children {
		if l.peer.Role == kernel.RoleGateway {
			gateways = append(gateways, name)
		}
	}
	n.mu.Unlock()
	if len(gateways) == 0 || n.ctx == nil || n.ctx.Err() != nil {
		return
	}
	n.goRun(func() {
		for _, g := range gateways {
			ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
			if err := n.Send(ctx, g, kindRevokedNews, nil); err != nil {
				n.log.Debug("revocation news not sent", "to", string(g), "err", err)
			}
			cancel()
		}
	})
}

// onRevokedNews is the kindRevokedNews handler of a node that keeps a
// revocation list: it wakes the revocation loop (at most one refresh
// waits; more news meanwhile joins it).
func (n *Node) onRevokedNews(context.Context, kernel.NodeName, []byte) ([]byte, error) {
	select {
	case n.revokedNews <- struct{}{}:
	default:
	}
	return nil, nil
}

// revocationWatch keeps Config.Revocations in step with the root's list,
// refreshing every RenewCheck and on news, and disconnects children whose
// certificates were revoked.
func (n *Node) revocationWatch() {
	for {
		if err := n.WaitParent(n.ctx); err != nil {
			return
		}
		n.refreshRevocations()
		t := n.cfg.Clock.NewTimer(n.cfg.RenewCheck)
		select {
		case <-t.C():
		case <-n.revokedNews:
		case <-n.ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
	}
}

// refreshRevocations fetches the root's list; on new serials it drops the
// children they name and passes the news down.
func (n *Node) refreshRevocations() {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
	b, err := n.Request(ctx, "", kindRevoked, nil)
	cancel()
	var list revokedList
	if err == nil {
		err = frame.Unmarshal(b, &list)
	}
	if err != nil {
		n.log.Warn("revocation list not refreshed", "err", err)
		return
	}
	if added := n.cfg.Revocations.Replace(list.Serials); len(added) > 0 {
		n.log.Info("revocation list grew", "added", len(added))
		n.dropRevoked(added)
		n.announceRevocations()
	}
}
