package main

import (
	"context"
	"path/filepath"
	"time"

	"github.com/canopy-fleet/canopy/kernel/api"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

// adminTokenTTL is the lifetime of the admin token the server writes into
// the client config.
const adminTokenTTL = 10 * 365 * 24 * time.Hour

// writeClientConfig makes sure the client config points at this server
// with a token it accepts: it keeps a config that does, re-points one of
// this cluster whose admin token still works (no new token), and
// otherwise writes one with a new admin token. A config of another
// cluster (another CA) is left alone: this server's goes next to it,
// named after the controller, and the operator picks it with
// CANOPY_CONFIG. It returns the file's path.
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
	if old.CAHash != "" && old.CAHash != c.ca.Hash() {
		other := filepath.Join(filepath.Dir(path), "config."+string(c.identity.Name)+".yaml")
		c.log.Warn("client config belongs to another cluster; this one's written beside it (set CANOPY_CONFIG to use it)",
			"path", path, "other_ca", old.CAHash, "written", other)
		path = other
		if old, err = loadClientConfig(path); err != nil {
			old = &clientConfig{}
		}
	}
	caPEM := string(identity.EncodeCert(c.ca.Cert.Raw))
	tok := ""
	if old.CAHash == c.ca.Hash() {
		if role, err := c.tokens.Authenticate(context.Background(), old.Token); err == nil && role == api.RoleAdmin {
			if old.Server == url && old.CACert == caPEM {
				return path, nil
			}
			tok = old.Token
		}
	}
	if tok == "" {
		if tok, _, err = c.tokens.create(api.TokenAdmin, adminTokenTTL); err != nil {
			return "", err
		}
	}
	cfg := &clientConfig{Server: url, Token: tok, CAHash: c.ca.Hash(), CACert: caPEM}
	if err := cfg.save(path); err != nil {
		return "", err
	}
	c.log.Info("client config written", "path", path)
	return path, nil
}
