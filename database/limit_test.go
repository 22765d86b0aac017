package database_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/internal/testenv"
)

// TestServerStatementLimit: an interactive SELECT carries a time limit the
// server enforces, so an expensive query is stopped by MySQL/MariaDB itself
// (not only abandoned by the client), answers StatementTimeoutError rather
// than UNAVAILABLE, leaves nothing running on the server, and does not
// open the circuit. Statements in a transaction and background statements
// carry no server-side limit.
func TestServerStatementLimit(t *testing.T) {
	db := testenv.NewMySQLDatabase(t)
	const stmt = 300 * time.Millisecond
	var drv dialect.Driver
	d, err := database.Open(context.Background(), db.URL, database.Options{
		StatementTimeout: stmt, TxStatementTimeout: stmt, BreakerThreshold: 1, BreakerCooldown: time.Minute,
		Driver: func(next dialect.Driver) dialect.Driver { drv = next; return next },
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	req := database.Interactive(context.Background())
	// A cross join of hundreds of rows four times counts for minutes.
	expensive := func(ctx context.Context, q dialect.ExecQuerier) error {
		var rows entsql.Rows
		err := q.Query(ctx, "SELECT COUNT(*) FROM information_schema.COLLATIONS a, information_schema.COLLATIONS b, information_schema.COLLATIONS c, information_schema.COLLATIONS wxid_limit_test", []any{}, &rows)
		if err == nil {
			for rows.Next() {
			}
			err = errors.Join(rows.Err(), rows.Close())
		}
		return err
	}
	for range 3 { // more than the breaker's threshold
		start := time.Now()
		err := expensive(req, drv)
		took := time.Since(start)
		require.ErrorIs(t, err, database.ErrStatementTimeout)
		require.NotErrorIs(t, err, database.ErrUnavailable, "an expensive query says nothing about the database")
		var limit *database.StatementTimeoutError
		require.True(t, errors.As(err, &limit))
		require.Equal(t, stmt-100*time.Millisecond, limit.Limit)
		require.Less(t, took, stmt+time.Second)
	}
	var one entsql.Rows
	require.NoError(t, drv.Query(req, "SELECT 1", []any{}, &one), "the circuit stayed closed")
	require.NoError(t, one.Close())

	// Nothing of it is left running on the server.
	var running int
	require.NoError(t, d.SQL.QueryRowContext(context.Background(),
		"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%wxid_limit_test%' AND INFO NOT LIKE '%PROCESSLIST%'").Scan(&running))
	require.Zero(t, running)

	// Inside a transaction only the client's deadline applies: a statement
	// there reads by key or waits for a row lock, and running out of time
	// says the database is in trouble.
	tx, err := drv.Tx(req)
	require.NoError(t, err)
	var rows entsql.Rows
	err = tx.Query(req, "SELECT SLEEP(1)", []any{}, &rows)
	if err == nil {
		for rows.Next() {
		}
		err = errors.Join(rows.Err(), rows.Close())
	}
	require.ErrorIs(t, err, database.ErrUnavailable, "the client's deadline")
	require.NotErrorIs(t, err, database.ErrStatementTimeout)
	_ = tx.Rollback()
}
