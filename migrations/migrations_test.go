package migrations_test

import (
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/database"
	entmigrate "github.com/wxid/wxid/ent/migrate"
	"github.com/wxid/wxid/ent/user"
	"github.com/wxid/wxid/internal/testenv"
	"github.com/wxid/wxid/migrations"
)

// backends runs f on a fresh SQLite file and a fresh MySQL/MariaDB
// database.
func backends(t *testing.T, f func(t *testing.T, db *database.DB)) {
	for _, b := range []string{"sqlite", "mysql"} {
		t.Run(b, func(t *testing.T) {
			url := testenv.SQLite(t)
			if b == "mysql" {
				url = testenv.MySQL(t)
			}
			db, err := database.Open(context.Background(), url, database.Options{MaxOpenConns: 4})
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			f(t, db)
		})
	}
}

func embeddedFiles(t *testing.T, dia string) []string {
	t.Helper()
	dir, err := migrations.Dir(dia)
	require.NoError(t, err)
	files, err := dir.Files()
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
	}
	return names
}

// entDiff returns the statements that would bring the database to the ent
// schema, dropped columns and indexes included; "" when there are none.
func entDiff(t *testing.T, db *database.DB) string {
	t.Helper()
	dir := &migrate.MemDir{}
	m, err := schema.NewMigrate(entsql.OpenDB(db.Dialect, db.SQL),
		schema.WithDir(dir),
		schema.WithFormatter(migrate.DefaultFormatter),
		schema.WithDialect(db.Dialect),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
		schema.WithErrNoPlan(true),
	)
	require.NoError(t, err)
	err = m.NamedDiff(context.Background(), "drift", entmigrate.Tables...)
	if errors.Is(err, migrate.ErrNoPlan) {
		return ""
	}
	require.NoError(t, err)
	files, err := dir.Files()
	require.NoError(t, err)
	var out []string
	for _, f := range files {
		out = append(out, string(f.Bytes()))
	}
	return strings.Join(out, "\n")
}

// tables lists the database's tables.
func tables(t *testing.T, db *database.DB) []string {
	t.Helper()
	q := "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name"
	if db.Dialect == dialect.SQLite {
		q = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	}
	rows, err := db.SQL.Query(q)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		out = append(out, n)
	}
	require.NoError(t, rows.Err())
	return out
}

func migrator(t *testing.T, db *database.DB, dir migrate.Dir) *migrations.Migrator {
	t.Helper()
	m, err := migrations.New(db.SQL, db.Dialect, migrations.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return m
}

// TestMigrationsMatchTheEntSchema is the check that the committed
// migrations and ent/schema agree: replayed into an empty database, the
// migrations leave nothing for the ent schema to change.
func TestMigrationsMatchTheEntSchema(t *testing.T) {
	backends(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		m := migrator(t, db, nil)
		applied, err := m.Up(ctx)
		require.NoError(t, err)
		require.Equal(t, embeddedFiles(t, db.Dialect), applied, "an empty database gets every migration, in order")

		drift := entDiff(t, db)
		require.Empty(t, drift, "the ent schema and the %s migrations disagree: run `go run ./internal/cmd/migrategen -name <what_changed>` and commit the new files. The missing statements:\n%s", db.Dialect, drift)

		want := []string{migrations.RevisionTable}
		for _, tb := range entmigrate.Tables {
			want = append(want, tb.Name)
		}
		slices.Sort(want)
		require.Equal(t, want, tables(t, db), "the migrations create exactly the ent schema's tables")

		again, err := m.Up(ctx)
		require.NoError(t, err)
		require.Empty(t, again, "a second run applies nothing")
		st, err := m.Status(ctx)
		require.NoError(t, err)
		require.True(t, st.OK(), "%+v", st)
		require.Equal(t, st.Latest, st.Current)
		require.False(t, st.Adopt)
	})
}

// TestBothDialectsHaveTheSameVersions keeps migrategen's promise: one
// change, one version, in every dialect.
func TestBothDialectsHaveTheSameVersions(t *testing.T) {
	my := embeddedFiles(t, dialect.MySQL)
	lite := embeddedFiles(t, dialect.SQLite)
	require.Equal(t, my, lite)
}

// TestEmbeddedFilesAreTheCommittedFiles guards the go:embed patterns.
func TestEmbeddedFilesAreTheCommittedFiles(t *testing.T) {
	for dia, name := range map[string]string{dialect.MySQL: "mysql", dialect.SQLite: "sqlite"} {
		onDisk, err := filepath.Glob(filepath.Join(name, "*.sql"))
		require.NoError(t, err)
		for i := range onDisk {
			onDisk[i] = filepath.Base(onDisk[i])
		}
		require.Equal(t, onDisk, embeddedFiles(t, dia))
		local, err := migrate.NewLocalDir(name)
		require.NoError(t, err)
		require.NoError(t, migrate.Validate(local), "migrations/%s does not match its atlas.sum: run `go run ./internal/cmd/migrategen -rehash` after editing a migration", name)
	}
}

// execFile runs the statements of a testdata SQL file.
func execFile(t *testing.T, db *database.DB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, stmt := range strings.Split(string(b), ";\n") {
		var lines []string
		for _, l := range strings.Split(stmt, "\n") {
			if !strings.HasPrefix(l, "--") {
				lines = append(lines, l)
			}
		}
		if s := strings.TrimSpace(strings.Join(lines, "\n")); s != "" {
			_, err := db.SQL.Exec(s)
			require.NoError(t, err, s)
		}
	}
}

// previousRelease creates the schema the automatic migration of the last
// release without versioned migrations created, and fills it with a user,
// two openids, a unionid and a session.
func previousRelease(t *testing.T, db *database.DB) {
	t.Helper()
	name := "mysql"
	if db.Dialect == dialect.SQLite {
		name = "sqlite"
	}
	execFile(t, db, filepath.Join("testdata", "automigrated_"+name+".sql"))
	const (
		uid  = 12884901888 + 1
		oid1 = 1
		oid2 = 2
	)
	now := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO users (id, phone_number, pure_phone_number, country_code, phone_verified_at, created_at, updated_at, last_login_at, disabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			[]any{uid, "+8613800138000", "13800138000", "86", now, now, now, now, false}},
		{"INSERT INTO open_ids (id, appid, openid, session_key, created_at, updated_at, user_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
			[]any{oid1, "wx1111111111111111", "o-first", []byte{1, 2, 3}, now, now, uid}},
		{"INSERT INTO open_ids (id, appid, openid, session_key, created_at, updated_at, user_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
			[]any{oid2, "wx2222222222222222", "o-second", nil, now, now, uid}},
		{"INSERT INTO union_ids (id, unionid, created_at, user_id) VALUES (?, ?, ?, ?)",
			[]any{8589934592 + 1, "u-one", now, uid}},
		{"INSERT INTO sessions (id, token_hash, family, created_at, expires_at, absolute_expires_at, successor_token, client_ip, user_agent, open_id_id, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			[]any{4294967296 + 1, strings.Repeat("ab", 32), strings.Repeat("f1", 16), now, now.Add(time.Hour), now.Add(720 * time.Hour), nil, "203.0.113.7", "test", oid1, uid}},
	} {
		_, err := db.SQL.Exec(q.sql, q.args...)
		require.NoError(t, err, q.sql)
	}
}

// TestUpgradeFromThePreviousRelease migrates a database created by the
// previous release's automatic migration and holding data: it is adopted
// as the baseline, every later migration applies, the data is intact and
// the schema is the ent schema.
func TestUpgradeFromThePreviousRelease(t *testing.T) {
	backends(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		previousRelease(t, db)
		m := migrator(t, db, nil)

		st, err := m.Status(ctx)
		require.NoError(t, err)
		require.True(t, st.Adopt, "tables without history are reported for adoption")
		require.True(t, st.Behind())
		require.Empty(t, st.Problems)
		require.ErrorContains(t, db.CheckMigrated(ctx, nil), "no migration history", "start-up without automatic migration waits for `wxid migrate`")

		files := embeddedFiles(t, db.Dialect)
		applied, err := m.Up(ctx)
		require.NoError(t, err)
		require.Equal(t, files[1:], append([]string{}, applied...), "the baseline is adopted, the later migrations run")

		st, err = m.Status(ctx)
		require.NoError(t, err)
		require.True(t, st.OK(), "%+v", st)
		require.Equal(t, st.Latest, st.Current)
		require.Empty(t, entDiff(t, db), "after the upgrade the schema is exactly the ent schema")

		// The data is intact and readable through ent.
		u, err := db.Client.User.Query().Where(user.ID(12884901888 + 1)).WithOpenIds().WithUnionID().WithSessions().Only(ctx)
		require.NoError(t, err)
		require.Equal(t, "+8613800138000", *u.PhoneNumber)
		require.NotNil(t, u.PhoneSuffix, "the upgrade fills phone_suffix of the users it finds")
		require.Equal(t, "8000", *u.PhoneSuffix)
		require.Len(t, u.Edges.OpenIds, 2)
		require.Equal(t, []byte{1, 2, 3}, u.Edges.OpenIds[0].SessionKey)
		require.Equal(t, "u-one", u.Edges.UnionID.Unionid)
		require.Len(t, u.Edges.Sessions, 1)
		require.Equal(t, strings.Repeat("ab", 32), hex.EncodeToString(u.Edges.Sessions[0].TokenHash), "the hex token hash is now its bytes")
		require.Equal(t, strings.Repeat("f1", 16), hex.EncodeToString(u.Edges.Sessions[0].Family))

		// New rows keep to their type's global ID range.
		n, err := db.Client.User.Create().Save(ctx)
		require.NoError(t, err)
		require.Greater(t, n.ID, 12884901888+1)
		require.Less(t, n.ID, 4*(1<<32))
	})
}

// TestUpRefusesASchemaItDoesNotKnow: tables without history that are not
// the baseline's are never adopted silently.
func TestUpRefusesASchemaItDoesNotKnow(t *testing.T) {
	backends(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		previousRelease(t, db)
		_, err := db.SQL.Exec("ALTER TABLE sessions DROP COLUMN user_agent")
		require.NoError(t, err)
		m := migrator(t, db, nil)
		_, err = m.Up(ctx)
		require.ErrorContains(t, err, "cannot be adopted")
		require.ErrorContains(t, err, "table sessions: column user_agent is missing")

		// An operator who knows better records the version by hand.
		files := embeddedFiles(t, db.Dialect)
		version, _, _ := strings.Cut(files[0], "_")
		require.NoError(t, m.Baseline(ctx, version))
		require.ErrorContains(t, m.Baseline(ctx, version), "already has a migration history")
		st, err := m.Status(ctx)
		require.NoError(t, err)
		require.Equal(t, version, st.Current)
		require.Len(t, st.Pending, len(files)-1)
	})
}

// withFile returns the embedded directory plus one more file.
func withFile(t *testing.T, dia, name, body string, rehash bool) migrate.Dir {
	t.Helper()
	dir, err := migrations.Dir(dia)
	require.NoError(t, err)
	files, err := dir.Files()
	require.NoError(t, err)
	out := &migrate.MemDir{}
	if rehash {
		files = append(files, migrate.NewLocalFile(name, []byte(body)))
		require.NoError(t, out.CopyFiles(files))
		return out
	}
	sum, err := fs.ReadFile(dir, migrate.HashFileName)
	require.NoError(t, err)
	for _, f := range files {
		require.NoError(t, out.WriteFile(f.Name(), f.Bytes()))
	}
	require.NoError(t, out.WriteFile(name, []byte(body)))
	require.NoError(t, out.WriteFile(migrate.HashFileName, sum))
	return out
}

// TestStatusReportsPendingAndApplied follows a database through a new
// release's migration.
func TestStatusReportsPendingAndApplied(t *testing.T) {
	backends(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		files := embeddedFiles(t, db.Dialect)
		st, err := migrator(t, db, nil).Status(ctx)
		require.NoError(t, err)
		require.Equal(t, "", st.Current)
		require.Equal(t, files, st.Pending)
		require.True(t, st.Behind())
		require.False(t, st.Adopt)

		_, err = migrator(t, db, nil).Up(ctx)
		require.NoError(t, err)

		next := withFile(t, db.Dialect, "29990101000000_add_note.sql", "ALTER TABLE `users` ADD COLUMN `note` varchar(16) NULL;\n", true)
		m := migrator(t, db, next)
		st, err = m.Status(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"29990101000000_add_note.sql"}, st.Pending)
		require.Empty(t, st.Problems)
		var out strings.Builder
		st.Write(&out)
		require.Contains(t, out.String(), "status: behind")

		// An instance of the older release sees a database that is ahead.
		applied, err := m.Up(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"29990101000000_add_note.sql"}, applied)
		st, err = migrator(t, db, nil).Status(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"29990101000000_add_note"}, st.Unknown)
		require.True(t, st.OK(), "a database ahead of the binary is fine: %+v", st)
		require.NoError(t, db.CheckMigrated(ctx, slog.New(slog.DiscardHandler)))
	})
}

// TestChecksumTampering: a migration file that does not match atlas.sum,
// or an applied file edited afterwards, is reported and never applied.
func TestChecksumTampering(t *testing.T) {
	backends(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		_, err := migrator(t, db, nil).Up(ctx)
		require.NoError(t, err)

		// A file added without updating atlas.sum.
		tampered := withFile(t, db.Dialect, "29990101000000_sneaky.sql", "DROP TABLE `sessions`;\n", false)
		m := migrator(t, db, tampered)
		st, err := m.Status(ctx)
		require.NoError(t, err)
		require.Contains(t, strings.Join(st.Problems, "\n"), "29990101000000_sneaky.sql was added without updating the checksum")
		require.False(t, st.OK())
		_, err = m.Up(ctx)
		require.ErrorIs(t, err, migrate.ErrChecksumMismatch)
		require.Contains(t, tables(t, db), "sessions", "nothing ran")

		// An applied file edited, with atlas.sum rewritten to match.
		dir, err := migrations.Dir(db.Dialect)
		require.NoError(t, err)
		files, err := dir.Files()
		require.NoError(t, err)
		edited := &migrate.MemDir{}
		changed := append([]migrate.File{}, files...)
		changed[0] = migrate.NewLocalFile(files[0].Name(), append(files[0].Bytes(), []byte("-- edited\n")...))
		require.NoError(t, edited.CopyFiles(changed))
		st, err = migrator(t, db, edited).Status(ctx)
		require.NoError(t, err)
		require.Contains(t, strings.Join(st.Problems, "\n"), files[0].Name()+" was changed after it was applied")
		_, err = migrator(t, db, edited).Up(ctx)
		require.ErrorContains(t, err, "changed after it was applied")
	})
}

// TestFailedMigrationIsReportedAndResumed: a statement that fails stops
// the run, status names it, and the next run resumes after the fix.
func TestFailedMigrationIsReportedAndResumed(t *testing.T) {
	backends(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		_, err := migrator(t, db, nil).Up(ctx)
		require.NoError(t, err)
		_, err = db.SQL.Exec("CREATE TABLE blocker (id integer NOT NULL PRIMARY KEY)")
		require.NoError(t, err)
		body := "CREATE TABLE `notes` (`id` integer NOT NULL PRIMARY KEY);\nCREATE TABLE `blocker` (`id` integer NOT NULL PRIMARY KEY);\n"
		m := migrator(t, db, withFile(t, db.Dialect, "29990101000000_notes.sql", body, true))
		_, err = m.Up(ctx)
		require.Error(t, err)
		st, err := m.Status(ctx)
		require.NoError(t, err)
		require.Contains(t, strings.Join(st.Problems, "\n"), "29990101000000_notes.sql failed at statement 2 of 2")
		require.Equal(t, []string{"29990101000000_notes.sql"}, st.Pending)

		_, err = db.SQL.Exec("DROP TABLE blocker")
		require.NoError(t, err)
		applied, err := m.Up(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"29990101000000_notes.sql"}, applied)
		st, err = m.Status(ctx)
		require.NoError(t, err)
		require.True(t, st.OK(), "%+v", st)
	})
}

// TestStartUpCheck: with automatic migration off, start-up refuses a
// database that is behind and accepts one that is current.
func TestStartUpCheck(t *testing.T) {
	backends(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		err := db.CheckMigrated(ctx, nil)
		require.ErrorContains(t, err, "behind this release")
		require.ErrorContains(t, err, "wxid migrate")
		require.NoError(t, db.Migrate(ctx))
		require.NoError(t, db.CheckMigrated(ctx, nil))
	})
}

// TestConcurrentUp: instances starting together apply each file once.
func TestConcurrentUp(t *testing.T) {
	backends(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		const n = 4
		results := make(chan []string, n)
		errs := make(chan error, n)
		for range n {
			go func() {
				applied, err := migrator(t, db, nil).Up(ctx)
				results <- applied
				errs <- err
			}()
		}
		var all []string
		for range n {
			require.NoError(t, <-errs)
			all = append(all, <-results...)
		}
		require.Equal(t, embeddedFiles(t, db.Dialect), all, "every file applied exactly once")
		require.Empty(t, entDiff(t, db))
	})
}

// TestSQLiteForeignKeysStayOn: a SQLite migration that fails while foreign
// keys are off (a table rebuild) does not leave them off on the pooled
// connection.
func TestSQLiteForeignKeysStayOn(t *testing.T) {
	ctx := context.Background()
	db, err := database.Open(ctx, testenv.SQLite(t), database.Options{MaxOpenConns: 1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	body := "PRAGMA foreign_keys = off;\nCREATE TABLE `users` (`id` integer NOT NULL PRIMARY KEY);\n"
	_, err = migrator(t, db, withFile(t, dialect.SQLite, "29990101000000_clash.sql", body, true)).Up(ctx)
	require.ErrorContains(t, err, "already exists")
	var on int
	require.NoError(t, db.SQL.QueryRow("PRAGMA foreign_keys").Scan(&on))
	require.Equal(t, 1, on)
}
