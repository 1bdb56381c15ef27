package main

import (
	"context"
	"fmt"
	"math/big"
	"net/http"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/api"
)

// ListTokens describes the tokens the controller remembers
// (api.TokenIssuer).
func (c *controller) ListTokens(context.Context) ([]api.TokenInfo, error) {
	return c.tokens.list(), nil
}

// RevokeToken revokes a join or API token by its id (api.TokenIssuer): a
// device can no longer join with it, a client no longer call the API.
func (c *controller) RevokeToken(_ context.Context, id string, allow func(role string) error) (api.TokenInfo, error) {
	info, err := c.tokens.revoke(id, allow)
	if err == nil {
		c.log.Info("token revoked", "id", id, "role", info.Role)
	}
	return info, err
}

// DeleteNode removes a node from the cluster (api.NodeDeleter): every
// certificate issued to it that has not expired goes on the CA's
// revocation list (on disk first), its links are dropped at every level
// of the tree at once, and the controller forgets it, so the device comes
// back only with a new join token and its name is free for another.
func (c *controller) DeleteNode(_ context.Context, name string) (api.NodeDeletion, error) {
	node := kernel.NodeName(name)
	switch {
	case !kernel.ValidName(name):
		return api.NodeDeletion{}, api.Errorf(http.StatusBadRequest, "name", "%q is not a node name (1-63 lowercase letters, digits, dashes)", name)
	case node == c.identity.Name:
		return api.NodeDeletion{}, api.Errorf(http.StatusBadRequest, "name", "%s is the controller; it cannot be deleted", name)
	}
	// From here no certificate is issued to the node: a renewal in flight
	// would otherwise get one that is not revoked.
	certs, known := c.nodes.deleting(node)
	if !known {
		return api.NodeDeletion{}, api.Errorf(http.StatusNotFound, "name", "no node %q joined this cluster", name)
	}
	deleted := false
	defer func() {
		if !deleted {
			c.nodes.undelete(node)
		}
	}()
	if len(certs) == 0 && c.node.Reaches(node) {
		// Joined before certificates were recorded: nothing to revoke by
		// name, and forgetting it would leave it linked.
		return api.NodeDeletion{}, api.Errorf(http.StatusConflict, "name",
			"no certificate of %s is on record to revoke (it joined before canopy recorded them; it can be deleted after its next renewal)", name)
	}
	serials := make([]string, 0, len(certs))
	for _, ic := range certs {
		serial, ok := new(big.Int).SetString(ic.Serial, 16)
		if !ok {
			return api.NodeDeletion{}, fmt.Errorf("node %s: certificate serial %q on record is not hex", name, ic.Serial)
		}
		// Until it expires: then it is refused for that, and the
		// revocation list every gateway fetches stays small.
		if err := c.ca.RevokeUntil(serial, ic.Expires); err != nil {
			return api.NodeDeletion{}, fmt.Errorf("revoke %s's certificate %s: %w", name, ic.Serial, err)
		}
		serials = append(serials, ic.Serial)
	}
	c.node.Revoked(serials)
	deleted = true // revoked: renewals stay refused even if the list is not saved
	if err := c.nodes.forget(node); err != nil {
		return api.NodeDeletion{}, fmt.Errorf("node %s revoked, but not removed from the node list: %w", name, err)
	}
	c.log.Info("node deleted", "node", name, "revoked_certificates", len(serials))
	return api.NodeDeletion{Name: name, RevokedCertificates: serials}, nil
}
