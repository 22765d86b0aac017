package database_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/internal/testenv"
)

// TestMySQLConnectionsRunAtReadCommitted: every pooled connection, the ones
// opened under load included, and every transaction begun without options
// runs at READ COMMITTED, which wxid's lock order relies on (a refresh's
// lock on its session must not lock the gap a login inserts into).
func TestMySQLConnectionsRunAtReadCommitted(t *testing.T) {
	db := testenv.NewMySQLDatabase(t)
	d, err := database.Open(context.Background(), db.URL, database.Options{MaxOpenConns: 4})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	ctx := context.Background()

	// Hold four connections at once, so that the pool opens four.
	conns := make([]*sql.Conn, 4)
	for i := range conns {
		conns[i], err = d.SQL.Conn(ctx)
		require.NoError(t, err)
	}
	for _, c := range conns {
		require.Equal(t, "READ-COMMITTED", isolation(t, c))
		require.NoError(t, c.Close())
	}

	tx, err := d.SQL.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	require.Equal(t, "READ-COMMITTED", isolation(t, tx))
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// isolation reads the session's isolation level: MySQL 8 names the
// variable transaction_isolation, MariaDB before 11.1 tx_isolation.
func isolation(t *testing.T, q queryer) string {
	t.Helper()
	var level string
	if err := q.QueryRowContext(context.Background(), "SELECT @@SESSION.transaction_isolation").Scan(&level); err == nil {
		return level
	}
	require.NoError(t, q.QueryRowContext(context.Background(), "SELECT @@SESSION.tx_isolation").Scan(&level))
	return level
}
