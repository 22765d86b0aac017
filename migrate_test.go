package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/internal/testenv"
	"github.com/wxid/wxid/migrations"
)

func runMigrate(t *testing.T, dbURL string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := map[string]string{"WXID_DATABASE_URL": dbURL}
	code := migrateMain(args, func(k string) string { return env[k] }, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestMigrateCommand(t *testing.T) {
	for _, backend := range []string{"sqlite", "mysql"} {
		t.Run(backend, func(t *testing.T) {
			dbURL := testenv.SQLite(t)
			if backend == "mysql" {
				dbURL = testenv.MySQL(t)
			}
			code, out, _ := runMigrate(t, dbURL, "status")
			require.Equal(t, exitPending, code)
			require.Contains(t, out, "current version: none")
			require.Contains(t, out, "status: behind")
			require.NotContains(t, out, "offline migration", "nothing runs on an empty database")

			code, out, errOut := runMigrate(t, dbURL)
			require.Equal(t, exitOK, code, errOut)
			require.NotContains(t, errOut, "offline migration")
			require.Contains(t, out, "applied ")
			require.Contains(t, out, "_baseline.sql")

			code, out, _ = runMigrate(t, dbURL, "up")
			require.Equal(t, exitOK, code)
			require.Equal(t, "the database is up to date\n", out)

			code, out, _ = runMigrate(t, dbURL, "status")
			require.Equal(t, exitOK, code)
			require.Contains(t, out, "status: up to date")
			require.Contains(t, out, "pending:         0")

			code, _, errOut = runMigrate(t, dbURL, "baseline", "20000101000000")
			require.Equal(t, exitFailed, code)
			require.Contains(t, errOut, "already has a migration history")

			// The tables are there and wxid's own check agrees.
			db, err := database.Open(context.Background(), dbURL, database.Options{})
			require.NoError(t, err)
			defer func() { _ = db.Close() }()
			require.NoError(t, db.CheckMigrated(context.Background(), nil))
			var n int
			require.NoError(t, db.SQL.QueryRow("SELECT COUNT(*) FROM "+migrations.RevisionTable).Scan(&n))
			require.Positive(t, n)
		})
	}
}

// TestMigrateCommandAdopts upgrades a database of the previous release.
func TestMigrateCommandAdopts(t *testing.T) {
	dbURL := testenv.MySQL(t)
	db, err := database.Open(context.Background(), dbURL, database.Options{})
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	b, err := os.ReadFile("migrations/testdata/automigrated_mysql.sql")
	require.NoError(t, err)
	var ddl []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "--") {
			ddl = append(ddl, line)
		}
	}
	for _, stmt := range strings.Split(strings.Join(ddl, "\n"), ";\n") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			_, err := db.SQL.Exec(stmt)
			require.NoError(t, err)
		}
	}
	code, out, _ := runMigrate(t, dbURL, "status")
	require.Equal(t, exitPending, code)
	require.Contains(t, out, "adopts it as the baseline")
	require.Contains(t, out, "offline migration pending: ", "an upgrade through an offline migration says to stop every instance")

	code, out, errOut := runMigrate(t, dbURL)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, errOut, "is an offline migration: every wxid instance must be stopped")
	require.Contains(t, out, "adopted the existing tables as the baseline migration")

	code, out, _ = runMigrate(t, dbURL, "status")
	require.Equal(t, exitOK, code, out)
}

func TestMigrateCommandUsage(t *testing.T) {
	dbURL := "sqlite://:memory:"
	for _, args := range [][]string{{"sideways"}, {"baseline"}, {"up", "extra"}, {"--no-such-flag"}} {
		code, _, errOut := runMigrate(t, dbURL, args...)
		require.Equal(t, exitUsage, code, args)
		require.True(t, strings.HasPrefix(errOut, "usage: wxid migrate"), errOut)
	}
	code, _, errOut := runMigrate(t, "postgres://db/wxid", "status")
	require.Equal(t, exitFailed, code)
	require.Contains(t, errOut, "mysql:// or sqlite://")
}
