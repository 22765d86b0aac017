package resolvers

import (
	"github.com/wxid/wxid/users"
)

// MaxPageSize caps first and last of a connection, and the IDs of nodes.
const MaxPageSize = users.MaxPageSize

// optional returns nil for "", else &s.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
