package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wxid/wxid/internal/breaker"
	"github.com/wxid/wxid/internal/metrics"
)

// Defaults of the resilience Options.
const (
	// DefaultStatementTimeout bounds a request's statement outside a
	// transaction, its wait for a pooled connection, and its BEGIN.
	DefaultStatementTimeout = time.Second
	// DefaultTxStatementTimeout bounds a request's statement inside a
	// transaction, where it may wait for row locks, and its COMMIT.
	DefaultTxStatementTimeout = 5 * time.Second
	// DefaultBreakerThreshold is how many consecutive failures open the
	// circuit.
	DefaultBreakerThreshold = 3
	// DefaultBreakerCooldown is how long an open circuit refuses statements
	// before one probes the database.
	DefaultBreakerCooldown = 2 * time.Second
)

// ErrUnavailable is what every error of an unreachable, hung or saturated
// database matches with errors.Is: the client may retry later (GraphQL
// code UNAVAILABLE). Use errors.As with *UnavailableError for RetryAfter.
var ErrUnavailable = errors.New("database unavailable")

// UnavailableError is a statement that failed, or was not even tried,
// because the database is unreachable, hung or saturated.
type UnavailableError struct {
	// RetryAfter is when trying again makes sense.
	RetryAfter time.Duration
	// Err is the cause; nil when the circuit was open and nothing was sent.
	Err error
}

func (e *UnavailableError) Error() string {
	if e.Err == nil {
		return "database unavailable (circuit open)"
	}
	return "database unavailable: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }

// ErrStatementTimeout is what errors.Is matches for a SELECT the server
// stopped at its time limit (see Interactive): the database is fine, the
// query was too expensive. Use errors.As with *StatementTimeoutError for
// the limit.
var ErrStatementTimeout = errors.New("statement stopped at its time limit")

// StatementTimeoutError is a SELECT that MySQL or MariaDB interrupted at
// the time limit wxid set on it.
type StatementTimeoutError struct {
	// Limit is the time the server gave the statement.
	Limit time.Duration
	// Err is the server's error.
	Err error
}

func (e *StatementTimeoutError) Error() string {
	return fmt.Sprintf("statement stopped at its time limit of %s: %v", e.Limit, e.Err)
}

// Unwrap returns the server's error.
func (e *StatementTimeoutError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrStatementTimeout) true.
func (e *StatementTimeoutError) Is(target error) bool { return target == ErrStatementTimeout }

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

type interactiveKey struct{}

// Interactive marks ctx as serving a client that is waiting: statements run
// under it get the short per-statement deadlines (Options.StatementTimeout,
// Options.TxStatementTimeout), so that a hung database answers within about
// a second. Background work and migrations, whose contexts are not marked,
// are bounded only by their own contexts.
func Interactive(ctx context.Context) context.Context {
	return context.WithValue(ctx, interactiveKey{}, true)
}

type firstMatchKey struct{}

// FirstMatch marks ctx's SELECTs as filtering by a broad semi-join (users
// that have any openid of an app) and reading only the first rows of it (a
// page): the server is told not to materialize the subquery but to probe
// it row by row in the page's order and stop at the LIMIT. MariaDB and
// MySQL otherwise materialize every matching row first (seconds at
// millions of rows), as their cost models do not weigh the LIMIT. Only for
// interactive contexts; a selective subquery (one openid) is faster
// materialized and should not be marked.
func FirstMatch(ctx context.Context) context.Context {
	return context.WithValue(ctx, firstMatchKey{}, true)
}

func isFirstMatch(ctx context.Context) bool {
	v, _ := ctx.Value(firstMatchKey{}).(bool)
	return v
}

func isInteractive(ctx context.Context) bool {
	v, _ := ctx.Value(interactiveKey{}).(bool)
	return v
}

// resilient is the driver between ent and MySQL: a circuit breaker that
// refuses statements at once while the database is known to be down, and
// per-statement deadlines for interactive contexts.
//
// A deadline in the client alone does not stop the server: MariaDB keeps
// running a COUNT whose connection is gone until it next sends a row. So an
// interactive SELECT outside a transaction (the admin API's reads; inside
// one, statements read rows by key and wait for row locks, and running out
// of time there says the database is in trouble) also carries a time limit
// the server enforces
// (serverLimit: MAX_EXECUTION_TIME on MySQL, max_statement_time on
// MariaDB), a little shorter than the client's deadline, so that the
// server stops it first and answers with an error (StatementTimeoutError)
// instead of the connection being cut: an expensive query says nothing
// about the database's health and does not count against the breaker.
type resilient struct {
	next       *entsql.Driver
	b          *breaker.Breaker
	stmt, inTx time.Duration
	mariaDB    bool
}

// serverLimit is the time limit the server gets for a statement whose
// client deadline is timeout: a tenth less, and at least 100 ms less (but
// no less than half of it), for the server to notice and answer.
func serverLimit(timeout time.Duration) time.Duration {
	return timeout - min(max(timeout/10, 100*time.Millisecond), timeout/2)
}

// limited returns query with a server-side time limit when it is a SELECT:
// MariaDB's SET STATEMENT max_statement_time=<seconds> FOR, or MySQL's
// optimizer hint /*+ MAX_EXECUTION_TIME(<ms>) */ (which only SELECT
// accepts), with materialization off for a FirstMatch context. Other
// statements are returned as they are.
func (d *resilient) limited(ctx context.Context, query string, timeout time.Duration) string {
	if len(query) < 7 || !strings.EqualFold(query[:7], "SELECT ") {
		return query
	}
	limit := serverLimit(timeout)
	if d.mariaDB {
		sw := ""
		if isFirstMatch(ctx) {
			sw = ", optimizer_switch='materialization=off'"
		}
		return fmt.Sprintf("SET STATEMENT max_statement_time=%.3f%s FOR %s", limit.Seconds(), sw, query)
	}
	hint := fmt.Sprintf("MAX_EXECUTION_TIME(%d)", max(limit.Milliseconds(), 1))
	if isFirstMatch(ctx) {
		hint += " SET_VAR(optimizer_switch = 'materialization=off')"
	}
	return "SELECT /*+ " + hint + " */ " + query[7:]
}

func newResilient(next *entsql.Driver, o Options, mariaDB bool) *resilient {
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = DefaultStatementTimeout
	}
	if o.TxStatementTimeout <= 0 {
		o.TxStatementTimeout = DefaultTxStatementTimeout
	}
	if o.BreakerThreshold <= 0 {
		o.BreakerThreshold = DefaultBreakerThreshold
	}
	if o.BreakerCooldown <= 0 {
		o.BreakerCooldown = DefaultBreakerCooldown
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	open := metrics.Register(o.Registerer, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wxid_database_circuit_open",
		Help: "1 while the database circuit breaker is open or probing (statements are refused), 0 when closed.",
	}))
	return &resilient{
		next: next, stmt: o.StatementTimeout, inTx: o.TxStatementTimeout, mariaDB: mariaDB,
		b: breaker.New(breaker.Options{
			Threshold: o.BreakerThreshold, Cooldown: o.BreakerCooldown, Now: o.Now,
			OnChange: func(from, to breaker.State) {
				switch to {
				case breaker.Open:
					open.Set(1)
					if from == breaker.Closed {
						log.Error("database unavailable: refusing statements, probing again", "every", o.BreakerCooldown)
					}
				case breaker.Closed:
					open.Set(0)
					log.Info("database available again")
				}
			},
		}),
	}
}

func (d *resilient) Dialect() string { return d.next.Dialect() }
func (d *resilient) Close() error    { return d.next.Close() }

func (d *resilient) Exec(ctx context.Context, query string, args, v any) error {
	return d.run(ctx, d.stmt, func(ctx context.Context) error { return d.next.Exec(ctx, query, args, v) }, nil)
}

func (d *resilient) Query(ctx context.Context, query string, args, v any) error {
	if isInteractive(ctx) {
		query = d.limited(ctx, query, d.stmt)
	}
	return d.run(ctx, d.stmt, func(ctx context.Context) error { return d.next.Query(ctx, query, args, v) }, v)
}

func (d *resilient) Tx(ctx context.Context) (dialect.Tx, error) { return d.BeginTx(ctx, nil) }

// BeginTx starts a transaction. For an interactive context, waiting for a
// connection and BEGIN together may take StatementTimeout; the transaction
// itself lives with ctx, so a transaction that starts too late is rolled
// back in the background.
func (d *resilient) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	call, wait, ok := d.b.Allow()
	if !ok {
		return nil, &UnavailableError{RetryAfter: wait}
	}
	saturated := d.saturated()
	type begun struct {
		tx  dialect.Tx
		err error
	}
	if !isInteractive(ctx) {
		tx, err := d.next.BeginTx(ctx, opts)
		if err = d.done(ctx, call, false, err); err != nil {
			return nil, err
		}
		return &resilientTx{Tx: tx, d: d}, nil
	}
	ch := make(chan begun, 1)
	go func() {
		tx, err := d.next.BeginTx(ctx, opts)
		ch <- begun{tx, err}
	}()
	timer := time.NewTimer(d.stmt)
	defer timer.Stop()
	select {
	case r := <-ch:
		if err := d.done(ctx, call, false, r.err); err != nil {
			return nil, err
		}
		return &resilientTx{Tx: r.tx, d: d}, nil
	case <-timer.C:
	case <-ctx.Done():
	}
	go func() {
		if r := <-ch; r.tx != nil {
			_ = r.tx.Rollback()
		}
	}()
	return nil, d.doneWaiting(ctx, call, saturated, ctx.Err() == nil, context.DeadlineExceeded)
}

// saturated reports whether every pooled connection is in use, so that a
// new statement must queue for one.
func (d *resilient) saturated() bool {
	st := d.next.DB().Stats()
	return st.MaxOpenConnections > 0 && st.InUse >= st.MaxOpenConnections
}

// doneWaiting is done for a call that started while the pool was
// saturated: its timeout is wxid's own queue, not the database failing, so
// it sheds the request (UNAVAILABLE, retry later) without counting against
// the database. A hung database still opens the circuit: the calls that
// found a free connection and then timed out count.
func (d *resilient) doneWaiting(ctx context.Context, call *breaker.Call, saturated, timedOut bool, err error) error {
	if saturated && timedOut {
		call.Done(false)
		return &UnavailableError{RetryAfter: d.b.Cooldown(), Err: fmt.Errorf("no database connection free in time: %w", err)}
	}
	return d.done(ctx, call, timedOut, err)
}

// run runs op under the breaker, with a deadline of timeout for an
// interactive context. For a query, rows (*entsql.Rows) keep the deadline
// until they are closed.
func (d *resilient) run(ctx context.Context, timeout time.Duration, op func(context.Context) error, rows any) error {
	call, wait, ok := d.b.Allow()
	if !ok {
		return &UnavailableError{RetryAfter: wait}
	}
	if !isInteractive(ctx) {
		return d.done(ctx, call, false, op(ctx))
	}
	saturated := d.saturated()
	sctx, cancel := context.WithTimeout(ctx, timeout)
	err := op(sctx)
	timedOut := errors.Is(sctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	if r, ok := rows.(*entsql.Rows); ok && err == nil && r.ColumnScanner != nil {
		r.ColumnScanner = &cancelRows{ColumnScanner: r.ColumnScanner, cancel: cancel, d: d, timeout: timeout}
	} else {
		cancel()
	}
	return d.doneWaiting(ctx, call, saturated, timedOut, err)
}

// done reports the outcome of an admitted call to the breaker and turns a
// failure that says the database is unavailable into *UnavailableError.
func (d *resilient) done(ctx context.Context, call *breaker.Call, timedOut bool, err error) error {
	if err == nil {
		call.Done(false)
		return nil
	}
	if ctx.Err() != nil && !timedOut {
		call.Done(false) // the caller gave up; says nothing about the database
		return err
	}
	if !timedOut && !unavailable(err) {
		call.Done(false) // the database answered, if with an error
		return d.interrupted(err, d.stmt)
	}
	call.Done(true)
	if timedOut {
		err = fmt.Errorf("statement timed out: %w", err)
	}
	return &UnavailableError{RetryAfter: d.b.Cooldown(), Err: redact(err)}
}

// interrupted returns a *StatementTimeoutError for a server's "stopped at
// the time limit" answer (MariaDB 1969, MySQL 3024), err otherwise.
func (d *resilient) interrupted(err error, timeout time.Duration) error {
	if err == nil {
		return nil
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) && (me.Number == 1969 || me.Number == 3024) {
		return &StatementTimeoutError{Limit: serverLimit(timeout), Err: err}
	}
	return err
}

// unavailable reports whether err says the database cannot be reached or
// is out of capacity, as opposed to an answer (a duplicate key, a deadlock).
func unavailable(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, 1053, 1203, 1226: // too many connections, shutdown, user connection limit, resource limit
			return true
		}
		return false
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne)
}

// resilientTx gives every statement of a transaction the longer deadline.
type resilientTx struct {
	dialect.Tx
	d *resilient
}

func (t *resilientTx) Exec(ctx context.Context, query string, args, v any) error {
	return t.d.runTx(ctx, func(ctx context.Context) error { return t.Tx.Exec(ctx, query, args, v) }, nil)
}

// ExecContext is Exec returning the statement's result: ent's
// Tx.ExecContext, which Batch uses, reaches the driver through it.
func (t *resilientTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	if err := t.Exec(ctx, query, args, &res); err != nil {
		return nil, err
	}
	return res, nil
}

func (t *resilientTx) Query(ctx context.Context, query string, args, v any) error {
	return t.d.runTx(ctx, func(ctx context.Context) error { return t.Tx.Query(ctx, query, args, v) }, v)
}

// Commit bounds COMMIT by TxStatementTimeout: database/sql gives it no
// context of its own, and on a hung server it would wait for the driver's
// read timeout. A commit that does not answer in time is reported
// unavailable; whether it took effect is unknown, as with any lost reply.
func (t *resilientTx) Commit() error {
	ch := make(chan error, 1)
	go func() { ch <- t.Tx.Commit() }()
	timer := time.NewTimer(t.d.inTx)
	defer timer.Stop()
	select {
	case err := <-ch:
		if err != nil && unavailable(err) {
			return &UnavailableError{RetryAfter: t.d.b.Cooldown(), Err: redact(err)}
		}
		return err
	case <-timer.C:
		return &UnavailableError{RetryAfter: t.d.b.Cooldown(), Err: errors.New("commit timed out")}
	}
}

// runTx is run for statements inside a transaction: the breaker is not
// consulted (the transaction already holds its connection) but learns of
// failures.
func (d *resilient) runTx(ctx context.Context, op func(context.Context) error, rows any) error {
	if !isInteractive(ctx) {
		return d.txDone(ctx, false, op(ctx))
	}
	sctx, cancel := context.WithTimeout(ctx, d.inTx)
	err := op(sctx)
	timedOut := errors.Is(sctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	if r, ok := rows.(*entsql.Rows); ok && err == nil && r.ColumnScanner != nil {
		r.ColumnScanner = &cancelRows{ColumnScanner: r.ColumnScanner, cancel: cancel, d: d, timeout: d.inTx}
	} else {
		cancel()
	}
	return d.txDone(ctx, timedOut, err)
}

func (d *resilient) txDone(ctx context.Context, timedOut bool, err error) error {
	if err == nil || (ctx.Err() != nil && !timedOut) {
		return err
	}
	if !timedOut && !unavailable(err) {
		return d.interrupted(err, d.inTx)
	}
	if call, _, ok := d.b.Allow(); ok {
		call.Done(true)
	}
	if timedOut {
		err = fmt.Errorf("statement timed out: %w", err)
	}
	return &UnavailableError{RetryAfter: d.b.Cooldown(), Err: redact(err)}
}

// cancelRows releases a query's deadline when its rows are closed, and
// reports the server stopping the query at its time limit, which arrives
// with the rows rather than with the query, as a *StatementTimeoutError.
type cancelRows struct {
	entsql.ColumnScanner
	cancel  context.CancelFunc
	d       *resilient
	timeout time.Duration
}

func (r *cancelRows) Err() error {
	return r.d.interrupted(r.ColumnScanner.Err(), r.timeout)
}

func (r *cancelRows) Close() error {
	defer r.cancel()
	return r.d.interrupted(r.ColumnScanner.Close(), r.timeout)
}
