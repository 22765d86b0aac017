package database

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"entgo.io/ent/dialect"

	"github.com/wxid/wxid/ent"
)

// Batch is a transaction's writes that need not wait for each other's
// answers, sent together: on MySQL as one multi-statement, so that the
// server gets them in one round trip (a returning login's four writes cost
// one round trip instead of four: fewer wake-ups and system calls on both
// sides); on SQLite, a file in the process, one after another.
//
// Only the last statement's result comes back (the rows it matched and
// the ID it inserted), and the server stops at the first statement that
// fails. A batch is therefore built as a chain: each statement after the
// first requires, in its WHERE, that the one before it matched a row
// (Wrote), so that the batch writes nothing past the first statement that
// matched nothing, and its last statement's result says whether every one
// did what it should (a returning login, package identity).
//
// Statements are written with ? placeholders and backquoted identifiers,
// which MySQL and SQLite both read; arguments are never spliced into the
// text by wxid (the driver escapes them, as for every statement).
type Batch struct {
	multi bool
	stmts []string
	args  [][]any
}

// NewBatch returns an empty batch for a database of dialect d
// (dialect.MySQL or dialect.SQLite).
func NewBatch(d string) *Batch { return &Batch{multi: d == dialect.MySQL} }

// Add appends one statement and its arguments.
func (b *Batch) Add(query string, args ...any) {
	b.stmts = append(b.stmts, query)
	b.args = append(b.args, args)
}

// Wrote is the condition, for a statement's WHERE, that the statement
// before it in the batch matched or wrote at least one row: MySQL's
// ROW_COUNT() (rows matched, as wxid's connections report them) or
// SQLite's changes(), both of which still hold the previous statement's
// count while a statement runs. For the batch's first statement, which
// has no statement before it, it holds.
func (b *Batch) Wrote() string {
	switch {
	case len(b.stmts) == 0:
		return "1 = 1"
	case b.multi:
		return "ROW_COUNT() > 0"
	default:
		return "changes() > 0"
	}
}

// Constants is what a statement that selects constants (INSERT ... SELECT
// ?, ? <Constants> WHERE ...) selects them from: MySQL needs FROM DUAL
// before a WHERE, SQLite has no such table.
func (b *Batch) Constants() string {
	if b.multi {
		return "FROM DUAL"
	}
	return ""
}

// errSeparator refuses a statement that would split a multi-statement.
var errSeparator = errors.New("database: a batched statement must not contain a semicolon")

// Exec runs b's statements in tx, in order, and returns the last one's
// result. An error from any statement fails the whole batch; the caller
// rolls the transaction back.
func (b *Batch) Exec(ctx context.Context, tx *ent.Tx) (sql.Result, error) {
	if len(b.stmts) == 0 {
		return nil, errors.New("database: empty batch")
	}
	for _, q := range b.stmts {
		if strings.Contains(q, ";") {
			return nil, errSeparator
		}
	}
	if !b.multi {
		var res sql.Result
		for i, q := range b.stmts {
			var err error
			if res, err = tx.ExecContext(ctx, q, b.args[i]...); err != nil {
				return nil, err
			}
		}
		return res, nil
	}
	var args []any
	for _, a := range b.args {
		args = append(args, a...)
	}
	return tx.ExecContext(ctx, strings.Join(b.stmts, "; "), args...)
}
