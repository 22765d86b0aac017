// Command scale measures wxid's admin API on a large database. It creates a
// fresh database on the MySQL/MariaDB server named by -mysql, starts wxid
// (the binary named by -wxid) on it so that wxid applies its migrations,
// loads synthetic users, openids, unionids and sessions straight into the
// tables with multi-row INSERTs (not through the API), and then times every
// admin query shape: p50 and p99 over -samples runs, the SQL statements one
// run costs (from MariaDB's user statistics), or the error code when wxid
// refuses the shape. scripts/scale.sh builds and runs it.
//
// With -purge-backlog N it measures the purge instead (purge.go): it adds N
// expired sessions, sends logins at a steady rate against an in-process
// WeChat stand-in, and prints login p50/p99 without the purge, while the
// purge clears the backlog (with the catch-up time and rows a second), and
// after, and the ratio of the p99s.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/wxid/wxid/internal/benchkit"

	"github.com/go-sql-driver/mysql"
)

// The admin token wxid is started with.
const adminToken = "scale-admin-token-0123456789"

type options struct {
	mysqlDSN string
	wxidBin  string
	load     loadOptions
	samples  int
	slow     time.Duration
	keep     bool
	reuse    string
	purge    purgeOptions
}

func main() {
	var o options
	flag.StringVar(&o.mysqlDSN, "mysql", benchkit.EnvOr("WXID_TEST_MYSQL", "root:@tcp(127.0.0.1:3306)/"), "MySQL/MariaDB server DSN (go-sql-driver form, no database)")
	flag.StringVar(&o.wxidBin, "wxid", "./wxid", "the wxid binary to measure")
	flag.IntVar(&o.load.users, "users", 50000, "synthetic users to load")
	flag.IntVar(&o.load.apps, "apps", 3, "mini-programs the users are spread over")
	flag.Float64Var(&o.load.secondOpenID, "second-openid", 0.045, "fraction of users with an openid in a second app")
	flag.Float64Var(&o.load.unionIDs, "unionids", 0.6, "fraction of users with a unionid")
	flag.Float64Var(&o.load.phones, "phones", 0.4, "fraction of users with a verified phone number")
	flag.IntVar(&o.load.sessions, "sessions", 2, "sessions per user (half of them expired)")
	flag.IntVar(&o.load.batch, "batch", 2000, "rows per INSERT statement")
	flag.IntVar(&o.load.stats.days, "stats-days", 90, "days of synthetic LOGIN and PHONE_VERIFIED audit events for userStats (0: none)")
	flag.Float64Var(&o.load.stats.active, "stats-active", 0.1, "fraction of users who log in on each of those days")
	flag.IntVar(&o.samples, "samples", 20, "runs of each query shape")
	flag.DurationVar(&o.slow, "slow", 2*time.Second, "a shape whose first run takes longer is run 3 times only")
	flag.BoolVar(&o.keep, "keep", false, "keep the database afterwards (its name is printed)")
	flag.StringVar(&o.reuse, "database", "", "measure this database, kept by an earlier -keep run with the same -users, instead of loading a new one (it is kept)")
	purgeFlags(&o.purge)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	e, err := setUp(ctx, o)
	if e != nil {
		defer e.tearDown(o.keep || o.reuse != "")
	}
	if err != nil {
		return err
	}
	fmt.Printf("server: %s   database: %s\n", e.serverVersion, e.dbName)
	if o.reuse == "" {
		start := time.Now()
		if err := load(ctx, e.data, o.load); err != nil {
			return fmt.Errorf("loading: %w", err)
		}
		began := time.Now()
		events, err := loadStats(ctx, e.data, o.load)
		if err != nil {
			return fmt.Errorf("loading audit events: %w", err)
		}
		fmt.Printf("loaded in %s:\n", time.Since(start).Round(time.Second))
		if err := awaitRollup(ctx, e.data, events, began); err != nil {
			return err
		}
	}
	if err := e.describe(ctx); err != nil {
		return err
	}
	fmt.Println()
	if o.purge.backlog > 0 {
		return purgeCatchUp(ctx, e, o)
	}
	if err := measure(ctx, e, o); err != nil {
		return err
	}
	return measureExports(ctx, e, o)
}

// env is everything one run starts.
type env struct {
	root          *sql.DB // the server, no database
	data          *sql.DB // the database, as root, for loading
	dbName        string
	serverVersion string
	wxid          *exec.Cmd
	wxidURL       string
	wxidLog       string
	client        *http.Client
	counter       *benchkit.StatementCounter
}

func setUp(ctx context.Context, o options) (*env, error) {
	e := &env{}
	cfg, err := mysql.ParseDSN(o.mysqlDSN)
	if err != nil {
		return nil, fmt.Errorf("parsing -mysql: %w", err)
	}
	cfg.DBName = ""
	if e.root, err = sql.Open("mysql", cfg.FormatDSN()); err != nil {
		return nil, err
	}
	if err := e.root.QueryRowContext(ctx, "SELECT VERSION()").Scan(&e.serverVersion); err != nil {
		return e, fmt.Errorf("reaching MySQL/MariaDB: %w", err)
	}
	e.dbName = fmt.Sprintf("wxid_scale_%d", os.Getpid())
	if o.reuse != "" {
		e.dbName = o.reuse
	} else if _, err := e.root.ExecContext(ctx, "CREATE DATABASE "+e.dbName+" CHARACTER SET utf8mb4"); err != nil {
		return e, fmt.Errorf("creating the database: %w", err)
	}
	dcfg := cfg.Clone()
	dcfg.DBName = e.dbName
	dcfg.ParseTime = true
	dcfg.Params = map[string]string{"foreign_key_checks": "0", "unique_checks": "0"}
	if e.data, err = sql.Open("mysql", dcfg.FormatDSN()); err != nil {
		return e, err
	}
	e.counter = benchkit.NewStatementCounter(ctx, e.root, e.dbName)
	wcfg := e.counter.Config(cfg)
	wcfg.DBName = e.dbName
	return e, startWxid(ctx, e, o, wcfg)
}

// startWxid starts the wxid under measurement on e's database, as wcfg's
// user, and waits until it is ready.
func startWxid(ctx context.Context, e *env, o options, wcfg *mysql.Config) error {
	addr := benchkit.FreeAddr()
	e.wxidURL = "http://" + addr
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	e.wxid = exec.CommandContext(ctx, o.wxidBin)
	e.wxid.Env = append(os.Environ(),
		"WXID_ENV=production",
		"WXID_LOG_LEVEL=warn",
		"WXID_ADDR="+addr,
		"WXID_DATABASE_URL=mysql://"+benchkit.MySQLURL(wcfg),
		"WXID_AUTO_MIGRATE=true",
		"WXID_WECHAT_APPID="+appID(0),
		"WXID_WECHAT_SECRET="+wxidSecret,
		"WXID_SECRET_KEY="+base64.StdEncoding.EncodeToString(key),
		"WXID_ADMIN_TOKENS="+adminToken,
		"WXID_PURGE_INTERVAL=0",
		"WXID_STATS_INTERVAL=1s",
	)
	logf, err := os.CreateTemp("", "wxid-scale-*.log")
	if err != nil {
		return err
	}
	e.wxidLog = logf.Name()
	e.wxid.Stdout, e.wxid.Stderr = logf, logf
	if err := e.wxid.Start(); err != nil {
		return fmt.Errorf("starting wxid (%s): %w", o.wxidBin, err)
	}
	e.client = &http.Client{Timeout: 60 * time.Second}
	if err := benchkit.WaitReady(ctx, e.client, e.wxidURL+"/readyz"); err != nil {
		return fmt.Errorf("wxid did not become ready (it applies the migrations): %w", err)
	}
	return nil
}

// describe prints the row counts and the size of each table.
func (e *env) describe(ctx context.Context) error {
	rows, err := e.data.QueryContext(ctx, `SELECT TABLE_NAME, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH
		FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> 'atlas_schema_revisions' ORDER BY TABLE_NAME`)
	if err != nil {
		return fmt.Errorf("describing tables: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var name string
		var n, data, index sql.NullInt64
		if err := rows.Scan(&name, &n, &data, &index); err != nil {
			return err
		}
		var exact int64
		if err := e.data.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+name+"`").Scan(&exact); err != nil {
			return err
		}
		if exact == 0 {
			continue
		}
		fmt.Printf("  %-20s %10d rows  data %7.1f MB  indexes %7.1f MB  (%d bytes a row)\n", name, exact,
			float64(data.Int64)/1e6, float64(index.Int64)/1e6, (data.Int64+index.Int64)/exact)
	}
	return rows.Err()
}

func (e *env) tearDown(keep bool) {
	benchkit.Stop(e.wxid)
	benchkit.PrintLogTail(e.wxidLog)
	if e.data != nil {
		_ = e.data.Close()
	}
	if e.root != nil {
		e.counter.Close()
		if !keep && e.dbName != "" {
			_, _ = e.root.Exec("DROP DATABASE IF EXISTS " + e.dbName)
		}
		_ = e.root.Close()
	}
}
