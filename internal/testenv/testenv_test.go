package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/stretchr/testify/require"
)

func TestRequired(t *testing.T) {
	tests := []struct {
		name, ci, require string
		want              bool
	}{
		{name: "neither", want: false},
		{name: "ci", ci: "true", want: true},
		{name: "require", require: "1", want: true},
		{name: "require other value", require: "yes", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv("WXID_TEST_REQUIRE_SERVICES", tc.require)
			require.Equal(t, tc.want, Required())
		})
	}
}

func TestFreePort(t *testing.T) {
	port := FreePort(t)
	require.Positive(t, port)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	require.NoError(t, err, "the port should be free to listen on")
	require.NoError(t, l.Close())
}

func TestSQLite(t *testing.T) {
	a, b := SQLite(t), SQLite(t)
	require.True(t, strings.HasPrefix(a, "sqlite:///"), a)
	require.True(t, strings.HasSuffix(a, "/wxid.db"), a)
	require.NotEqual(t, a, b)
}

func TestMemcachedLifecycle(t *testing.T) {
	m := StartMemcached(t)
	c := memcache.New(m.Addr)
	c.Timeout = time.Second

	require.NoError(t, c.Set(&memcache.Item{Key: "k", Value: []byte("v")}))
	it, err := c.Get("k")
	require.NoError(t, err)
	require.Equal(t, "v", string(it.Value))

	m.Flush()
	_, err = c.Get("k")
	require.ErrorIs(t, err, memcache.ErrCacheMiss)
	require.NoError(t, c.Set(&memcache.Item{Key: "k", Value: []byte("v")}))

	m.Stop()
	m.Stop() // idempotent
	_, err = net.DialTimeout("tcp", m.Addr, time.Second)
	require.Error(t, err, "nothing should listen after Stop")

	addr := m.Addr
	m.Start()
	m.Start() // idempotent
	require.Equal(t, addr, m.Addr, "Start keeps the port")
	c = memcache.New(m.Addr) // fresh client: the old one pools dead connections
	_, err = c.Get("k")
	require.ErrorIs(t, err, memcache.ErrCacheMiss, "a restarted memcached is empty")

	require.NoError(t, c.Set(&memcache.Item{Key: "k", Value: []byte("v")}))
	m.Restart()
	c = memcache.New(m.Addr)
	_, err = c.Get("k")
	require.ErrorIs(t, err, memcache.ErrCacheMiss)
}

func TestMemcachedPrivate(t *testing.T) {
	a, b := StartMemcached(t), StartMemcached(t)
	require.NotEqual(t, a.Addr, b.Addr)
	require.NoError(t, memcache.New(a.Addr).Set(&memcache.Item{Key: "k", Value: []byte("a")}))
	_, err := memcache.New(b.Addr).Get("k")
	require.ErrorIs(t, err, memcache.ErrCacheMiss)
}

func TestMySQL(t *testing.T) {
	db := NewMySQLDatabase(t)
	require.True(t, strings.HasPrefix(db.Name, "wxid_test_"), db.Name)
	for _, opt := range []string{"parseTime=true", "interpolateParams=true", "charset=utf8mb4", "loc=UTC", "timeout=", "readTimeout=", "writeTimeout="} {
		require.Contains(t, db.DSN, opt)
		require.Contains(t, db.URL, opt)
	}
	u, err := url.Parse(db.URL)
	require.NoError(t, err)
	require.Equal(t, "mysql", u.Scheme)
	require.Equal(t, "/"+db.Name, u.Path)

	conn, err := sql.Open("mysql", db.DSN)
	require.NoError(t, err)
	defer conn.Close()
	var tables int
	require.NoError(t, conn.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ?", db.Name).Scan(&tables))
	require.Zero(t, tables, "a fresh database is empty")

	// Both forms reach the same database.
	for name, dsn := range map[string]string{"dsn": db.DSN, "url": dsnFromURL(t, db.URL)} {
		t.Run(name, func(t *testing.T) {
			conn, err := sql.Open("mysql", dsn)
			require.NoError(t, err)
			defer conn.Close()
			var current string
			require.NoError(t, conn.QueryRow("SELECT DATABASE()").Scan(&current))
			require.Equal(t, db.Name, current)
			_, err = conn.Exec("CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY, s VARCHAR(10))")
			require.NoError(t, err)
			_, err = conn.Exec("INSERT INTO t VALUES (?, ?) ON DUPLICATE KEY UPDATE s = VALUES(s)", 1, "微信")
			require.NoError(t, err)
			var s string
			require.NoError(t, conn.QueryRow("SELECT s FROM t WHERE id = ?", 1).Scan(&s))
			require.Equal(t, "微信", s)
		})
	}

	// Every call gets its own database, dropped at cleanup.
	var other string
	t.Run("cleanup", func(t *testing.T) {
		other = NewMySQLDatabase(t).Name
		require.NotEqual(t, db.Name, other)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", other).Scan(&n))
	require.Zero(t, n, "database %s should be dropped when its test ends", other)
}

func TestMySQLUnavailable(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv("WXID_TEST_REQUIRE_SERVICES", "")
	t.Setenv("WXID_TEST_MYSQL", fmt.Sprintf("root:@tcp(127.0.0.1:%d)/", FreePort(t)))
	var skipped bool
	t.Run("skips", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		MySQL(t)
	})
	require.True(t, skipped, "an unreachable server skips when not required")
}

func TestParseServer(t *testing.T) {
	tests := []struct{ name, in, addr, user, pass string }{
		{name: "dsn", in: "root:@tcp(127.0.0.1:3306)/", addr: "127.0.0.1:3306", user: "root"},
		{name: "url", in: "mysql://wx:p%40ss@db:3307/", addr: "db:3307", user: "wx", pass: "p@ss"},
		{name: "url default port", in: "mysql://root@db/", addr: "db:3306", user: "root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseServer(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.addr, cfg.Addr)
			require.Equal(t, tc.user, cfg.User)
			require.Equal(t, tc.pass, cfg.Passwd)
		})
	}
}

// dsnFromURL converts wxid's mysql:// URL to a driver DSN, as the
// configuration code does.
func dsnFromURL(t *testing.T, s string) string {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	pass, _ := u.User.Password()
	return fmt.Sprintf("%s:%s@tcp(%s)%s?%s", u.User.Username(), pass, u.Host, u.Path, u.RawQuery)
}
