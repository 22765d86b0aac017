package migrations

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"ariga.io/atlas/sql/migrate"
)

// Status is where a database stands against the migrations.
type Status struct {
	// Current is the version of the last migration recorded in the
	// database; "" when none is.
	Current string
	// Latest is the version of the last migration file.
	Latest string
	// Applied counts the revisions recorded in the database.
	Applied int
	// Pending names the files not yet applied, in order.
	Pending []string
	// Unknown lists versions recorded in the database that no file has:
	// a newer release migrated it (normal while a rollout is under way).
	Unknown []string
	// Incompatible lists the Unknown versions that are offline
	// migrations (see Offline): this release cannot run on the database.
	Incompatible []string
	// Offline lists the pending files that are offline migrations: every
	// instance must be stopped before they are applied. Empty for an empty
	// database.
	Offline []string
	// Adopt is true when the database holds tables but no history: Up
	// adopts it if its tables are the baseline's.
	Adopt bool
	// Problems are what Up cannot fix by itself: files that do not match
	// atlas.sum, files edited after they were applied, failed or partial
	// migrations, files added out of order.
	Problems []string
}

// Behind reports whether `wxid migrate` has work to do: migrations are
// pending or the database is still to be adopted.
func (s *Status) Behind() bool { return len(s.Pending) > 0 || s.Adopt }

// OK reports whether the database is up to date and sound.
func (s *Status) OK() bool { return !s.Behind() && len(s.Problems) == 0 }

// Write prints the status for an operator.
func (s *Status) Write(w io.Writer) {
	current := s.Current
	if current == "" {
		current = "none"
	}
	fmt.Fprintf(w, "current version: %s (%d revisions recorded)\n", current, s.Applied)
	fmt.Fprintf(w, "latest version:  %s\n", s.Latest)
	if s.Adopt {
		fmt.Fprintln(w, "the database has tables but no migration history: `wxid migrate` adopts it as the baseline if its tables match")
	}
	fmt.Fprintf(w, "pending:         %d\n", len(s.Pending))
	for _, p := range s.Pending {
		fmt.Fprintf(w, "  %s\n", p)
	}
	for _, o := range s.Offline {
		fmt.Fprintf(w, "offline migration pending: %s (stop every wxid instance before `wxid migrate`; see the README's Migrations)\n", o)
	}
	for _, u := range s.Unknown {
		fmt.Fprintf(w, "applied by a newer release: %s\n", u)
	}
	for _, u := range s.Incompatible {
		fmt.Fprintf(w, "this release cannot run on the database: %s is an offline migration of a newer release\n", u)
	}
	for _, p := range s.Problems {
		fmt.Fprintf(w, "PROBLEM: %s\n", p)
	}
	switch {
	case len(s.Problems) > 0:
		fmt.Fprintln(w, "status: problems")
	case s.Behind():
		fmt.Fprintln(w, "status: behind (run `wxid migrate`)")
	default:
		fmt.Fprintln(w, "status: up to date")
	}
}

// Status reads where the database stands. It changes nothing.
func (m *Migrator) Status(ctx context.Context) (*Status, error) {
	s, err := m.open(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = s.conn.Close() }()
	st := &Status{}
	if err := migrate.Validate(m.dir); err != nil {
		st.Problems = append(st.Problems, checksumProblem(err))
	}
	files, err := m.dir.Files()
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	if len(files) > 0 {
		st.Latest = files[len(files)-1].Version()
	}
	revs, err := s.revs.ReadRevisions(ctx)
	if err != nil {
		return nil, err
	}
	st.Applied = len(revs)
	if len(revs) == 0 {
		live, err := userTables(ctx, s.drv)
		if err != nil {
			return nil, err
		}
		st.Adopt = len(live.Tables) > 0
		for i, f := range files {
			if st.Adopt && i == 0 {
				continue // the baseline is adopted, not applied
			}
			st.Pending = append(st.Pending, f.Name())
		}
		if st.Adopt {
			// An empty database has no instances running on it.
			st.markOffline()
		}
		return st, nil
	}
	sums, err := m.dir.Checksum()
	if err != nil {
		return nil, fmt.Errorf("hashing migrations: %w", err)
	}
	st.compare(files, revs, sums)
	st.markOffline()
	return st, nil
}

// Offline reports whether the migration named name (a file name or a
// revision's description) is an offline one: its name ends with
// "_offline". An offline migration changes the schema in a way the release
// before it cannot work with (a column's type, say), so it is applied with
// every instance stopped, and an instance of an older release refuses to
// start on a database that has it.
func Offline(name string) bool {
	return strings.HasSuffix(strings.TrimSuffix(name, ".sql"), "_offline")
}

// markOffline fills Offline from Pending.
func (s *Status) markOffline() {
	for _, p := range s.Pending {
		if Offline(p) {
			s.Offline = append(s.Offline, p)
		}
	}
}

// compare fills st from the files and the recorded revisions.
func (st *Status) compare(files []migrate.File, revs []*migrate.Revision, sums migrate.HashFile) {
	st.Current = revs[len(revs)-1].Version
	byVersion := map[string]*migrate.Revision{}
	for _, r := range revs {
		byVersion[r.Version] = r
	}
	baseline := ""
	if revs[0].Type.Has(migrate.RevisionTypeBaseline) {
		baseline = revs[0].Version
	}
	known := map[string]bool{}
	for _, f := range files {
		v := f.Version()
		known[v] = true
		r, ok := byVersion[v]
		switch {
		case ok:
			st.Problems = append(st.Problems, revisionProblems(f, r, sums)...)
			if r.Applied < r.Total || r.Error != "" {
				st.Pending = append(st.Pending, f.Name())
			}
		case v <= baseline:
			// Covered by the baseline.
		case v < st.Current:
			st.Problems = append(st.Problems, fmt.Sprintf("%s was added out of order: it is older than the applied %s; give it a newer version", f.Name(), st.Current))
			st.Pending = append(st.Pending, f.Name())
		default:
			st.Pending = append(st.Pending, f.Name())
		}
	}
	for _, r := range revs {
		if !known[r.Version] {
			st.Unknown = append(st.Unknown, r.Version+"_"+r.Description)
			if Offline(r.Description) {
				st.Incompatible = append(st.Incompatible, r.Version+"_"+r.Description)
			}
		}
	}
}

// revisionProblems checks an applied file against its revision.
func revisionProblems(f migrate.File, r *migrate.Revision, sums migrate.HashFile) []string {
	var out []string
	if r.Error != "" {
		out = append(out, fmt.Sprintf("%s failed at statement %d of %d: %s (fix the cause, then run `wxid migrate` again: it resumes at that statement)",
			f.Name(), r.Applied+1, r.Total, firstLine(r.Error)))
	} else if r.Applied < r.Total {
		out = append(out, fmt.Sprintf("%s is partially applied (%d of %d statements): run `wxid migrate` to finish it", f.Name(), r.Applied, r.Total))
	}
	if edited(f, r, sums) {
		out = append(out, fmt.Sprintf("%s was changed after it was applied: never edit an applied migration, add a new one", f.Name()))
	}
	return out
}

// edited reports whether file f differs from the file revision r ran.
func edited(f migrate.File, r *migrate.Revision, sums migrate.HashFile) bool {
	if !r.Type.Has(migrate.RevisionTypeExecute) || r.Hash == "" {
		return false
	}
	h, err := sums.SumByName(f.Name())
	return err == nil && h != r.Hash
}

// checkHistory refuses migration files edited after they were applied.
func checkHistory(dir migrate.Dir, revs []*migrate.Revision) error {
	if len(revs) == 0 {
		return nil
	}
	files, err := dir.Files()
	if err != nil {
		return fmt.Errorf("reading migrations: %w", err)
	}
	sums, err := dir.Checksum()
	if err != nil {
		return fmt.Errorf("hashing migrations: %w", err)
	}
	byVersion := map[string]*migrate.Revision{}
	for _, r := range revs {
		byVersion[r.Version] = r
	}
	for _, f := range files {
		if r, ok := byVersion[f.Version()]; ok && edited(f, r, sums) {
			return fmt.Errorf("%s was changed after it was applied: never edit an applied migration, add a new one", f.Name())
		}
	}
	return nil
}

func checksumProblem(err error) string {
	var ce *migrate.ChecksumError
	switch {
	case errors.As(err, &ce):
		how := map[migrate.Reason]string{migrate.ReasonAdded: "added", migrate.ReasonEdited: "edited", migrate.ReasonRemoved: "removed"}[ce.Reason]
		if how == "" {
			how = "changed"
		}
		return fmt.Sprintf("the migration files do not match atlas.sum: %s was %s without updating the checksum", ce.File, how)
	case errors.Is(err, migrate.ErrChecksumNotFound):
		return "atlas.sum is missing"
	}
	return "the migration files do not match atlas.sum: " + err.Error()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
