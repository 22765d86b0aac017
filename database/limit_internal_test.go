package database

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLimited: SELECTs get the server-side limit in each server's syntax;
// other statements are left alone.
func TestLimited(t *testing.T) {
	maria, mysql := &resilient{mariaDB: true}, &resilient{}
	ctx := context.Background()
	q := "SELECT COUNT(*) FROM `users`"
	require.Equal(t, "SET STATEMENT max_statement_time=0.900 FOR "+q, maria.limited(ctx, q, time.Second))
	require.Equal(t, "SELECT /*+ MAX_EXECUTION_TIME(900) */ COUNT(*) FROM `users`", mysql.limited(ctx, q, time.Second))
	require.Equal(t, "SELECT /*+ MAX_EXECUTION_TIME(4500) */ 1", mysql.limited(ctx, "select 1", 5*time.Second))
	for _, other := range []string{"UPDATE `users` SET `disabled` = 1", "DELETE FROM `sessions` WHERE `id` = ?", "INSERT INTO t VALUES (1)", "SELEC"} {
		require.Equal(t, other, maria.limited(ctx, other, time.Second))
		require.Equal(t, other, mysql.limited(ctx, other, time.Second))
	}
	fm := FirstMatch(ctx)
	require.Equal(t, "SET STATEMENT max_statement_time=0.900, optimizer_switch='materialization=off' FOR "+q, maria.limited(fm, q, time.Second))
	require.Equal(t, "SELECT /*+ MAX_EXECUTION_TIME(900) SET_VAR(optimizer_switch = 'materialization=off') */ COUNT(*) FROM `users`", mysql.limited(fm, q, time.Second))
	require.Equal(t, 200*time.Millisecond, serverLimit(300*time.Millisecond))
	require.Equal(t, 50*time.Millisecond, serverLimit(100*time.Millisecond))
}
