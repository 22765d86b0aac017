package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ariga.io/atlas/sql/migrate"
	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/testenv"
)

// server is the development MySQL of these tests; they need one, like
// migrategen itself.
func server(t *testing.T) string {
	t.Helper()
	testenv.MySQL(t) // skips, or fails in CI, without a server
	s := os.Getenv("WXID_TEST_MYSQL")
	if s == "" || strings.HasPrefix(s, "mysql://") {
		s = testenv.DefaultMySQL
	}
	return s
}

// copyMigrations copies the committed migrations into a temporary root.
func copyMigrations(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"mysql", "sqlite"} {
		src := filepath.Join("..", "..", "..", "migrations", d)
		entries, err := os.ReadDir(src)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(root, d, e.Name()), b, 0o644))
		}
	}
	return root
}

func sqlFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	require.NoError(t, err)
	return m
}

func TestCommittedMigrationsNeedNothing(t *testing.T) {
	root := copyMigrations(t)
	before := sqlFiles(t, filepath.Join(root, "mysql"))
	require.NoError(t, run(context.Background(), root, "nothing_new", server(t), false))
	require.Equal(t, before, sqlFiles(t, filepath.Join(root, "mysql")))
	require.Len(t, sqlFiles(t, filepath.Join(root, "sqlite")), len(before))
}

func TestGenerateFromNothing(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, run(context.Background(), root, "initial", server(t), false))
	for _, d := range []string{"mysql", "sqlite"} {
		files := sqlFiles(t, filepath.Join(root, d))
		require.Len(t, files, 1, d)
		require.True(t, strings.HasSuffix(files[0], "_initial.sql"))
		b, err := os.ReadFile(files[0])
		require.NoError(t, err)
		require.Contains(t, string(b), "CREATE TABLE `sessions`")
		dir, err := migrate.NewLocalDir(filepath.Join(root, d))
		require.NoError(t, err)
		require.NoError(t, migrate.Validate(dir), "atlas.sum is written with the file")
	}
	my, lite := sqlFiles(t, filepath.Join(root, "mysql")), sqlFiles(t, filepath.Join(root, "sqlite"))
	require.Equal(t, filepath.Base(my[0]), filepath.Base(lite[0]), "one version for both dialects")
}

func TestRehash(t *testing.T) {
	root := copyMigrations(t)
	files := sqlFiles(t, filepath.Join(root, "sqlite"))
	f, err := os.OpenFile(files[0], os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("-- reviewed\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	dir, err := migrate.NewLocalDir(filepath.Join(root, "sqlite"))
	require.NoError(t, err)
	require.ErrorIs(t, migrate.Validate(dir), migrate.ErrChecksumMismatch)
	require.NoError(t, run(context.Background(), root, "", "", true))
	require.NoError(t, migrate.Validate(dir))
}

func TestBadInput(t *testing.T) {
	require.ErrorContains(t, run(context.Background(), t.TempDir(), "Add Column", "", false), "-name is required")
	_, err := newFormatter("2026")
	require.Error(t, err)
}
