package database

import (
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"
)

func TestMySQLDSN(t *testing.T) {
	tests := []struct {
		name  string
		url   string
		check func(t *testing.T, c *mysql.Config)
		err   bool
	}{
		{name: "defaults", url: "mysql://wx:p%40ss@db.internal:3307/wxid", check: func(t *testing.T, c *mysql.Config) {
			require.Equal(t, "wx", c.User)
			require.Equal(t, "p@ss", c.Passwd)
			require.Equal(t, "db.internal:3307", c.Addr)
			require.Equal(t, "wxid", c.DBName)
			require.True(t, c.ParseTime)
			require.True(t, c.InterpolateParams)
			require.Contains(t, c.FormatDSN(), "charset=utf8mb4")
			require.NotZero(t, c.Timeout)
			require.NotZero(t, c.ReadTimeout)
			require.NotZero(t, c.WriteTimeout)
		}},
		{name: "default port", url: "mysql://root@localhost/wxid", check: func(t *testing.T, c *mysql.Config) {
			require.Equal(t, "localhost:3306", c.Addr)
		}},
		{name: "override", url: "mysql://root@localhost/wxid?readTimeout=2s&tls=false", check: func(t *testing.T, c *mysql.Config) {
			require.Equal(t, "2s", c.ReadTimeout.String())
		}},
		{name: "no database", url: "mysql://root@localhost:3306/", err: true},
		{name: "bad option", url: "mysql://root@localhost/wxid?timeout=forever", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dsn, err := mysqlDSN(tc.url)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			c, err := mysql.ParseDSN(dsn)
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestSQLiteDSN(t *testing.T) {
	require.Equal(t, "file::memory:?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)", sqliteDSN(":memory:"))
	require.Contains(t, sqliteDSN("/tmp/x.db"), "file:/tmp/x.db?")
	require.Contains(t, sqliteDSN("/tmp/x.db"), "journal_mode(WAL)")
}
