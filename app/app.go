// Package app assembles wxid: configuration -> database, cache, WeChat
// client -> domain services -> GraphQL handler -> HTTP routes. server.go's
// main runs it; the integration tests drive the same handler.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wxid/wxid/audit"
	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/config"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/identity"
	"github.com/wxid/wxid/phone"
	"github.com/wxid/wxid/profile"
	"github.com/wxid/wxid/ratelimit"
	"github.com/wxid/wxid/resolvers"
	"github.com/wxid/wxid/sealer"
	"github.com/wxid/wxid/session"
	"github.com/wxid/wxid/stats"
	"github.com/wxid/wxid/users"
	"github.com/wxid/wxid/wechat"
	"github.com/wxid/wxid/wechat/accesstoken"
	"github.com/wxid/wxid/wechat/wechattest"
)

// Options are what tests change beyond the configuration.
type Options struct {
	// Logger; nil means a logger built from the configuration.
	Logger *slog.Logger
	// Now is the clock of sessions and logins; nil means time.Now.
	Now func() time.Time
	// Registry receives the metrics; nil means a new registry.
	Registry *prometheus.Registry
	// Database tunes the database connection (tests count queries).
	Database database.Options
}

// App is a running wxid: its stores, services and HTTP handler.
type App struct {
	// Config is the configuration it runs with.
	Config *config.Config
	// DB is the database.
	DB *database.DB
	// Cache is the session and token cache.
	Cache cache.Cache
	// Sessions manages skeys.
	Sessions *session.Manager
	// Identity logs users in.
	Identity *identity.Service
	// Users reads and administers users.
	Users *users.Service
	// Views caches the users' views for `me`.
	Views *users.Views
	// WeChat is the upstream client.
	WeChat *wechat.Client
	// Tokens holds the apps' WeChat access tokens, shared by the cluster.
	Tokens *accesstoken.Manager
	// Phone verifies and stores phone numbers.
	Phone *phone.Service
	// Audit reads and purges the audit trail.
	Audit *audit.Service
	// Profile changes nicknames and avatars.
	Profile *profile.Service
	// Stats keeps and answers the daily user statistics.
	Stats *stats.Service
	// Sandbox is the in-process WeChat stand-in; nil unless sandboxed.
	Sandbox *wechattest.Server
	// Sealer encrypts secrets at rest under WXID_SECRET_KEY (opening with
	// WXID_SECRET_KEY_PREVIOUS too).
	Sealer *sealer.Sealer
	// Registry holds the metrics served at /metrics.
	Registry *prometheus.Registry
	// Log is the server log.
	Log *slog.Logger

	handler http.Handler
	now     func() time.Time // Options.Now; nil for time.Now
	limiter *ratelimit.Limiter
	closers []func() error
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// SandboxSecret is the AppSecret the sandbox stand-in gives apps configured
// without one.
const SandboxSecret = "sandbox-secret"

// New opens the stores and builds the services and the handler. Close
// releases them.
func New(ctx context.Context, cfg *config.Config, o Options) (_ *App, err error) {
	a := &App{Config: cfg, Registry: o.Registry, Log: o.Logger, now: o.Now}
	if a.Log == nil {
		a.Log = NewLogger(cfg, nil)
	}
	if a.Registry == nil {
		a.Registry = prometheus.NewRegistry()
		a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	defer func() {
		if err != nil {
			_ = a.Close() // the error that stopped New matters more
		}
	}()

	if err = a.openDatabase(ctx, o.Database); err != nil {
		return nil, err
	}
	if a.Cache, err = a.openCache(); err != nil {
		return nil, err
	}
	if a.Sealer, err = sealer.New(cfg.SecretKey, cfg.SecretKeyPrevious...); err != nil {
		return nil, err
	}
	a.buildServices(o)
	a.handler = a.routes(&resolvers.Resolver{
		Identity: a.Identity,
		Accounts: a.Users,
		Sessions: a.Sessions,
		Phone:    a.Phone,
		Audit:    a.Audit,
		Profile:  a.Profile,
		Stats:    a.Stats,
	})
	a.startBackground(ctx)
	return a, nil
}

// openDatabase opens the database and migrates it (WXID_AUTO_MIGRATE), or
// checks that it is migrated.
func (a *App) openDatabase(ctx context.Context, o database.Options) (err error) {
	if o.MaxOpenConns == 0 {
		o.MaxOpenConns = a.Config.DBMaxOpenConns
	}
	if o.Logger == nil {
		o.Logger = a.Log
	}
	if o.Registerer == nil {
		o.Registerer = a.Registry
	}
	if a.DB, err = database.Open(ctx, a.Config.DatabaseURL, o); err != nil {
		return err
	}
	a.closers = append(a.closers, a.DB.Close)
	if a.Config.AutoMigrate {
		return a.DB.MigrateLogged(ctx, a.Log)
	}
	return a.DB.CheckMigrated(ctx, a.Log)
}

// buildServices builds the domain services over the stores.
func (a *App) buildServices(o Options) {
	cfg, seal := a.Config, a.Sealer
	rowLocks := a.DB.Dialect == dialect.MySQL
	a.WeChat = a.newWeChatClient()
	a.Sessions = session.NewManager(a.DB.Client, a.Cache, seal, session.Options{
		Keys: session.NewKeys(seal),
		TTL:  cfg.SessionTTL, MaxAge: cfg.SessionMaxAge, Grace: cfg.RefreshGrace,
		Now: o.Now, Logger: a.Log, Registerer: a.Registry, RowLocks: rowLocks,
	})
	a.Views = users.NewViews(a.DB.Client, a.Cache, seal, users.ViewOptions{Now: o.Now, Logger: a.Log})
	apps := identity.Apps{Default: cfg.DefaultAppID, Secrets: cfg.Apps}
	a.Identity = identity.NewService(a.DB.Client, a.WeChat, apps, a.Sessions, seal, identity.Options{
		Now: o.Now, Logger: a.Log, Dialect: a.DB.Dialect, Days: cfg.StatsLocation, Views: a.Views,
	})
	a.Stats = stats.NewService(a.DB.Client, a.Cache, stats.Options{Location: cfg.StatsLocation, Now: o.Now, Logger: a.Log})
	a.Users = users.NewService(a.DB.Client, a.Sessions, users.Options{Logger: a.Log, Now: o.Now, RowLocks: rowLocks, Views: a.Views})
	a.Tokens = accesstoken.New(a.Cache, a.WeChat, accesstoken.Options{Now: o.Now, Logger: a.Log, Registerer: a.Registry, Sealer: seal})
	a.Phone = phone.NewService(a.DB.Client, seal, apps, a.Tokens, a.WeChat, phone.Options{Now: o.Now, Logger: a.Log, Views: a.Views})
	a.Profile = profile.NewService(a.DB.Client, apps, a.Tokens, a.WeChat, profile.Options{Now: o.Now, Logger: a.Log, Views: a.Views})
	a.Audit = audit.NewService(a.DB.Client, audit.Options{Retention: cfg.AuditRetention, Now: o.Now, Logger: a.Log})
	a.limiter = a.newLimiter(o.Now)
}

// startBackground learns the recent revocations and user writes, then
// starts the session housekeeping (revocation feed, tombstone retries,
// purge), the user view feed, the audit trail's purge and the daily user
// statistics' rollup until Close.
func (a *App) startBackground(ctx context.Context) {
	// Learn the revocations and user writes of the last TTL before
	// serving, so that a restarted instance forgets none of them; Run
	// keeps polling.
	if err := a.Sessions.PollRevocations(ctx); err != nil {
		a.Log.WarnContext(ctx, "revocation feed: first poll failed; retrying in the background", "err", err)
	}
	if err := a.Views.PollWrites(ctx); err != nil {
		a.Log.WarnContext(ctx, "user view feed: first poll failed; retrying in the background", "err", err)
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.Sessions.Run(bg, a.Config.PurgeInterval)
	}()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.Audit.Run(bg, a.Config.PurgeInterval)
	}()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.Stats.Run(bg, a.Config.StatsInterval)
	}()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.Views.Run(bg)
	}()
}

func (a *App) openCache() (cache.Cache, error) {
	if len(a.Config.Memcached) == 0 {
		return cache.NewInstrumented(cache.NewMemory(100_000), a.Registry, a.Log), nil
	}
	mc, err := cache.NewMemcached(cache.MemcachedOptions{
		Servers: a.Config.Memcached,
		Timeout: a.Config.MemcachedTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("configuring memcached: %w", err)
	}
	a.closers = append(a.closers, mc.Close)
	// A hung memcached costs one timeout, then is skipped for a cooldown.
	br := cache.NewBreaker(mc, cache.BreakerOptions{Registerer: a.Registry, Logger: a.Log})
	return cache.NewInstrumented(br, a.Registry, a.Log), nil
}

// newWeChatClient returns the upstream client: the real API, or in sandbox
// mode the in-process stand-in, served without a socket.
func (a *App) newWeChatClient() *wechat.Client {
	opts := wechat.Options{
		BaseURL:    a.Config.WeChatAPIBase,
		Timeout:    a.Config.WeChatTimeout,
		Registerer: a.Registry,
	}
	if a.Config.Sandbox {
		a.Sandbox = wechattest.New(wechattest.WithDefaultApp(a.Config.DefaultAppID))
		for id, secret := range a.Config.Apps {
			if secret == "" {
				secret = SandboxSecret
				a.Config.Apps[id] = secret
			}
			// One open platform for every sandbox app, so unionids work.
			a.Sandbox.AddApp(id, secret, "sandbox-open-platform")
		}
		opts.BaseURL = "http://wechat.sandbox"
		opts.Transport = wechattest.NewTransport(a.Sandbox.Handler())
	}
	return wechat.NewClient(opts)
}

// Handler is the HTTP handler of every route.
func (a *App) Handler() http.Handler { return a.handler }

// Budgets of the readiness checks; they run concurrently, so /readyz
// answers within the larger one and names the backend that failed.
const (
	readyDatabaseBudget = time.Second
	readyCacheBudget    = time.Second
)

// Ready reports whether the database and the cache answer, each within its
// own budget; the error names every backend that did not.
func (a *App) Ready(ctx context.Context) error {
	check := func(budget time.Duration, name string, ping func(context.Context) error) <-chan error {
		ch := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(ctx, budget)
			defer cancel()
			if err := ping(ctx); err != nil {
				ch <- fmt.Errorf("%s unreachable", name)
				return
			}
			ch <- nil
		}()
		return ch
	}
	db := check(readyDatabaseBudget, "database", a.DB.SQL.PingContext)
	cc := check(readyCacheBudget, "cache", a.Cache.Ping)
	return errors.Join(<-db, <-cc)
}

// Close stops the background work and closes the stores.
func (a *App) Close() error {
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	return errors.Join(errs...)
}
