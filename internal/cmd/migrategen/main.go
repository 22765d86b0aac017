// Command migrategen writes the versioned migration that brings
// migrations/mysql and migrations/sqlite up to the ent schema in ent/schema.
//
// For each dialect it replays the committed migration files into an empty
// development database, diffs the result against the ent schema with
// Atlas (ent's migrate.NamedDiff), and writes the difference as one new
// file, <version>_<name>.sql, then rewrites the directory's atlas.sum. Both
// dialects get the same version. When the schema and the migrations agree
// it writes nothing.
//
// SQLite's development database is in memory. MySQL's is a throwaway
// database created on a MySQL/MariaDB server (-mysql, default
// WXID_TEST_MYSQL or root@127.0.0.1:3306) and dropped afterwards.
//
// Run from the repository root after changing ent/schema and running
// go generate ./...:
//
//	go run ./internal/cmd/migrategen -name add_audit_events
//
// Review the new files (make destructive steps expand/contract by hand if
// needed; any edit requires `-rehash`), and commit them. The tests in
// package migrations fail while the ent schema and the migrations disagree.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"text/template"
	"time"

	"ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	entmigrate "github.com/wxid/wxid/ent/migrate"
)

// defaultMySQL is the development server when neither -mysql nor
// WXID_TEST_MYSQL names one.
const defaultMySQL = "root:@tcp(127.0.0.1:3306)/"

var validName = regexp.MustCompile(`^[a-z0-9_]+$`)

func main() {
	name := flag.String("name", "", "what the migration does, in snake_case (required): add_audit_events")
	dirRoot := flag.String("dir", "migrations", "directory holding the mysql and sqlite migration directories")
	server := flag.String("mysql", envOr("WXID_TEST_MYSQL", defaultMySQL), "go-sql-driver DSN of the MySQL/MariaDB server for the throwaway development database")
	rehash := flag.Bool("rehash", false, "only rewrite atlas.sum of both directories after editing a migration by hand")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, *dirRoot, *name, *server, *rehash); err != nil {
		fmt.Fprintf(os.Stderr, "migrategen: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, root, name, server string, rehash bool) error {
	if rehash {
		for _, d := range []string{dialect.MySQL, dialect.SQLite} {
			if err := writeSum(filepath.Join(root, dirName(d))); err != nil {
				return err
			}
		}
		return nil
	}
	if !validName.MatchString(name) {
		return errors.New("-name is required: lower-case letters, digits and underscores, e.g. -name add_audit_events")
	}
	version := migrate.NewVersion()
	for _, d := range []string{dialect.MySQL, dialect.SQLite} {
		dir := filepath.Join(root, dirName(d))
		wrote, err := generate(ctx, d, dir, version, name, server)
		if err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		if wrote {
			fmt.Printf("wrote %s\n", filepath.Join(dir, version+"_"+name+".sql"))
		} else {
			fmt.Printf("%s: the migrations match the ent schema; nothing to write\n", dir)
		}
	}
	return nil
}

// generate diffs the replayed directory against the ent schema on a fresh
// development database of dialect d and writes the difference, if any.
func generate(ctx context.Context, d, path, version, name, server string) (bool, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return false, fmt.Errorf("creating %s: %w", path, err)
	}
	dir, err := migrate.NewLocalDir(path)
	if err != nil {
		return false, fmt.Errorf("opening %s: %w", path, err)
	}
	if _, err := os.Stat(filepath.Join(path, migrate.HashFileName)); errors.Is(err, os.ErrNotExist) {
		// A new directory: start it with an (empty) checksum file.
		if err := writeSum(path); err != nil {
			return false, err
		}
	}
	db, drop, err := devDatabase(ctx, d, server)
	if err != nil {
		return false, err
	}
	defer drop()
	format, err := newFormatter(version)
	if err != nil {
		return false, err
	}
	m, err := schema.NewMigrate(entsql.OpenDB(d, db),
		schema.WithDir(dir),
		schema.WithFormatter(format),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(d),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
		schema.WithErrNoPlan(true),
	)
	if err != nil {
		return false, fmt.Errorf("preparing the diff: %w", err)
	}
	err = m.NamedDiff(ctx, name, entmigrate.Tables...)
	switch {
	case errors.Is(err, migrate.ErrNoPlan):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("diffing the migrations against the ent schema: %w", err)
	}
	return true, nil
}

// newFormatter names files <version>_<name>.sql, so that one change gets the
// same version in every dialect, and writes them as Atlas does.
func newFormatter(version string) (migrate.TemplateFormatter, error) {
	if !regexp.MustCompile(`^[0-9]{14}$`).MatchString(version) {
		return nil, fmt.Errorf("bad version %q", version)
	}
	return migrate.NewTemplateFormatter(
		template.Must(template.New("name").Parse(version+"{{ with .Name }}_{{ . }}{{ end }}.sql")),
		migrate.DefaultFormatter[0].C,
	)
}

// writeSum rewrites the atlas.sum of the migration directory at path.
func writeSum(path string) error {
	dir, err := migrate.NewLocalDir(path)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	sum, err := dir.Checksum()
	if err != nil {
		return fmt.Errorf("hashing %s: %w", path, err)
	}
	if err := migrate.WriteSumFile(dir, sum); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Join(path, migrate.HashFileName), err)
	}
	return nil
}

// devDatabase opens an empty database of dialect d; drop discards it.
func devDatabase(ctx context.Context, d, server string) (db *sql.DB, drop func(), err error) {
	if d == dialect.SQLite {
		db, err := sql.Open("sqlite", "file:migrategen?mode=memory&_pragma=foreign_keys(1)")
		if err != nil {
			return nil, nil, fmt.Errorf("opening an in-memory SQLite: %w", err)
		}
		db.SetMaxOpenConns(1)
		return db, func() { db.Close() }, nil
	}
	cfg, err := mysql.ParseDSN(server)
	if err != nil {
		return nil, nil, fmt.Errorf("-mysql: %w", err)
	}
	cfg.DBName = ""
	cfg.ParseTime = true
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, nil, fmt.Errorf("opening MySQL: %w", err)
	}
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		return nil, nil, fmt.Errorf("MySQL/MariaDB at %s (a development database is needed for the MySQL diff; set -mysql or WXID_TEST_MYSQL): %w", cfg.Addr, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "wxid_migrategen_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		admin.Close()
		return nil, nil, fmt.Errorf("creating the development database: %w", err)
	}
	cfg.DBName = name
	db, err = sql.Open("mysql", cfg.FormatDSN())
	if err == nil {
		db.SetMaxOpenConns(1)
	}
	drop = func() {
		if db != nil {
			db.Close()
		}
		if _, err := admin.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			fmt.Fprintf(os.Stderr, "migrategen: dropping %s: %v\n", name, err)
		}
		admin.Close()
	}
	if err != nil {
		drop()
		return nil, nil, fmt.Errorf("opening the development database: %w", err)
	}
	return db, drop, nil
}

// dirName is the directory of dialect d's migrations: mysql or sqlite.
func dirName(d string) string {
	if d == dialect.SQLite {
		return "sqlite"
	}
	return d
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
