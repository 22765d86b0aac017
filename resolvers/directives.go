package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/wxid/wxid/auth"
)

// Admin implements @admin: the field resolves only for a caller with an
// admin token; anyone else gets FORBIDDEN.
func Admin(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
	if err := auth.ViewerFromContext(ctx).RequireAdmin(); err != nil {
		return nil, err
	}
	return next(ctx)
}
