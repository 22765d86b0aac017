// Package benchkit holds what wxid's measuring commands (internal/cmd/bench
// and internal/cmd/scale) share: starting and stopping processes, waiting
// for a server, building wxid's database URL, and counting the SQL
// statements wxid runs with MariaDB's user statistics.
package benchkit

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// EnvOr returns the environment variable k, or def when it is empty.
func EnvOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// FreeAddr returns a free "127.0.0.1:port".
func FreeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// WaitReady polls url until it answers 200, for up to a minute.
func WaitReady(ctx context.Context, c *http.Client, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	last := errors.New("not ready")
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return last
}

// Stop ends a started process: SIGTERM, then SIGKILL after 5 s.
func Stop(c *exec.Cmd) {
	if c == nil || c.Process == nil {
		return
	}
	_ = c.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.Process.Kill()
	}
}

// PrintLogTail prints the last lines of a server's log file to standard
// error, if it logged anything, and removes the file.
func PrintLogTail(path string) {
	if path == "" {
		return
	}
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		fmt.Fprintf(os.Stderr, "\nwxid logged %d lines at WARN or above; the last ones:\n", len(lines))
		for _, l := range lines[max(0, len(lines)-5):] {
			fmt.Fprintln(os.Stderr, "  "+l)
		}
	}
	_ = os.Remove(path)
}

// MySQLURL turns a go-sql-driver config into the authority and path of
// wxid's mysql:// URL.
func MySQLURL(cfg *mysql.Config) string {
	auth := cfg.User
	if cfg.Passwd != "" {
		auth += ":" + cfg.Passwd
	}
	return auth + "@" + cfg.Addr + "/" + cfg.DBName
}

// StatementCounter reads how many statements wxid's database user ran,
// from MariaDB's user statistics (userstat): SELECTs, and the commands
// that change data (INSERT, UPDATE, DELETE). wxid gets a database user of
// its own, so other clients of the server do not count.
type StatementCounter struct {
	root *sql.DB
	user string
	pass string
	// wasOn is userstat's value before, restored by Close.
	wasOn   bool
	enabled bool
}

// Counts are statements counted so far.
type Counts struct{ Selects, Writes int64 }

// Total is every statement counted.
func (c Counts) Total() int64 { return c.Selects + c.Writes }

// NewStatementCounter creates wxid's database user for dbName and turns
// userstat on. Without MariaDB's userstat or the right to create users it
// counts nothing (OK reports false) and wxid uses the root user.
func NewStatementCounter(ctx context.Context, root *sql.DB, dbName string) *StatementCounter {
	c := &StatementCounter{root: root}
	var name, val string
	if err := root.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE 'userstat'").Scan(&name, &val); err != nil {
		return c // not MariaDB, or no userstat
	}
	c.wasOn = val == "ON"
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	c.user = dbName
	c.pass = hex.EncodeToString(b)
	stmts := []string{
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", c.user, c.pass),
		fmt.Sprintf("GRANT ALL ON `%s`.* TO '%s'@'%%'", dbName, c.user),
	}
	if !c.wasOn {
		stmts = append(stmts, "SET GLOBAL userstat = 1")
	}
	for _, s := range stmts {
		if _, err := root.ExecContext(ctx, s); err != nil {
			c.dropUser()
			c.user = ""
			return c
		}
	}
	c.enabled = true
	return c
}

// Config is the DSN wxid should use: its own user when counting works.
func (c *StatementCounter) Config(base *mysql.Config) *mysql.Config {
	cfg := base.Clone()
	if c.enabled {
		cfg.User, cfg.Passwd = c.user, c.pass
	}
	return cfg
}

// OK reports whether statements are counted.
func (c *StatementCounter) OK() bool { return c.enabled }

// Read returns the statements counted so far.
func (c *StatementCounter) Read(ctx context.Context) Counts {
	var out Counts
	_ = c.root.QueryRowContext(ctx,
		"SELECT SELECT_COMMANDS, UPDATE_COMMANDS FROM information_schema.USER_STATISTICS WHERE USER = ?", c.user).
		Scan(&out.Selects, &out.Writes)
	return out
}

// Close drops wxid's database user and restores userstat. A nil counter
// (the server was never reached) has nothing to close.
func (c *StatementCounter) Close() {
	if c == nil || !c.enabled {
		return
	}
	if !c.wasOn {
		_, _ = c.root.Exec("SET GLOBAL userstat = 0")
	}
	c.dropUser()
}

func (c *StatementCounter) dropUser() {
	if c.user != "" {
		_, _ = c.root.Exec(fmt.Sprintf("DROP USER IF EXISTS '%s'@'%%'", c.user))
	}
}

// WithLatency delays h's answers to the code exchange (jscode2session) by
// d, like a distant WeChat would; a request given up meanwhile gets none.
func WithLatency(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d > 0 && strings.HasSuffix(r.URL.Path, "/jscode2session") {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// Serve serves h on a free loopback port, setting *srv to the server (for
// its Close), and returns the address.
func Serve(ctx context.Context, srv **http.Server, h http.Handler) (string, error) {
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	*srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = (*srv).Serve(l) }()
	return l.Addr().String(), nil
}
