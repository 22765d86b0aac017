package database

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLimited: SELECTs get the server-side limit in each server's syntax;
// other statements are left alone.
func TestLimited(t *testing.T) {
	maria, mysql := &resilient{mariaDB: true}, &resilient{}
	q := "SELECT COUNT(*) FROM `users`"
	require.Equal(t, "SET STATEMENT max_statement_time=0.900 FOR "+q, maria.limited(q, time.Second))
	require.Equal(t, "SELECT /*+ MAX_EXECUTION_TIME(900) */ COUNT(*) FROM `users`", mysql.limited(q, time.Second))
	require.Equal(t, "SELECT /*+ MAX_EXECUTION_TIME(4500) */ 1", mysql.limited("select 1", 5*time.Second))
	for _, other := range []string{"UPDATE `users` SET `disabled` = 1", "DELETE FROM `sessions` WHERE `id` = ?", "INSERT INTO t VALUES (1)", "SELEC"} {
		require.Equal(t, other, maria.limited(other, time.Second))
		require.Equal(t, other, mysql.limited(other, time.Second))
	}
	require.Equal(t, 200*time.Millisecond, serverLimit(300*time.Millisecond))
	require.Equal(t, 50*time.Millisecond, serverLimit(100*time.Millisecond))
}
