// Package migrations holds wxid's versioned schema migrations, one
// directory per dialect (mysql/, sqlite/, each with Atlas's atlas.sum
// checksum file), embedded in the binary, and applies them with Atlas's
// migration executor, recording each applied file in RevisionTable.
//
// The files are generated from the ent schema by
// `go run ./internal/cmd/migrategen -name NAME`; the tests of this package
// fail while the ent schema and the files disagree.
//
// A database created by the automatic migration of releases before
// versioned migrations (tables, no RevisionTable) is adopted: Up checks
// that its tables are those of the first migration, the baseline, records
// the baseline as applied and applies the rest.
package migrations

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/mysql"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
	"entgo.io/ent/dialect"
)

//go:embed mysql/*.sql mysql/atlas.sum sqlite/*.sql sqlite/atlas.sum
var embedded embed.FS

// Dir returns the embedded migration directory of an ent dialect
// (dialect.MySQL or dialect.SQLite).
func Dir(dia string) (migrate.Dir, error) {
	name, err := dirName(dia)
	if err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(embedded, name)
	if err != nil {
		return nil, fmt.Errorf("reading the embedded %s migrations: %w", name, err)
	}
	dir := &migrate.MemDir{}
	for _, e := range entries {
		b, err := fs.ReadFile(embedded, path.Join(name, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading the embedded %s migrations: %w", name, err)
		}
		if err := dir.WriteFile(e.Name(), b); err != nil {
			return nil, fmt.Errorf("loading migration %s: %w", e.Name(), err)
		}
	}
	return dir, nil
}

func dirName(dia string) (string, error) {
	switch dia {
	case dialect.MySQL:
		return "mysql", nil
	case dialect.SQLite:
		return "sqlite", nil
	}
	return "", fmt.Errorf("no migrations for dialect %q", dia)
}

// Options tune a Migrator.
type Options struct {
	// Dir replaces the embedded migrations (tests); nil = Dir(dialect).
	Dir migrate.Dir
	// Logger receives a line per applied file; nil = slog.Default().
	Logger *slog.Logger
	// LockTimeout bounds the wait for another instance's migration on
	// MySQL; 0 = 5 minutes.
	LockTimeout time.Duration
}

// Migrator applies the migrations of one dialect to one database.
type Migrator struct {
	db      *sql.DB
	dialect string
	dir     migrate.Dir
	log     *slog.Logger
	lockFor time.Duration
}

// New returns a Migrator for db, a database of ent dialect dia.
func New(db *sql.DB, dia string, o Options) (*Migrator, error) {
	m := &Migrator{db: db, dialect: dia, dir: o.Dir, log: o.Logger, lockFor: o.LockTimeout}
	if m.dir == nil {
		var err error
		if m.dir, err = Dir(dia); err != nil {
			return nil, err
		}
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.lockFor <= 0 {
		m.lockFor = 5 * time.Minute
	}
	return m, nil
}

// session is one connection with its Atlas driver and revision table:
// everything a migration does runs on the same connection (MySQL's lock
// and SQLite's pragmas are per connection).
type session struct {
	conn *sql.Conn
	drv  migrate.Driver
	revs *revisions
}

func (m *Migrator) open(ctx context.Context) (*session, error) {
	conn, err := m.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting for migrations: %w", err)
	}
	var drv migrate.Driver
	switch m.dialect {
	case dialect.MySQL:
		drv, err = mysql.Open(conn)
	case dialect.SQLite:
		drv, err = sqlite.Open(conn)
	default:
		err = fmt.Errorf("no migrations for dialect %q", m.dialect)
	}
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("opening the migration driver: %w", err)
	}
	return &session{conn: conn, drv: drv, revs: &revisions{conn: conn, dialect: m.dialect}}, nil
}

// sqliteMu serialises SQLite migrations in this process: a SQLite
// database is served by one process.
var sqliteMu sync.Mutex

// lock serialises migrations of this database: across instances with
// MySQL's GET_LOCK, within the process for SQLite.
func (m *Migrator) lock(ctx context.Context, s *session) (func(), error) {
	if m.dialect == dialect.SQLite {
		sqliteMu.Lock()
		return sqliteMu.Unlock, nil
	}
	locker, ok := s.drv.(schema.Locker)
	if !ok {
		return nil, fmt.Errorf("the %s driver cannot lock", m.dialect)
	}
	var name string
	if err := s.conn.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&name); err != nil {
		return nil, fmt.Errorf("naming the migration lock: %w", err)
	}
	sum := sha256.Sum256([]byte(name))
	unlock, err := locker.Lock(ctx, "wxid_migrate_"+hex.EncodeToString(sum[:8]), m.lockFor)
	if err != nil {
		return nil, fmt.Errorf("waiting for another instance's migration: %w", err)
	}
	return func() { _ = unlock() }, nil
}

// Up applies the pending migrations and returns the names of the files it
// applied. A database holding the baseline's tables without a revision
// table is adopted first (see Baseline); one holding other tables is
// refused.
func (m *Migrator) Up(ctx context.Context) ([]string, error) {
	s, err := m.open(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = s.conn.Close() }()
	unlock, err := m.lock(ctx, s)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if m.dialect == dialect.SQLite {
		// A SQLite migration that rebuilds a table turns foreign keys off
		// for its duration; one that fails halfway must not hand the
		// connection back to the pool that way.
		defer func() { _, _ = s.conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = on") }()
	}
	if err := s.revs.create(ctx); err != nil {
		return nil, err
	}
	revs, err := s.revs.ReadRevisions(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkHistory(m.dir, revs); err != nil {
		return nil, err
	}
	rec := &recorder{log: m.log}
	opts := []migrate.ExecutorOption{migrate.WithLogger(rec), migrate.WithOperatorVersion(OperatorVersion)}
	if len(revs) == 0 {
		adopt, err := m.adoptable(ctx, s)
		if err != nil {
			return nil, err
		}
		if adopt != "" {
			m.log.Info("adopting a database created by automatic migration", "baseline", adopt)
			opts = append(opts, migrate.WithBaselineVersion(adopt))
		}
	}
	ex, err := migrate.NewExecutor(s.drv, m.dir, s.revs, opts...)
	if err != nil {
		return nil, fmt.Errorf("preparing migrations: %w", err)
	}
	if err := ex.ExecuteN(ctx, 0); err != nil && !errors.Is(err, migrate.ErrNoPendingFiles) {
		return rec.applied, fmt.Errorf("applying migrations: %w", err)
	}
	return rec.applied, nil
}

// Baseline records version as applied without running it or the files
// before it, on a database without migration history: for a database
// whose schema an operator knows to equal that version.
func (m *Migrator) Baseline(ctx context.Context, version string) error {
	s, err := m.open(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = s.conn.Close() }()
	unlock, err := m.lock(ctx, s)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.revs.create(ctx); err != nil {
		return err
	}
	revs, err := s.revs.ReadRevisions(ctx)
	if err != nil {
		return err
	}
	if len(revs) > 0 {
		return fmt.Errorf("the database already has a migration history (last %s): baseline is only for a database without one", revs[len(revs)-1].Version)
	}
	files, err := m.dir.Files()
	if err != nil {
		return fmt.Errorf("reading migrations: %w", err)
	}
	i := slices.IndexFunc(files, func(f migrate.File) bool { return f.Version() == version })
	if i < 0 {
		return fmt.Errorf("no migration has version %q", version)
	}
	return s.revs.WriteRevision(ctx, &migrate.Revision{
		Version: version, Description: files[i].Desc(), Type: migrate.RevisionTypeBaseline,
		ExecutedAt: time.Now(), OperatorVersion: OperatorVersion,
	})
}

// OperatorVersion is written to each revision wxid applies.
const OperatorVersion = "wxid"

// recorder logs each applied file and remembers its name.
type recorder struct {
	log     *slog.Logger
	applied []string
}

func (r *recorder) Log(e migrate.LogEntry) {
	switch e := e.(type) {
	case migrate.LogFile:
		r.applied = append(r.applied, e.File.Name())
		r.log.Info("applying migration", "file", e.File.Name(), "skip_statements", e.Skip)
	case migrate.LogError:
		r.log.Error("migration failed", "err", e.Error)
	}
}

// userTables lists the tables of the connected schema other than
// RevisionTable.
func userTables(ctx context.Context, drv migrate.Driver) (*schema.Schema, error) {
	s, err := drv.InspectSchema(ctx, "", nil)
	if err != nil {
		return nil, fmt.Errorf("inspecting the database: %w", err)
	}
	s.Tables = slices.DeleteFunc(s.Tables, func(t *schema.Table) bool {
		return t.Name == RevisionTable || strings.HasPrefix(t.Name, "sqlite_")
	})
	return s, nil
}
