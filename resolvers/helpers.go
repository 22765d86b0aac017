package resolvers

import (
	"github.com/wxid/wxid/apperr"
)

// MaxPageSize caps first and last of a connection.
const MaxPageSize = 100

// checkPageSize refuses pages larger than MaxPageSize and negative ones.
func checkPageSize(first, last *int) error {
	for _, n := range []*int{first, last} {
		if n != nil && (*n < 0 || *n > MaxPageSize) {
			return apperr.BadInput("first and last must be between 0 and %d", MaxPageSize)
		}
	}
	return nil
}

// optional returns nil for "", else &s.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
