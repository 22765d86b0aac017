// Command bench measures wxid's hot paths against a floor: a hand-written
// net/http handler that does the same backend work for `me` (one memcached
// get, one primary-key select, JSON out) on the same data.
//
// It starts everything it measures itself: a memcached process, a fresh
// database on the MySQL/MariaDB server named by -mysql, the WeChat stand-in
// (in this process, with an added upstream latency), wxid (the binary named
// by -wxid) and the floor (this binary with -floor). It then drives wxid and
// the floor alternately with the same closed-loop load generator and prints
// throughput, p50, p99 and their ratio for `me`; logins per second against
// the connections ÷ upstream-latency bound for `login`; and the SQL
// statements each operation costs. scripts/bench.sh builds and runs it.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wxid/wxid/internal/benchkit"

	"github.com/go-sql-driver/mysql"

	"github.com/wxid/wxid/users"
	"github.com/wxid/wxid/wechat/wechattest"
)

// The app the stand-in knows and wxid is configured with.
const (
	appID     = "wx00000000000bench"
	appSecret = "bench-secret-0123456789abcdef0123"
)

type options struct {
	mysqlDSN   string
	wxidBin    string
	duration   time.Duration
	rounds     int
	meConns    int
	loginConns []int
	latency    time.Duration
	users      int
	keep       bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-floor" {
		if err := runFloor(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	var loginConns string
	flag.StringVar(&o.mysqlDSN, "mysql", benchkit.EnvOr("WXID_TEST_MYSQL", "root:@tcp(127.0.0.1:3306)/"), "MySQL/MariaDB server DSN (go-sql-driver form, no database)")
	flag.StringVar(&o.wxidBin, "wxid", "./wxid", "the wxid binary to measure")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of one timed run")
	flag.IntVar(&o.rounds, "rounds", 3, "alternating rounds per comparison (medians are reported)")
	flag.IntVar(&o.meConns, "me-conns", 64, "connections for the me comparison")
	flag.StringVar(&loginConns, "login-conns", "64,256", "comma-separated connection counts for login")
	flag.DurationVar(&o.latency, "latency", 50*time.Millisecond, "added WeChat latency for jscode2session")
	flag.IntVar(&o.users, "users", 1000, "users logged in before me is measured")
	flag.BoolVar(&o.keep, "keep", false, "keep the database afterwards")
	flag.Parse()
	for _, s := range strings.Split(loginConns, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 {
			o.loginConns = append(o.loginConns, n)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	env, err := setUp(ctx, o)
	if env != nil {
		defer env.tearDown(o.keep)
	}
	if err != nil {
		return err
	}
	seeded, err := env.seed(ctx, o.users)
	if err != nil {
		return fmt.Errorf("seeding users: %w", err)
	}
	seededAt := time.Now()
	if err := env.startFloor(ctx, seeded); err != nil {
		return err
	}
	// Each login left a tombstone on its user's view: me is measured once
	// they have expired, as in steady state.
	time.Sleep(time.Until(seededAt.Add(users.TombstoneTTL)))
	fmt.Printf("machine: %d CPUs (GOMAXPROCS), %s\n", numCPU(), env.serverVersion)
	fmt.Printf("wxid: %s   floor: %s   WeChat stand-in latency: %s\n\n", env.wxidURL, env.floorURL, o.latency)
	if err := benchMe(ctx, env, o, seeded); err != nil {
		return err
	}
	for _, c := range o.loginConns {
		if err := benchLogin(ctx, env, o, c); err != nil {
			return err
		}
	}
	return benchCosts(ctx, env)
}

// env is everything one run starts.
type env struct {
	root          *sql.DB // the server, no database
	dbName        string
	dsn           string // wxid's database, go-sql-driver form
	serverVersion string
	memcached     *exec.Cmd
	mcAddr        string
	stub          *wechattest.Server
	stubSrv       *http.Server
	wxid          *exec.Cmd
	wxidURL       string
	wxidLog       string // wxid's output
	floor         *exec.Cmd
	floorURL      string
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
	e.root, err = sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	if err := e.root.QueryRowContext(ctx, "SELECT VERSION()").Scan(&e.serverVersion); err != nil {
		return e, fmt.Errorf("reaching MySQL/MariaDB: %w", err)
	}
	e.dbName = fmt.Sprintf("wxid_bench_%d", os.Getpid())
	if _, err := e.root.ExecContext(ctx, "CREATE DATABASE "+e.dbName+" CHARACTER SET utf8mb4"); err != nil {
		return e, fmt.Errorf("creating the database: %w", err)
	}
	e.counter = benchkit.NewStatementCounter(ctx, e.root, e.dbName)
	wcfg := e.counter.Config(cfg)
	wcfg.DBName = e.dbName
	e.dsn = wcfg.FormatDSN()

	if e.mcAddr, e.memcached, err = startMemcached(ctx); err != nil {
		return e, err
	}

	e.stub = wechattest.New(wechattest.WithDefaultApp(appID))
	e.stub.AddApp(appID, appSecret, "bench-open-platform")
	stubAddr, err := benchkit.Serve(ctx, &e.stubSrv, benchkit.WithLatency(e.stub.Handler(), o.latency))
	if err != nil {
		return e, err
	}

	if err := e.startWxid(ctx, o, wcfg, stubAddr); err != nil {
		return e, err
	}
	return e, nil
}

// startWxid starts the wxid under test on the bench's database, memcached
// and WeChat stand-in, and waits until it is ready.
func (e *env) startWxid(ctx context.Context, o options, wcfg *mysql.Config, stubAddr string) error {
	wxidAddr := benchkit.FreeAddr()
	e.wxidURL = "http://" + wxidAddr
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	e.wxid = exec.CommandContext(ctx, o.wxidBin)
	e.wxid.Env = append(os.Environ(),
		"WXID_ENV=production",
		"WXID_LOG_LEVEL=warn",
		"WXID_ADDR="+wxidAddr,
		"WXID_DATABASE_URL=mysql://"+benchkit.MySQLURL(wcfg),
		"WXID_AUTO_MIGRATE=true",
		"WXID_MEMCACHED="+e.mcAddr,
		"WXID_WECHAT_APPID="+appID,
		"WXID_WECHAT_SECRET="+appSecret,
		"WXID_WECHAT_API_BASE=http://"+stubAddr,
		"WXID_SECRET_KEY="+base64.StdEncoding.EncodeToString(key),
		"WXID_ADMIN_TOKENS=bench-admin-token-0123456789",
		"WXID_LOGIN_RATE_LIMIT=0",
	)
	logf, err := os.CreateTemp("", "wxid-bench-*.log")
	if err != nil {
		return err
	}
	e.wxidLog = logf.Name()
	e.wxid.Stdout, e.wxid.Stderr = logf, logf
	if err := e.wxid.Start(); err != nil {
		return fmt.Errorf("starting wxid (%s): %w", o.wxidBin, err)
	}
	e.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxIdleConns: 1024}, Timeout: 30 * time.Second}
	if err := benchkit.WaitReady(ctx, e.client, e.wxidURL+"/readyz"); err != nil {
		return fmt.Errorf("wxid did not become ready: %w", err)
	}
	return nil
}

func (e *env) tearDown(keep bool) {
	for _, c := range []*exec.Cmd{e.floor, e.wxid, e.memcached} {
		benchkit.Stop(c)
	}
	benchkit.PrintLogTail(e.wxidLog)
	if e.stubSrv != nil {
		_ = e.stubSrv.Close()
	}
	if e.root != nil {
		e.counter.Close()
		if !keep && e.dbName != "" {
			_, _ = e.root.Exec("DROP DATABASE IF EXISTS " + e.dbName)
		}
		_ = e.root.Close()
	}
}

func startMemcached(ctx context.Context) (string, *exec.Cmd, error) {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		bin = "/usr/bin/memcached"
	}
	addr := benchkit.FreeAddr()
	_, port, _ := net.SplitHostPort(addr)
	args := []string{"-l", "127.0.0.1", "-p", port, "-U", "0", "-m", "256", "-c", "4096"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting memcached (%s): %w", bin, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return addr, cmd, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", cmd, errors.New("memcached did not start")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
