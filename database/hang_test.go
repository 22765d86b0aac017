package database_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/internal/clock"
	"github.com/wxid/wxid/internal/testenv"
)

// TestHungMySQL drives the driver directly through a proxy that hangs:
// interactive statements stop at their deadline and open the circuit;
// background statements keep their own context's time; the circuit lets a
// probe through after the cooldown and closes when MySQL answers.
func TestHungMySQL(t *testing.T) {
	db := testenv.NewMySQLDatabase(t)
	u, err := url.Parse(db.URL)
	require.NoError(t, err)
	proxy := testenv.StartProxy(t, u.Host)
	u.Host = proxy.Addr
	clk := clock.NewFake(time.Now())
	const stmt = 200 * time.Millisecond
	d, err := database.Open(context.Background(), u.String(), database.Options{
		StatementTimeout: stmt, TxStatementTimeout: 2 * stmt, BreakerThreshold: 2, BreakerCooldown: time.Second, Now: clk.Now,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	require.NoError(t, d.Migrate(context.Background()))
	req := database.Interactive(context.Background())
	count := func(ctx context.Context) error { _, err := d.Client.User.Query().Count(ctx); return err }
	require.NoError(t, count(req))

	proxy.Stall()
	// Background work is bounded by its own context only.
	bg, cancel := context.WithTimeout(context.Background(), 3*stmt)
	start := time.Now()
	err = count(bg)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, database.ErrUnavailable, "the caller's own deadline says nothing about the database")
	require.GreaterOrEqual(t, time.Since(start), 3*stmt)

	for range 2 {
		start = time.Now()
		err = count(req)
		require.ErrorIs(t, err, database.ErrUnavailable)
		require.Less(t, time.Since(start), 3*stmt, "an interactive statement stops at its deadline")
	}
	start = time.Now()
	_, err = d.Client.Tx(req)
	require.ErrorIs(t, err, database.ErrUnavailable)
	require.Less(t, time.Since(start), 20*time.Millisecond, "the open circuit refuses at once, transactions too")
	var down *database.UnavailableError
	require.ErrorAs(t, count(req), &down)
	require.Nil(t, down.Err, "nothing was sent")
	require.Equal(t, time.Second, down.RetryAfter)

	proxy.Heal()
	require.ErrorIs(t, count(req), database.ErrUnavailable, "still open until the cooldown ends")
	clk.Advance(time.Second)
	require.NoError(t, count(req), "the probe reaches MySQL and closes the circuit")
	tx, err := d.Client.Tx(req)
	require.NoError(t, err)
	_, err = tx.User.Create().Save(req)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	n, err := d.Client.User.Query().Count(req)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

// TestSaturatedPoolShedsWithoutOpeningTheCircuit: requests that queue for
// a pooled connection past their deadline are shed (UNAVAILABLE) while the
// database itself is fine, and the circuit stays closed: the next request
// that finds a connection runs at once.
func TestSaturatedPoolShedsWithoutOpeningTheCircuit(t *testing.T) {
	db := testenv.NewMySQLDatabase(t)
	const stmt = 200 * time.Millisecond
	d, err := database.Open(context.Background(), db.URL, database.Options{
		MaxOpenConns: 1, StatementTimeout: stmt, TxStatementTimeout: 2 * stmt, BreakerThreshold: 2, BreakerCooldown: time.Hour,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	require.NoError(t, d.Migrate(context.Background()))
	req := database.Interactive(context.Background())
	count := func(ctx context.Context) error { _, err := d.Client.User.Query().Count(ctx); return err }

	hold, err := d.Client.Tx(context.Background()) // the pool's one connection
	require.NoError(t, err)
	for range 3 {
		require.ErrorIs(t, count(req), database.ErrUnavailable, "no connection frees up in time")
		_, err := d.Client.Tx(req)
		require.ErrorIs(t, err, database.ErrUnavailable)
	}
	require.NoError(t, hold.Rollback())
	require.NoError(t, count(req), "the circuit stayed closed: the database never failed")
}
