package main

import (
	"context"
	"time"

	"github.com/canopy-fleet/canopy/kernel/api"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

// adminTokenTTL is the lifetime of the admin token the server writes into
// the client config.
const adminTokenTTL = 10 * 365 * 24 * time.Hour

// writeClientConfig makes sure the client config points at this server
// with a token it accepts: it keeps a config that does, and otherwise
// writes one with a new admin token. It returns the file's path.
func (c *controller) writeClientConfig(url string) (string, error) {
	path, err := clientConfigPath()
	if err != nil {
		return "", err
	}
	old, err := loadClientConfig(path)
	if err != nil {
		c.log.Warn("client config unreadable; writing a new one", "path", path, "err", err)
		old = &clientConfig{}
	}
	caPEM := string(identity.EncodeCert(c.ca.Cert.Raw))
	if old.Server == url && old.CAHash == c.ca.Hash() && old.CACert == caPEM {
		if role, err := c.tokens.Authenticate(context.Background(), old.Token); err == nil && role == api.RoleAdmin {
			return path, nil
		}
	}
	tok, _, err := c.tokens.create(api.TokenAdmin, adminTokenTTL)
	if err != nil {
		return "", err
	}
	cfg := &clientConfig{Server: url, Token: tok, CAHash: c.ca.Hash(), CACert: caPEM}
	if err := cfg.save(path); err != nil {
		return "", err
	}
	c.log.Info("client config written", "path", path)
	return path, nil
}
