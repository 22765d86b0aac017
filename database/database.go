// Package database opens wxid's ent client on MySQL/MariaDB or SQLite from
// a WXID_DATABASE_URL and migrates its schema (migrate.go).
package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/wxid/wxid/ent"
)

// DefaultMaxOpenConns is the pool size when Options.MaxOpenConns is 0. A
// database does the most work with few statements running at once, about
// twice its cores: beyond that its threads only take turns on the cores.
// wxid holds a connection for a few round trips per request (a login: 4),
// so 16 connections carry thousands of logins a second per instance even
// when MySQL is a millisecond away, and several instances stay well under
// MySQL's max_connections. Measured on a 2-core machine running MariaDB,
// wxid and the load together, 16 connections gave 12% more logins a second
// than 64, with less CPU per login in both MariaDB and wxid (scripts/bench.sh).
const DefaultMaxOpenConns = 16

// Options tune the connection pool.
type Options struct {
	// MaxOpenConns bounds the pool; 0 means DefaultMaxOpenConns.
	MaxOpenConns int
	// Driver wraps the ent driver (tests count queries with it); nil = none.
	Driver func(dialect.Driver) dialect.Driver

	// On MySQL a circuit breaker and per-statement deadlines stand between
	// ent and the pool (see Interactive and ErrUnavailable). SQLite, a file
	// in the process, needs neither.

	// StatementTimeout bounds an interactive statement outside a
	// transaction, its wait for a connection, and BEGIN;
	// DefaultStatementTimeout when zero.
	StatementTimeout time.Duration
	// TxStatementTimeout bounds an interactive statement inside a
	// transaction (row-lock waits included) and COMMIT;
	// DefaultTxStatementTimeout when zero.
	TxStatementTimeout time.Duration
	// BreakerThreshold is how many consecutive failures open the circuit;
	// DefaultBreakerThreshold when zero.
	BreakerThreshold int
	// BreakerCooldown is how long an open circuit refuses statements;
	// DefaultBreakerCooldown when zero.
	BreakerCooldown time.Duration
	// Now is the breaker's clock; time.Now when nil.
	Now func() time.Time
	// Logger logs the circuit opening and closing; slog.Default() when nil.
	Logger *slog.Logger
	// Registerer receives the gauge wxid_database_circuit_open; nil = none.
	Registerer prometheus.Registerer
}

// DB is an open database.
type DB struct {
	// Client is the ent client.
	Client *ent.Client
	// SQL is the underlying pool (for pings and stats).
	SQL *sql.DB
	// Dialect is dialect.MySQL or dialect.SQLite.
	Dialect string
}

// Open connects to the database named by rawURL and checks it answers.
func Open(ctx context.Context, rawURL string, o Options) (*DB, error) {
	if o.MaxOpenConns <= 0 {
		o.MaxOpenConns = DefaultMaxOpenConns
	}
	driverName, dsn, dia, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	db, err := openPool(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	switch {
	case dia == dialect.SQLite && strings.Contains(dsn, ":memory:"):
		// Every connection to :memory: is a database of its own: keep one.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
	case dia == dialect.SQLite:
		db.SetMaxOpenConns(min(o.MaxOpenConns, 8))
		db.SetMaxIdleConns(min(o.MaxOpenConns, 8))
	default:
		db.SetMaxOpenConns(o.MaxOpenConns)
		db.SetMaxIdleConns(o.MaxOpenConns)
		db.SetConnMaxLifetime(30 * time.Minute)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to the database: %w", redact(err))
	}
	var drv dialect.Driver = entsql.OpenDB(dia, db)
	if dia == dialect.MySQL {
		var version string
		if err := db.QueryRowContext(pingCtx, "SELECT VERSION()").Scan(&version); err != nil {
			db.Close()
			return nil, fmt.Errorf("reading the server version: %w", redact(err))
		}
		drv = newResilient(drv.(*entsql.Driver), o, strings.Contains(strings.ToLower(version), "mariadb"))
	}
	if o.Driver != nil {
		drv = o.Driver(drv)
	}
	client := ent.NewClient(ent.Driver(drv))
	client.User.Use(phoneSuffixHook, versionHook)
	return &DB{Client: client, SQL: db, Dialect: dia}, nil
}

// openPool opens the pool. On MySQL every connection starts at READ
// COMMITTED (readCommitted), so that a transaction costs no SET
// TRANSACTION round trip of its own.
func openPool(driverName, dsn string) (*sql.DB, error) {
	if driverName != "mysql" {
		return sql.Open(driverName, dsn)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, redact(err)
	}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, redact(err)
	}
	return sql.OpenDB(readCommitted{c}), nil
}

// readCommitted sets READ COMMITTED as the isolation level of every new
// MySQL/MariaDB connection, once, when it is opened. wxid's writing
// transactions lock the rows they change (SELECT ... FOR UPDATE, UPDATE):
// at READ COMMITTED those locks cover the rows, not the gaps between them,
// so that a refresh's lock on its session never blocks a login inserting a
// session beside it (the deadlock TestLoginCrowds guards against). Setting
// it per transaction instead (sql.TxOptions) would cost every transaction a
// round trip. The statement is the same on MySQL and MariaDB, whatever
// either calls the variable.
type readCommitted struct{ driver.Connector }

// isolationStatement is what every new MySQL/MariaDB connection runs first.
const isolationStatement = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"

// Connect opens a connection and sets its isolation level.
func (c readCommitted) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		_ = conn.Close()
		return nil, errors.New("the MySQL driver cannot execute statements on a new connection")
	}
	if _, err := ex.ExecContext(ctx, isolationStatement, nil); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("setting the isolation level: %w", err)
	}
	return conn, nil
}

// Close closes the client and the pool.
func (d *DB) Close() error { return d.Client.Close() }

// parseURL turns mysql://user:pass@host:port/db?opts or sqlite://PATH into a
// driver name and DSN with wxid's defaults.
func parseURL(raw string) (driverName, dsn, dia string, err error) {
	switch {
	case strings.HasPrefix(raw, "sqlite://"):
		return "sqlite", sqliteDSN(strings.TrimPrefix(raw, "sqlite://")), dialect.SQLite, nil
	case strings.HasPrefix(raw, "mysql://"):
		dsn, err := mysqlDSN(raw)
		return "mysql", dsn, dialect.MySQL, err
	default:
		return "", "", "", errors.New("database URL must start with mysql:// or sqlite://")
	}
}

func sqliteDSN(path string) string {
	path, query, _ := strings.Cut(path, "?")
	if path == "" {
		path = "wxid.db"
	}
	pragmas := []string{"_pragma=foreign_keys(1)", "_pragma=busy_timeout(10000)"}
	if path == ":memory:" {
		path = "file::memory:"
	} else {
		pragmas = append(pragmas, "_pragma=journal_mode(WAL)", "_pragma=synchronous(NORMAL)", "_txlock=immediate")
		path = "file:" + path
	}
	if query != "" {
		pragmas = append(pragmas, query)
	}
	return path + "?" + strings.Join(pragmas, "&")
}

// mysqlDSN converts the URL form to a go-sql-driver DSN, adding
// parseTime, interpolateParams, utf8mb4, UTC and bounded timeouts unless the
// URL sets them.
func mysqlDSN(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("WXID_DATABASE_URL is not a valid mysql:// URL")
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr = u.Host + ":3306"
	}
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if cfg.DBName == "" {
		return "", errors.New("WXID_DATABASE_URL names no database: mysql://user:pass@host:port/DBNAME")
	}
	SetMySQLDefaults(cfg)
	base := cfg.FormatDSN()
	// Options in the URL override the defaults; the driver validates them.
	if q := u.RawQuery; q != "" {
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		base += sep + q
	}
	parsed, err := mysql.ParseDSN(base)
	if err != nil {
		return "", fmt.Errorf("WXID_DATABASE_URL options: %w", redact(err))
	}
	// Not an option: wxid's writes count the rows an UPDATE matched, not
	// the rows it changed (a login that sets the last_login_at a row
	// already holds must not look like a login of a disabled user).
	parsed.ClientFoundRows = true
	// Nor this: Batch needs it.
	parsed.MultiStatements = true
	return parsed.FormatDSN(), nil
}

// SetMySQLDefaults applies wxid's connection settings: clientFoundRows (an
// UPDATE reports the rows it matched), parseTime, interpolateParams (a
// prepared round trip per query otherwise), multiStatements (a Batch's
// writes in one round trip; every statement wxid sends is built with
// placeholders, never by splicing input into SQL), utf8mb4,
// UTC, and connect/read/write timeouts. Requests do not rely on the socket
// timeouts: their statements carry short context deadlines (Interactive).
// The socket timeouts are the backstop for what has no context (COMMIT,
// ROLLBACK, closing a connection) and for background work, so they must
// outlast the longest legitimate statement, a migration's ALTER TABLE.
func SetMySQLDefaults(cfg *mysql.Config) {
	cfg.ClientFoundRows = true
	cfg.ParseTime = true
	cfg.InterpolateParams = true
	cfg.MultiStatements = true
	cfg.Loc = time.UTC
	cfg.Timeout = 5 * time.Second
	cfg.ReadTimeout = 30 * time.Second
	cfg.WriteTimeout = 30 * time.Second
	cfg.Params = map[string]string{"charset": "utf8mb4"}
}

// redact drops driver errors that may echo a DSN with its password.
func redact(err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return fmt.Errorf("mysql error %d: %s", me.Number, me.Message)
	}
	msg := err.Error()
	if strings.Contains(msg, "@tcp(") || strings.Contains(msg, "mysql://") {
		return errors.New("invalid database configuration")
	}
	return err
}
