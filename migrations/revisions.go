package migrations

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
	"entgo.io/ent/dialect"
)

// RevisionTable is the table in wxid's database that records which
// migrations ran. Its columns are those of the Atlas CLI's revision table,
// so the history reads the same with either tool.
const RevisionTable = "atlas_schema_revisions"

// revisions stores Atlas revisions in RevisionTable; it implements
// migrate.RevisionReadWriter over one connection.
type revisions struct {
	conn    schema.ExecQuerier
	dialect string
}

var _ migrate.RevisionReadWriter = (*revisions)(nil)

// Ident implements migrate.RevisionReadWriter: the table lives in the
// connected schema.
func (r *revisions) Ident() *migrate.TableIdent {
	return &migrate.TableIdent{Name: RevisionTable}
}

// create makes the table unless it exists.
func (r *revisions) create(ctx context.Context) error {
	ddl := "CREATE TABLE IF NOT EXISTS `" + RevisionTable + "` (" +
		"`version` varchar(255) NOT NULL, `description` varchar(255) NOT NULL, " +
		"`type` bigint unsigned NOT NULL DEFAULT 2, `applied` bigint NOT NULL DEFAULT 0, `total` bigint NOT NULL DEFAULT 0, " +
		"`executed_at` timestamp NOT NULL, `execution_time` bigint NOT NULL, " +
		"`error` longtext NULL, `error_stmt` longtext NULL, `hash` varchar(255) NOT NULL, " +
		"`partial_hashes` json NULL, `operator_version` varchar(255) NOT NULL, PRIMARY KEY (`version`))"
	if r.dialect == dialect.MySQL {
		ddl += " CHARSET utf8mb4 COLLATE utf8mb4_bin"
	} else {
		ddl = "CREATE TABLE IF NOT EXISTS `" + RevisionTable + "` (" +
			"`version` text NOT NULL PRIMARY KEY, `description` text NOT NULL, " +
			"`type` integer NOT NULL DEFAULT 2, `applied` integer NOT NULL DEFAULT 0, `total` integer NOT NULL DEFAULT 0, " +
			"`executed_at` datetime NOT NULL, `execution_time` integer NOT NULL, " +
			"`error` text NULL, `error_stmt` text NULL, `hash` text NOT NULL, " +
			"`partial_hashes` json NULL, `operator_version` text NOT NULL)"
	}
	if _, err := r.conn.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("creating %s: %w", RevisionTable, err)
	}
	return nil
}

// exists reports whether the table exists.
func (r *revisions) exists(ctx context.Context) (bool, error) {
	q := "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
	if r.dialect == dialect.SQLite {
		q = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	}
	rows, err := r.conn.QueryContext(ctx, q, RevisionTable)
	if err != nil {
		return false, fmt.Errorf("looking for %s: %w", RevisionTable, err)
	}
	defer func() { _ = rows.Close() }()
	var n int
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return false, fmt.Errorf("looking for %s: %w", RevisionTable, err)
		}
	}
	return n > 0, rows.Err()
}

const revisionColumns = "`version`, `description`, `type`, `applied`, `total`, `executed_at`, `execution_time`, " +
	"`error`, `error_stmt`, `hash`, `partial_hashes`, `operator_version`"

// ReadRevisions implements migrate.RevisionReadWriter, in version order.
// A missing table reads as no revisions.
func (r *revisions) ReadRevisions(ctx context.Context) ([]*migrate.Revision, error) {
	ok, err := r.exists(ctx)
	if err != nil || !ok {
		return nil, err
	}
	return r.query(ctx, "SELECT "+revisionColumns+" FROM `"+RevisionTable+"` ORDER BY `version`")
}

// ReadRevision implements migrate.RevisionReadWriter.
func (r *revisions) ReadRevision(ctx context.Context, version string) (*migrate.Revision, error) {
	revs, err := r.query(ctx, "SELECT "+revisionColumns+" FROM `"+RevisionTable+"` WHERE `version` = ?", version)
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		return nil, migrate.ErrRevisionNotExist
	}
	return revs[0], nil
}

// WriteRevision implements migrate.RevisionReadWriter: an upsert.
func (r *revisions) WriteRevision(ctx context.Context, rev *migrate.Revision) error {
	var partial any
	if len(rev.PartialHashes) > 0 {
		b, err := json.Marshal(rev.PartialHashes)
		if err != nil {
			return fmt.Errorf("encoding partial hashes: %w", err)
		}
		partial = string(b)
	}
	args := []any{
		rev.Version, rev.Description, uint64(rev.Type), rev.Applied, rev.Total,
		rev.ExecutedAt.UTC(), int64(rev.ExecutionTime), nullable(rev.Error), nullable(rev.ErrorStmt),
		rev.Hash, partial, rev.OperatorVersion,
	}
	// One statement for both dialects: replace the row by its key.
	if _, err := r.conn.ExecContext(ctx, "DELETE FROM `"+RevisionTable+"` WHERE `version` = ?", rev.Version); err != nil {
		return fmt.Errorf("writing revision %s: %w", rev.Version, err)
	}
	q := "INSERT INTO `" + RevisionTable + "` (" + revisionColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	if _, err := r.conn.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("writing revision %s: %w", rev.Version, err)
	}
	return nil
}

// DeleteRevision implements migrate.RevisionReadWriter.
func (r *revisions) DeleteRevision(ctx context.Context, version string) error {
	if _, err := r.conn.ExecContext(ctx, "DELETE FROM `"+RevisionTable+"` WHERE `version` = ?", version); err != nil {
		return fmt.Errorf("deleting revision %s: %w", version, err)
	}
	return nil
}

func (r *revisions) query(ctx context.Context, q string, args ...any) ([]*migrate.Revision, error) {
	rows, err := r.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", RevisionTable, err)
	}
	defer func() { _ = rows.Close() }()
	var revs []*migrate.Revision
	for rows.Next() {
		var (
			rev                  migrate.Revision
			typ                  uint64
			execTime             int64
			errText, errStmt     sql.NullString
			partial              sql.NullString
			executedAt           any
			applied, total       int64
			version, description string
		)
		if err := rows.Scan(&version, &description, &typ, &applied, &total, &executedAt, &execTime,
			&errText, &errStmt, &rev.Hash, &partial, &rev.OperatorVersion); err != nil {
			return nil, fmt.Errorf("reading %s: %w", RevisionTable, err)
		}
		rev.Version, rev.Description = version, description
		rev.Type = migrate.RevisionType(typ)
		rev.Applied, rev.Total = int(applied), int(total)
		rev.ExecutionTime = time.Duration(execTime)
		rev.Error, rev.ErrorStmt = errText.String, errStmt.String
		rev.ExecutedAt = scanTime(executedAt)
		if partial.Valid && partial.String != "" {
			if err := json.Unmarshal([]byte(partial.String), &rev.PartialHashes); err != nil {
				return nil, fmt.Errorf("reading %s: partial hashes of %s: %w", RevisionTable, rev.Version, err)
			}
		}
		revs = append(revs, &rev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", RevisionTable, err)
	}
	return revs, nil
}

// scanTime reads a timestamp as either driver returns it; an unreadable one
// is the zero time (it is only shown in reports).
func scanTime(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t
	case string:
		return parseTime(t)
	case []byte:
		return parseTime(string(t))
	}
	return time.Time{}
}

func parseTime(s string) time.Time {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
