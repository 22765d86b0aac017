// Command wxid is a GraphQL identity service for WeChat mini-programs.
//
// It reads its configuration from WXID_* environment variables (or the
// flags that mirror them; run with -h for the list), opens the database and
// the cache, and serves GraphQL at /graphql until SIGINT or SIGTERM.
// With no configuration it runs on a SQLite file, an in-process cache and a
// sandboxed stand-in for WeChat, so `go run .` works on a fresh machine.
//
// `wxid migrate [up | status | baseline VERSION]` applies or reports the
// database's schema migrations (migrate.go).
package main

//go:generate go run -mod=mod ./ent/entc.go
//go:generate go run github.com/99designs/gqlgen
//go:generate go run ./internal/cmd/schemagen

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wxid/wxid/app"
	"github.com/wxid/wxid/config"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "migrate" {
		os.Exit(migrateMain(os.Args[2:], os.Getenv, os.Stdout, os.Stderr))
	}
	cfg, err := config.Load(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "usage: wxid [flags]\n       wxid migrate [up | status | baseline VERSION]\n\nEvery flag mirrors an environment variable:")
		config.Usage(os.Stderr)
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "wxid: configuration: %v\n", err)
		os.Exit(2)
	}
	log := app.NewLogger(cfg, nil)
	slog.SetDefault(log)
	if err := run(cfg, log); err != nil {
		log.Error("wxid stopped", "err", err)
		os.Exit(1)
	}
}

func run(cfg *config.Config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	a, err := app.New(ctx, cfg, app.Options{Logger: log})
	if err != nil {
		return err
	}
	defer func() {
		if err := a.Close(); err != nil {
			log.Error("closing stores", "err", err)
		}
	}()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	announce(cfg, log, ln.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	return nil
}

// announce logs what the server runs with, and in the sandbox how to try it.
func announce(cfg *config.Config, log *slog.Logger, addr string) {
	log.Info("wxid listening", "addr", addr, "env", cfg.Env, "config", cfg.String())
	if cfg.SecretKeyGenerated {
		log.Warn("WXID_SECRET_KEY is not set: using a key generated for this process; stored session keys will not survive a restart")
	}
	if !cfg.Sandbox {
		return
	}
	base := "http://" + addr
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "::" || host == "0.0.0.0" || host == "") {
		base = "http://localhost:" + port
	}
	fmt.Fprintf(os.Stderr, `
================================================================================
  WECHAT SANDBOX: no WXID_WECHAT_SECRET is set, so wxid talks to its built-in
  stand-in for WeChat (app %s). Never use this in production.

  Try a login:
    CODE=$(curl -s -XPOST %[2]s/sandbox/wx.login -d '{"user":"alice"}' | sed 's/.*"code":"\([^"]*\)".*/\1/')
    curl -s %[2]s/graphql -H 'Content-Type: application/json' \
      -d '{"query":"mutation($c:String!){login(input:{code:$c}){skey isNewUser user{id}}}","variables":{"c":"'$CODE'"}}'
  Then: curl -s %[2]s/graphql -H 'Authorization: Bearer <skey>' -H 'Content-Type: application/json' -d '{"query":"{me{id openIds{appId openId}}}"}'
  Playground: %[2]s/
================================================================================
`, cfg.DefaultAppID, base)
}
