package testenv

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/wxid/wxid/database"
)

// DefaultMySQL is the server used when WXID_TEST_MYSQL is unset.
const DefaultMySQL = "root:@tcp(127.0.0.1:3306)/"

// MySQLDatabase is a fresh, empty database created for one test.
type MySQLDatabase struct {
	// Name is the database name, "wxid_test_" and a random suffix.
	Name string
	// DSN is the go-sql-driver/mysql DSN, with parseTime, interpolateParams,
	// utf8mb4, UTC and connect/read/write timeouts set.
	DSN string
	// URL is the same in wxid's WXID_DATABASE_URL form,
	// "mysql://user:pass@host:port/name?opts".
	URL string
}

// MySQL creates a fresh, empty database on the test MySQL/MariaDB server,
// drops it when the test ends, and returns its URL in wxid's
// WXID_DATABASE_URL form:
// "mysql://root:@127.0.0.1:3306/wxid_test_<random>?parseTime=true&...".
//
// The server comes from WXID_TEST_MYSQL, a go-sql-driver DSN or a mysql://
// URL; DefaultMySQL when unset. An unreachable server skips the test, or
// fails it when Required.
func MySQL(t testing.TB) string {
	t.Helper()
	return NewMySQLDatabase(t).URL
}

// MySQLDSN is MySQL returning the go-sql-driver/mysql DSN instead of the URL.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	return NewMySQLDatabase(t).DSN
}

// NewMySQLDatabase is MySQL returning the database's name, DSN and URL.
func NewMySQLDatabase(t testing.TB) *MySQLDatabase {
	t.Helper()
	server := os.Getenv("WXID_TEST_MYSQL")
	if server == "" {
		server = DefaultMySQL
	}
	cfg, err := parseServer(server)
	if err != nil {
		t.Fatalf("testenv: WXID_TEST_MYSQL: %v", err)
	}
	cfg.DBName = ""
	cfg.Timeout = 2 * time.Second

	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("testenv: opening MySQL: %v", err)
	}
	admin.SetMaxIdleConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		unavailable(t, "MySQL/MariaDB at %s is unavailable: %v", cfg.Addr, err)
	}

	var name string
	for attempt := 0; ; attempt++ {
		name = "wxid_test_" + randomSuffix()
		_, err = admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
		if err == nil {
			break
		}
		if attempt == 2 {
			admin.Close()
			t.Fatalf("testenv: creating database %s: %v", name, err)
		}
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Errorf("testenv: dropping database %s: %v", name, err)
		}
	})

	db := testConfig(cfg, name)
	// FormatDSN leaves out loc=UTC, being the driver's default: spell it out
	// so the DSN says what it means.
	dsn := db.FormatDSN() + "&loc=UTC"
	return &MySQLDatabase{Name: name, DSN: dsn, URL: mysqlURL(db)}
}

// parseServer reads WXID_TEST_MYSQL: a driver DSN or a mysql:// URL.
func parseServer(s string) (*mysql.Config, error) {
	if !strings.HasPrefix(s, "mysql://") {
		return mysql.ParseDSN(s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr += ":3306"
	}
	return cfg, nil
}

// testConfig is the DSN tests get: wxid's own settings, whose timeouts
// also make a hung server fail a test instead of hanging it.
func testConfig(server *mysql.Config, dbName string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = server.User, server.Passwd
	cfg.Net, cfg.Addr = server.Net, server.Addr
	cfg.DBName = dbName
	database.SetMySQLDefaults(cfg)
	return cfg
}

// mysqlURL writes cfg in wxid's URL form. Query parameters carry the same
// names as in the DSN, so the URL converts back losslessly.
func mysqlURL(cfg *mysql.Config) string {
	q := url.Values{}
	q.Set("parseTime", "true")
	q.Set("interpolateParams", "true")
	q.Set("charset", cfg.Params["charset"])
	q.Set("loc", "UTC")
	q.Set("timeout", cfg.Timeout.String())
	q.Set("readTimeout", cfg.ReadTimeout.String())
	q.Set("writeTimeout", cfg.WriteTimeout.String())
	u := url.URL{
		Scheme:   "mysql",
		User:     url.UserPassword(cfg.User, cfg.Passwd),
		Host:     cfg.Addr,
		Path:     "/" + cfg.DBName,
		RawQuery: q.Encode(),
	}
	return u.String()
}
