// Package api is the controller's HTTP API: JSON over HTTPS with bearer
// tokens bound to roles (admin, operator, viewer). It holds the handlers
// only; what they serve comes through small interfaces (Authenticator,
// TokenIssuer, NodeLister) that cmd/canopy implements with the mesh, and
// cmd/canopy listens and terminates TLS.
//
// Every error is a JSON object {"error": "...", "field": "..."} with a 4xx
// or 5xx status; the message is one line, and field names the request
// field at fault when there is one.
//
// Endpoints:
//
//	GET  /healthz          the process is up (no token)
//	GET  /readyz           the controller can serve (no token)
//	GET  /metrics          Prometheus text format (no token)
//	POST /api/v1/tokens    create a join or API token (operator or admin)
//	GET  /api/v1/nodes     the nodes the controller knows (viewer and up)
package api
