package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
	"entgo.io/ent/dialect"
	_ "modernc.org/sqlite" // the in-memory database the baseline is replayed into
)

// adoptable decides how Up starts on a database without migration
// history: "" when it holds no tables (apply everything), the baseline's
// version when it holds exactly the baseline's tables (a database created
// by the automatic migration of an earlier release), an error otherwise.
func (m *Migrator) adoptable(ctx context.Context, s *session) (string, error) {
	live, err := userTables(ctx, s.drv)
	if err != nil {
		return "", err
	}
	if len(live.Tables) == 0 {
		return "", nil
	}
	files, err := m.dir.Files()
	if err != nil {
		return "", fmt.Errorf("reading migrations: %w", err)
	}
	if len(files) == 0 {
		return "", fmt.Errorf("the database holds tables (%s) and there are no migrations", live.Tables[0].Name)
	}
	base := files[0]
	want, err := baselineShape(ctx, base.Version())
	if err != nil {
		return "", err
	}
	got := shapeOf(live, m.dialect == dialect.SQLite)
	if diff := want.diff(got, m.dialect == dialect.SQLite); len(diff) > 0 {
		return "", fmt.Errorf("the database has tables but no migration history, and its tables are not those of the baseline migration %s, so it cannot be adopted automatically: %s. "+
			"If it was migrated to a later version by hand, record that version with `wxid migrate baseline VERSION`",
			base.Name(), strings.Join(diff, "; "))
	}
	return base.Version(), nil
}

// shape is what identifies a schema across dialects: tables, their
// columns and foreign keys, and (within one dialect) index names.
type shape map[string]tableShape

type tableShape struct {
	columns, foreignKeys, indexes []string
}

func shapeOf(s *schema.Schema, withIndexes bool) shape {
	out := shape{}
	for _, t := range s.Tables {
		var ts tableShape
		for _, c := range t.Columns {
			ts.columns = append(ts.columns, c.Name)
		}
		for _, fk := range t.ForeignKeys {
			ts.foreignKeys = append(ts.foreignKeys, fk.Symbol)
		}
		if withIndexes {
			for _, idx := range t.Indexes {
				ts.indexes = append(ts.indexes, idx.Name)
			}
		}
		sort.Strings(ts.columns)
		sort.Strings(ts.foreignKeys)
		sort.Strings(ts.indexes)
		out[t.Name] = ts
	}
	return out
}

// diff lists how got differs from the wanted shape s.
func (s shape) diff(got shape, withIndexes bool) []string {
	var out []string
	for name, want := range s {
		have, ok := got[name]
		if !ok {
			out = append(out, fmt.Sprintf("table %s is missing", name))
			continue
		}
		out = append(out, listDiff("table "+name+": column", want.columns, have.columns)...)
		out = append(out, listDiff("table "+name+": foreign key", want.foreignKeys, have.foreignKeys)...)
		if withIndexes {
			out = append(out, listDiff("table "+name+": index", want.indexes, have.indexes)...)
		}
	}
	for name := range got {
		if _, ok := s[name]; !ok {
			out = append(out, fmt.Sprintf("table %s is not in the baseline", name))
		}
	}
	sort.Strings(out)
	return out
}

func listDiff(what string, want, have []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, what+" "+w+" is missing")
		}
	}
	for _, h := range have {
		if !slices.Contains(want, h) {
			out = append(out, what+" "+h+" is not in the baseline")
		}
	}
	return out
}

// baselineShape replays the SQLite migration of version into an in-memory
// SQLite database and returns its shape. Table, column and foreign key
// names are the same in every dialect, so it describes the MySQL baseline
// as well; index names are compared only against SQLite databases.
func baselineShape(ctx context.Context, version string) (shape, error) {
	dir, err := Dir(dialect.SQLite)
	if err != nil {
		return nil, err
	}
	files, err := dir.Files()
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	i := slices.IndexFunc(files, func(f migrate.File) bool { return f.Version() == version })
	if i < 0 {
		return nil, fmt.Errorf("the SQLite migrations have no version %s to compare with", version)
	}
	one := &migrate.MemDir{}
	if err := one.CopyFiles(files[i : i+1]); err != nil {
		return nil, fmt.Errorf("loading migration %s: %w", files[i].Name(), err)
	}
	db, err := sql.Open("sqlite", "file::memory:?_pragma=foreign_keys(1)")
	if err != nil {
		return nil, fmt.Errorf("opening an in-memory SQLite: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening an in-memory SQLite: %w", err)
	}
	defer func() { _ = conn.Close() }()
	drv, err := sqlite.Open(conn)
	if err != nil {
		return nil, fmt.Errorf("opening an in-memory SQLite: %w", err)
	}
	ex, err := migrate.NewExecutor(drv, one, migrate.NopRevisionReadWriter{})
	if err != nil {
		return nil, fmt.Errorf("replaying the baseline: %w", err)
	}
	if err := ex.ExecuteN(ctx, 0); err != nil {
		return nil, fmt.Errorf("replaying the baseline %s: %w", files[i].Name(), err)
	}
	s, err := userTables(ctx, drv)
	if err != nil {
		return nil, err
	}
	return shapeOf(s, true), nil
}
