package app

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/auth"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/errmap"
	"github.com/wxid/wxid/graph"
	"github.com/wxid/wxid/graph/model"
	"github.com/wxid/wxid/graphqlhttp"
	"github.com/wxid/wxid/internal/graphiql"
	"github.com/wxid/wxid/resolvers"
	"github.com/wxid/wxid/segment"
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

// routes builds the HTTP routes (README, "HTTP"): every answer of wxid's
// own is JSON, refusals included.
func (a *App) routes(r *resolvers.Resolver) http.Handler {
	mux := http.NewServeMux()
	gql := graphqlhttp.New(a.graphQLExecutor(r), a.Log)
	authn := auth.Middleware(a.Sessions, auth.NewAdminTokens(a.Config.AdminTokens), a.Config.TrustedProxies)
	mux.Handle("/graphql", graphqlhttp.CORS(a.Config.CORSOrigins, a.Log,
		graphqlhttp.LimitBody(a.Config.MaxBodyBytes, a.Log, authn(gql))))
	export := segment.New(a.Users, func(ctx context.Context, where any) (*ent.UserWhereInput, error) {
		return graph.UserWhere(ctx, r, where)
	}, segment.Options{Logger: a.Log, Now: a.now})
	mux.Handle(segment.Path, graphqlhttp.LimitBody(a.Config.MaxBodyBytes, a.Log, authn(export)))
	mux.Handle("/healthz", a.get(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	mux.Handle("/readyz", a.get(func(w http.ResponseWriter, req *http.Request) {
		if err := a.Ready(req.Context()); err != nil {
			a.Log.WarnContext(req.Context(), "not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	mux.Handle("/metrics", a.get(promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{}).ServeHTTP))
	notFound := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		graphqlhttp.WriteError(w, req, a.Log, graphqlhttp.Refuse(http.StatusNotFound,
			"no such path: the API is POST or GET /graphql"))
	})
	if a.Config.Playground {
		mux.Handle("/{$}", a.get(graphiql.Page("wxid", "/graphql").ServeHTTP))
		mux.Handle(graphiql.AssetPrefix, a.get(graphiql.Assets(notFound).ServeHTTP))
	}
	if a.Sandbox != nil {
		mux.Handle("/sandbox/", graphqlhttp.LimitBody(a.Config.MaxBodyBytes, a.Log, a.Sandbox.SandboxHandler()))
	}
	mux.Handle("/", notFound)
	return a.observe(mux)
}

// get serves h to GET and HEAD requests and refuses other methods with a
// coded JSON 405.
func (a *App) get(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			graphqlhttp.WriteError(w, req, a.Log, &graphqlhttp.Error{Status: http.StatusMethodNotAllowed,
				Allow: "GET, HEAD", Err: apperr.New(apperr.CodeBadRequest, "this path answers GET only")})
			return
		}
		h(w, req)
	})
}

// graphQLExecutor configures gqlgen's executor: query cache, persisted
// queries, limits, and errmap's presenter.
func (a *App) graphQLExecutor(r *resolvers.Resolver) *executor.Executor {
	cfg := graph.Config{Resolvers: r, Schema: resolvers.PublicSchema(graph.NewExecutableSchema(graph.Config{}).Schema())}
	cfg.Directives.Admin = resolvers.Admin
	cfg.Complexity.Mutation.Login = func(child int, _ model.LoginInput) int { return upstreamCost + child }
	cfg.Complexity.Mutation.DecryptPhoneNumber = func(child int, _ model.DecryptPhoneNumberInput) int { return upstreamCost + child }
	cfg.Complexity.Mutation.RefreshSession = func(child int) int { return upstreamCost + child }
	cfg.Complexity.Mutation.Logout = func(int) int { return upstreamCost }
	cfg.Complexity.Query.Me = func(child int) int { return meCost + child }
	resolvers.SetAdminComplexity(&cfg.Complexity)

	srv := executor.New(graph.NewExecutableSchema(cfg))
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(maxTokens)
	if a.Config.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(resolvers.NoIntrospection{})
	}
	srv.Use(graphqlhttp.PersistedQueries{Cache: lru.New[string](1000)})
	srv.Use(resolvers.DepthLimit{Max: MaxDepth})
	srv.Use(&extension.ComplexityLimit{Func: complexityLimit})
	if a.limiter != nil {
		srv.Use(rateLimit{a.limiter})
	}
	srv.SetErrorPresenter(errmap.Presenter(a.Log))
	srv.SetRecoverFunc(errmap.Recover())
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

// requestTimeout bounds the work of one request, database included. An
// export (segment.Path) has none: it lasts as long as its segment, each of
// its statements under its own deadline.
const requestTimeout = 15 * time.Second
