package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"

	"github.com/go-sql-driver/mysql"
)

// statementCounter reads how many statements wxid's database user ran,
// from MariaDB's user statistics (userstat): SELECTs, and the commands
// that change data (INSERT, UPDATE, DELETE). wxid gets a database user of
// its own, so other clients of the server do not count.
type statementCounter struct {
	root *sql.DB
	user string
	pass string
	// wasOn is userstat's value before the bench, restored by close.
	wasOn   bool
	enabled bool
}

type counts struct{ selects, writes int64 }

func (c counts) total() int64 { return c.selects + c.writes }

func newStatementCounter(ctx context.Context, root *sql.DB, dbName string) statementCounter {
	c := statementCounter{root: root}
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

// config is the DSN wxid should use: its own user when counting works.
func (c statementCounter) config(base *mysql.Config) *mysql.Config {
	cfg := base.Clone()
	if c.enabled {
		cfg.User, cfg.Passwd = c.user, c.pass
	}
	return cfg
}

func (c statementCounter) read(ctx context.Context) counts {
	var out counts
	_ = c.root.QueryRowContext(ctx,
		"SELECT SELECT_COMMANDS, UPDATE_COMMANDS FROM information_schema.USER_STATISTICS WHERE USER = ?", c.user).
		Scan(&out.selects, &out.writes)
	return out
}

func (c statementCounter) close() {
	if !c.enabled {
		return
	}
	if !c.wasOn {
		_, _ = c.root.Exec("SET GLOBAL userstat = 0")
	}
	c.dropUser()
}

func (c statementCounter) dropUser() {
	if c.user != "" {
		_, _ = c.root.Exec(fmt.Sprintf("DROP USER IF EXISTS '%s'@'%%'", c.user))
	}
}
