package app_test

import (
	"context"
	"encoding/base64"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/app"
	"github.com/wxid/wxid/config"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/internal/testenv"
)

// TestProductionOnMySQLRunsNoDDLAtStartUp: in production on MySQL wxid
// starts only on a database `wxid migrate` has brought up to date, and
// changes no schema itself.
func TestProductionOnMySQLRunsNoDDLAtStartUp(t *testing.T) {
	ctx := context.Background()
	dbURL := testenv.MySQL(t)
	env := map[string]string{
		"WXID_ENV":            "production",
		"WXID_DATABASE_URL":   dbURL,
		"WXID_WECHAT_APPID":   "wx1111111111111111",
		"WXID_WECHAT_SECRET":  "secret-of-app-one-0000000000000",
		"WXID_SECRET_KEY":     base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"WXID_PURGE_INTERVAL": "0",
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	require.NoError(t, err)
	require.False(t, cfg.AutoMigrate)
	start := func() (*app.App, error) {
		return app.New(ctx, cfg, app.Options{Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	}

	_, err = start()
	require.ErrorContains(t, err, "behind this release")
	require.ErrorContains(t, err, "run `wxid migrate` first")

	db, err := database.Open(ctx, dbURL, database.Options{})
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	var tables int
	require.NoError(t, db.SQL.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()").Scan(&tables))
	require.Zero(t, tables, "start-up created nothing")

	require.NoError(t, db.Migrate(ctx))
	a, err := start()
	require.NoError(t, err)
	require.NoError(t, a.Close())
}
