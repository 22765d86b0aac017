package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/migrations"
)

const migrateUsage = `usage: wxid migrate [--database-url URL] [up | status | baseline VERSION]

  up                apply the pending migrations (the default); a database
                    created by the automatic migration of an earlier release
                    is adopted first
  status            print the current version, the pending migrations and any
                    problem (checksum, edited or failed migrations); exit
                    status 0 up to date, 3 migrations pending, 1 problems
  baseline VERSION  record VERSION as applied, without running it, on a
                    database that has no migration history

The database is WXID_DATABASE_URL unless --database-url is given.
`

// Exit statuses of wxid migrate.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitPending = 3
)

// migrateMain runs `wxid migrate`; it needs only the database URL.
func migrateMain(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wxid migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	def := getenv("WXID_DATABASE_URL")
	if def == "" {
		def = "sqlite://wxid.db"
	}
	dbURL := fs.String("database-url", def, "the database (WXID_DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "%s", migrateUsage)
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	cmd, rest := "up", fs.Args()
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	if (cmd == "baseline") != (len(rest) == 1) || len(rest) > 1 || (cmd != "up" && cmd != "status" && cmd != "baseline") {
		fmt.Fprintf(stderr, "%s", migrateUsage)
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	db, err := database.Open(ctx, database.ForMigrations(*dbURL), database.Options{MaxOpenConns: 2})
	if err != nil {
		fmt.Fprintf(stderr, "wxid migrate: %v\n", err)
		return exitFailed
	}
	defer func() { _ = db.Close() }()
	m, err := db.Migrations(slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		fmt.Fprintf(stderr, "wxid migrate: %v\n", err)
		return exitFailed
	}
	switch cmd {
	case "status":
		return migrateStatus(ctx, m, stdout, stderr)
	case "baseline":
		if err := m.Baseline(ctx, rest[0]); err != nil {
			fmt.Fprintf(stderr, "wxid migrate baseline: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "recorded %s as the baseline\n", rest[0])
		return exitOK
	}
	return migrateUp(ctx, m, stdout, stderr)
}

func migrateStatus(ctx context.Context, m *migrations.Migrator, stdout, stderr io.Writer) int {
	st, err := m.Status(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "wxid migrate status: %v\n", err)
		return exitFailed
	}
	st.Write(stdout)
	switch {
	case len(st.Problems) > 0:
		return exitFailed
	case st.Behind():
		return exitPending
	}
	return exitOK
}

func migrateUp(ctx context.Context, m *migrations.Migrator, stdout, stderr io.Writer) int {
	before, err := m.Status(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "wxid migrate: %v\n", err)
		return exitFailed
	}
	for _, o := range before.Offline {
		fmt.Fprintf(stderr, "wxid migrate: %s is an offline migration: every wxid instance must be stopped while it runs (see the README's Migrations)\n", o)
	}
	applied, err := m.Up(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "wxid migrate: %v\n", err)
		return exitFailed
	}
	if before.Adopt {
		fmt.Fprintln(stdout, "adopted the existing tables as the baseline migration")
	} else if len(applied) == 0 {
		fmt.Fprintln(stdout, "the database is up to date")
	}
	for _, f := range applied {
		fmt.Fprintf(stdout, "applied %s\n", f)
	}
	return exitOK
}
