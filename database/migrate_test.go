package database

import (
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"
)

func TestForMigrationsLiftsMySQLTimeouts(t *testing.T) {
	require.Equal(t, "sqlite://wxid.db", ForMigrations("sqlite://wxid.db"))

	dsn, err := mysqlDSN(ForMigrations("mysql://u:p%40ss@db:3306/wxid"))
	require.NoError(t, err)
	c, err := mysql.ParseDSN(dsn)
	require.NoError(t, err)
	require.Zero(t, c.ReadTimeout, "an ALTER TABLE may outlast a request's read timeout")
	require.Zero(t, c.WriteTimeout)
	require.Equal(t, "p@ss", c.Passwd)
	require.NotZero(t, c.Timeout, "connecting stays bounded")

	dsn, err = mysqlDSN(ForMigrations("mysql://u@db/wxid?readTimeout=5m"))
	require.NoError(t, err)
	c, err = mysql.ParseDSN(dsn)
	require.NoError(t, err)
	require.Equal(t, 5*time.Minute, c.ReadTimeout, "a timeout the URL sets is kept")
}
