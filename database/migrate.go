package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/wxid/wxid/migrations"
)

// Migrations returns the migrator of this database, logging to log (nil =
// slog.Default()).
func (d *DB) Migrations(log *slog.Logger) (*migrations.Migrator, error) {
	m, err := migrations.New(d.SQL, d.Dialect, migrations.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("loading migrations: %w", err)
	}
	return m, nil
}

// Migrate applies the pending versioned migrations, adopting a database
// created by the automatic migration of earlier releases. It is idempotent
// and safe to run on every start; on MySQL concurrent runs wait for each
// other.
func (d *DB) Migrate(ctx context.Context) error {
	return d.MigrateLogged(ctx, nil)
}

// MigrateLogged is Migrate logging each applied file to log (nil =
// slog.Default()).
func (d *DB) MigrateLogged(ctx context.Context, log *slog.Logger) error {
	m, err := d.Migrations(log)
	if err != nil {
		return err
	}
	if _, err := m.Up(ctx); err != nil {
		return fmt.Errorf("migrating the database schema: %w", err)
	}
	st, err := m.Status(ctx)
	if err != nil {
		return fmt.Errorf("reading the migration status: %w", err)
	}
	return incompatible(st)
}

// incompatible fails when a newer release applied an offline migration.
func incompatible(st *migrations.Status) error {
	if len(st.Incompatible) > 0 {
		return fmt.Errorf("the database schema was migrated by a newer release with an offline migration this release cannot run with (%s): run that release instead", strings.Join(st.Incompatible, ", "))
	}
	return nil
}

// CheckMigrated is what start-up runs instead of Migrate when automatic
// migration is off: it fails when the database is behind this binary's
// migrations or has a migration problem, and logs a warning when a newer
// release has already migrated it (the normal state while a rollout
// replaces older instances), unless that release's migration was an offline
// one (migrations.Offline): then it fails too.
func (d *DB) CheckMigrated(ctx context.Context, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	m, err := d.Migrations(log)
	if err != nil {
		return err
	}
	st, err := m.Status(ctx)
	if err != nil {
		return fmt.Errorf("reading the migration status: %w", err)
	}
	switch {
	case len(st.Incompatible) > 0:
		return incompatible(st)
	case len(st.Problems) > 0:
		return fmt.Errorf("the database schema has migration problems (run `wxid migrate status`): %s", strings.Join(st.Problems, "; "))
	case st.Adopt:
		return errors.New("the database has no migration history (created by the automatic migration of an earlier release): run `wxid migrate` first, or set WXID_AUTO_MIGRATE=true")
	case st.Behind():
		return fmt.Errorf("the database schema is behind this release: %d migration(s) pending (%s); run `wxid migrate` first, or set WXID_AUTO_MIGRATE=true",
			len(st.Pending), strings.Join(st.Pending, ", "))
	case len(st.Unknown) > 0:
		log.Warn("the database schema was migrated by a newer release", "current", st.Current, "newer", st.Unknown)
	}
	return nil
}

// ForMigrations returns the database URL rawURL with MySQL's read and
// write timeouts lifted unless the URL sets them: a migration's ALTER TABLE
// on a large table may run for longer than the 30 s a request may wait.
func ForMigrations(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "mysql" {
		return rawURL
	}
	q := u.Query()
	for _, k := range []string{"readTimeout", "writeTimeout"} {
		if !q.Has(k) {
			q.Set(k, "0")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
