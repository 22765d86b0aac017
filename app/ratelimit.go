package app

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/wxid/wxid/auth"
	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/ratelimit"
)

// rateLimitedFields are the mutations limited per client IP
// (WXID_LOGIN_RATE_LIMIT): each calls WeChat, whose quotas are the app's.
var rateLimitedFields = map[string]bool{"login": true, "decryptPhoneNumber": true}

// newLimiter returns the limiter of rateLimitedFields, counting in the
// shared cache (memcached across the cluster, else in-process).
func (a *App) newLimiter(now func() time.Time) *ratelimit.Limiter {
	counter, ok := a.Cache.(cache.Counter)
	if !ok || a.Config.LoginRateLimit <= 0 {
		return nil
	}
	return ratelimit.New(counter, ratelimit.Options{
		Limit: a.Config.LoginRateLimit, Now: now, Logger: a.Log, Registerer: a.Registry,
	})
}

// rateLimit is a gqlgen extension that checks the limiter before a rate
// limited mutation runs (and before it calls WeChat). Other fields pay one
// map lookup and no cache round trip.
type rateLimit struct{ l *ratelimit.Limiter }

var _ interface {
	graphql.HandlerExtension
	graphql.FieldInterceptor
} = rateLimit{}

func (rateLimit) ExtensionName() string                   { return "RateLimit" }
func (rateLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (r rateLimit) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc != nil && fc.IsResolver && fc.Object == "Mutation" && rateLimitedFields[fc.Field.Name] {
		if err := r.l.Allow(ctx, fc.Field.Name, auth.ViewerFromContext(ctx).Meta.IP); err != nil {
			return nil, err
		}
	}
	return next(ctx)
}
