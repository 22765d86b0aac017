package resolvers

import (
	"errors"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/session"
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

// sessionError maps session errors: a dead skey is UNAUTHENTICATED.
func sessionError(err error) error {
	if errors.Is(err, session.ErrInvalid) {
		return apperr.Unauthenticated("the skey is invalid, expired or revoked: call wx.login() and login again")
	}
	var coded *apperr.Error
	if errors.As(err, &coded) {
		return err
	}
	return apperr.Internal(err)
}

// optional returns nil for "", else &s.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
