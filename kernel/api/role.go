package api

import "fmt"

// Role is what an API token may do. Each role includes the ones below it:
// admin > operator > viewer.
type Role string

// API roles.
const (
	RoleAdmin    Role = "admin"
	RoleOperator Role = "operator"
	RoleViewer   Role = "viewer"
)

// level orders roles; 0 is not a role.
func (r Role) level() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleOperator:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// Allows reports whether a token of role r may do what needs role min.
func (r Role) Allows(min Role) bool { return r.level() > 0 && r.level() >= min.level() }

// ParseRole checks an API role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r.level() == 0 {
		return "", fmt.Errorf("role %q: want admin, operator or viewer", s)
	}
	return r, nil
}
