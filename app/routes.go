package app

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/wxid/wxid/auth"
	"github.com/wxid/wxid/graph"
	"github.com/wxid/wxid/graph/model"
	"github.com/wxid/wxid/resolvers"
)

// Limits of one GraphQL request.
const (
	// MaxComplexity bounds a query's cost; each field costs 1 by default.
	MaxComplexity = 500
	// MaxAdminComplexity bounds the cost of a request with an admin token.
	// users and nodes cost their items' complexity times the page size
	// (resolvers.SetAdminComplexity), so a dashboard's page of 100 users
	// with every user field (about 2,000) fits, and three aliased copies of
	// it do not (COMPLEXITY_LIMIT_EXCEEDED).
	MaxAdminComplexity = 5_000
	// MaxDepth bounds how deep fields nest (resolvers.DepthLimit,
	// QUERY_TOO_DEEP). wxid's deepest query is
	// users { edges { node { openIds { appId } } } }: 5 levels; the
	// standard introspection query is 6 (ofType chains are not counted).
	MaxDepth = 10
	// upstreamCost is the cost of a field that calls WeChat (login,
	// decryptPhoneNumber) or runs a locking transaction (refreshSession,
	// logout): two of them do not fit in one request without an admin
	// token, so aliases cannot multiply the work.
	upstreamCost = MaxComplexity/2 + 1
	// meCost is the cost of me, which may read the database: aliased
	// copies add up, and a request holds at most four.
	meCost = MaxComplexity / 5
	// maxTokens bounds the tokens the parser reads.
	maxTokens = 5_000
)

// routes builds the HTTP routes of DESIGN.md.
func (a *App) routes(r *resolvers.Resolver) http.Handler {
	mux := http.NewServeMux()
	gql := a.graphQLHandler(r)
	mux.Handle("/graphql", codeTransportErrors(limitBody(a.Config.MaxBodyBytes,
		auth.Middleware(a.Sessions, auth.NewAdminTokens(a.Config.AdminTokens), a.Config.TrustedProxies)(gql))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, req *http.Request) {
		if err := a.Ready(req.Context()); err != nil {
			a.Log.WarnContext(req.Context(), "not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{}))
	if a.Config.Playground {
		mux.Handle("GET /{$}", playground.Handler("wxid", "/graphql"))
	}
	if a.Sandbox != nil {
		mux.Handle("/sandbox/", limitBody(a.Config.MaxBodyBytes, a.Sandbox.SandboxHandler()))
	}
	return a.observe(mux)
}

// graphQLHandler configures gqlgen per DESIGN.md's operating notes.
func (a *App) graphQLHandler(r *resolvers.Resolver) http.Handler {
	cfg := graph.Config{Resolvers: r}
	cfg.Directives.Admin = resolvers.Admin
	cfg.Complexity.Mutation.Login = func(child int, _ model.LoginInput) int { return upstreamCost + child }
	cfg.Complexity.Mutation.DecryptPhoneNumber = func(child int, _ model.DecryptPhoneNumberInput) int { return upstreamCost + child }
	cfg.Complexity.Mutation.RefreshSession = func(child int) int { return upstreamCost + child }
	cfg.Complexity.Mutation.Logout = func(int) int { return upstreamCost }
	cfg.Complexity.Query.Me = func(child int) int { return meCost + child }
	resolvers.SetAdminComplexity(&cfg.Complexity)

	srv := handler.New(graph.NewExecutableSchema(cfg))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{}) // refuses mutations (CSRF)
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(maxTokens)
	if a.Config.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(resolvers.NoIntrospection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.Use(resolvers.DepthLimit{Max: MaxDepth})
	srv.Use(&extension.ComplexityLimit{Func: complexityLimit})
	if a.limiter != nil {
		srv.Use(rateLimit{a.limiter})
	}
	srv.SetErrorPresenter(resolvers.ErrorPresenter(a.Log))
	srv.SetRecoverFunc(resolvers.Recover(a.Log))
	srv.SetDisableSuggestion(a.Config.Production())
	return srv
}

// complexityLimit is MaxAdminComplexity for admin tokens, MaxComplexity for
// everyone else.
func complexityLimit(ctx context.Context, _ *graphql.OperationContext) int {
	if auth.ViewerFromContext(ctx).Admin {
		return MaxAdminComplexity
	}
	return MaxComplexity
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// requestTimeout bounds the work of one request, database included.
const requestTimeout = 15 * time.Second
