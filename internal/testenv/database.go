package testenv

import (
	"context"
	"testing"

	"github.com/wxid/wxid/database"
)

// OpenDatabase opens the database at url (from SQLite or MySQL), creates
// wxid's schema in it and closes it when the test ends.
func OpenDatabase(t testing.TB, url string) *database.DB {
	t.Helper()
	ctx := context.Background()
	db, err := database.Open(ctx, url, database.Options{})
	if err != nil {
		t.Fatalf("testenv: opening the database: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("testenv: migrating the database: %v", err)
	}
	return db
}
