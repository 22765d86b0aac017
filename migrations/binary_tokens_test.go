package migrations_test

import (
	"context"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"
	"time"

	"ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/database"
	entsession "github.com/wxid/wxid/ent/session"
	"github.com/wxid/wxid/internal/clock"
	"github.com/wxid/wxid/migrations"
	"github.com/wxid/wxid/sealer"
	"github.com/wxid/wxid/session"
)

// binaryTokens is the name suffix of the migration that stores token
// hashes and families as bytes instead of hex.
const binaryTokens = "_sessions_binary_tokens_offline.sql"

// before returns the embedded migrations up to, not including, the file
// whose name ends with suffix.
func before(t *testing.T, dia, suffix string) migrate.Dir {
	t.Helper()
	dir, err := migrations.Dir(dia)
	require.NoError(t, err)
	files, err := dir.Files()
	require.NoError(t, err)
	var keep []migrate.File
	for _, f := range files {
		if strings.HasSuffix(f.Name(), suffix) {
			out := &migrate.MemDir{}
			require.NoError(t, out.CopyFiles(keep))
			return out
		}
		keep = append(keep, f)
	}
	t.Fatalf("no migration ends with %s", suffix)
	return nil
}

// TestLiveSkeysSurviveBinaryTokens: skeys issued while the table held hex
// keep working after the migration to binary: they resolve, a rotated one
// hands out the successor sealed under its hex hash, logout revokes the
// whole login, an expired one stays dead, and new logins work beside them.
func TestLiveSkeysSurviveBinaryTokens(t *testing.T) {
	backends(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		_, err := migrator(t, db, before(t, db.Dialect, binaryTokens)).Up(ctx)
		require.NoError(t, err)

		seal, err := sealer.New(sealer.GenerateKey())
		require.NoError(t, err)
		keys := session.NewKeys(seal)
		skey := func() string {
			s, err := keys.NewToken()
			require.NoError(t, err)
			return s
		}
		now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
		const uid, oid = 12884901888 + 1, 1
		_, err = db.SQL.Exec("INSERT INTO users (id, created_at, updated_at, disabled) VALUES (?, ?, ?, ?)", uid, now, now, false)
		require.NoError(t, err)
		_, err = db.SQL.Exec("INSERT INTO open_ids (id, appid, openid, created_at, updated_at, user_id) VALUES (?, ?, ?, ?, ?, ?)", oid, "wxapp", "o-alice", now, now, uid)
		require.NoError(t, err)

		live, old, successor, other, expired := skey(), skey(), skey(), skey(), skey()
		famA, famB := strings.Repeat("a1", 16), strings.Repeat("0f", 16)
		rows := []struct {
			id      int64
			skey    string
			family  string
			expires time.Time
			sealed  []byte
		}{
			{1<<32 + 1, live, famA, now.Add(20 * time.Minute), nil},
			// old was refreshed into successor a moment ago: its grace
			// window is open, and a repeated refresh must find successor.
			{1<<32 + 2, old, famA, now.Add(time.Minute), seal.Seal([]byte(successor), []byte(session.Hash(old)))},
			{1<<32 + 3, successor, famA, now.Add(30 * time.Minute), nil},
			{1<<32 + 4, other, famB, now.Add(30 * time.Minute), nil},
			{1<<32 + 5, expired, famB, now.Add(-time.Minute), nil},
		}
		for _, r := range rows {
			var rotated any
			if r.sealed != nil {
				rotated = now
			}
			_, err := db.SQL.Exec("INSERT INTO sessions (id, token_hash, family, created_at, expires_at, absolute_expires_at, rotated_at, successor_token, open_id_id, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				r.id, session.Hash(r.skey), r.family, now.Add(-time.Hour), r.expires, now.Add(24*time.Hour), rotated, r.sealed, oid, uid)
			require.NoError(t, err)
		}

		// A row wxid never wrote, with text that is not hex, does not stop
		// the migration.
		_, err = db.SQL.Exec("INSERT INTO sessions (id, token_hash, family, created_at, expires_at, absolute_expires_at, open_id_id, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			1<<32+6, "not hex", "family-x", now, now, now, oid, uid)
		require.NoError(t, err)

		st, err := migrator(t, db, nil).Status(ctx)
		require.NoError(t, err)
		require.Len(t, st.Offline, 1, "status announces the offline migration")
		require.True(t, strings.HasSuffix(st.Offline[0], binaryTokens))

		applied, err := migrator(t, db, nil).Up(ctx)
		require.NoError(t, err)
		require.NotEmpty(t, applied)
		require.True(t, strings.HasSuffix(applied[0], binaryTokens), "%v", applied)
		require.Empty(t, entDiff(t, db))

		// The columns hold the bytes the hex spelled.
		var hash, family []byte
		require.NoError(t, db.SQL.QueryRow("SELECT token_hash, family FROM sessions WHERE id = ?", 1<<32+1).Scan(&hash, &family))
		require.Equal(t, session.Hash(live), hex.EncodeToString(hash))
		require.Equal(t, famA, hex.EncodeToString(family))

		clk := clock.NewFake(now)
		m := session.NewManager(db.Client, cache.NewMemory(100, cache.WithClock(clk.Now)), seal, session.Options{
			Keys: keys, TTL: 30 * time.Minute, MaxAge: 24 * time.Hour, Grace: time.Minute,
			Now: clk.Now, Logger: slog.New(slog.DiscardHandler), RowLocks: db.Dialect == dialect.MySQL,
		})
		for _, s := range []string{live, old, successor, other} {
			info, err := m.Resolve(ctx, s)
			require.NoError(t, err)
			require.Equal(t, uid, info.UserID)
			require.Equal(t, "o-alice", info.OpenID)
		}
		_, err = m.Resolve(ctx, expired)
		require.ErrorIs(t, err, session.ErrInvalid)

		next, _, err := m.Refresh(ctx, old, session.ClientMeta{})
		require.NoError(t, err)
		require.Equal(t, successor, next, "the successor sealed under the hex hash still opens")
		fresh, _, err := m.Refresh(ctx, other, session.ClientMeta{})
		require.NoError(t, err)
		_, err = m.Resolve(ctx, fresh)
		require.NoError(t, err)

		require.NoError(t, m.Revoke(ctx, live))
		for _, s := range []string{live, old, successor} {
			_, err := m.Resolve(ctx, s)
			require.ErrorIs(t, err, session.ErrInvalid, "logout ends every skey of the login")
		}
		n, err := db.Client.Session.Query().Where(entsession.Family(family), entsession.RevokedAtNotNil()).Count(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		_, err = m.Resolve(ctx, fresh)
		require.NoError(t, err, "another login is untouched")

		issued, _, err := m.Issue(ctx, uid, oid, "wxapp", "o-alice", session.ClientMeta{})
		require.NoError(t, err)
		_, err = m.Resolve(ctx, issued)
		require.NoError(t, err)
	})
}

// TestOfflineMigrations: an offline migration is announced while pending,
// and once a newer release applied one, this release refuses to start on
// the database, with or without automatic migration; a newer release's
// ordinary migration is only a warning.
func TestOfflineMigrations(t *testing.T) {
	require.True(t, migrations.Offline("20261122071647_sessions_binary_tokens_offline.sql"))
	require.True(t, migrations.Offline("sessions_binary_tokens_offline"))
	require.False(t, migrations.Offline("20261122054402_admin_search_indexes.sql"))
	backends(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		require.NoError(t, db.Migrate(ctx))
		const name = "29990101000000_future_offline.sql"
		newer := migrator(t, db, withFile(t, db.Dialect, name, "CREATE TABLE `future` (`id` integer NOT NULL PRIMARY KEY);\n", true))
		st, err := newer.Status(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{name}, st.Offline)
		_, err = newer.Up(ctx)
		require.NoError(t, err)

		st, err = migrator(t, db, nil).Status(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"29990101000000_future_offline"}, st.Incompatible)
		require.ErrorContains(t, db.CheckMigrated(ctx, nil), "offline migration")
		require.ErrorContains(t, db.Migrate(ctx), "offline migration")
	})
	backends(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		require.NoError(t, db.Migrate(ctx))
		_, err := migrator(t, db, withFile(t, db.Dialect, "29990101000000_future.sql", "CREATE TABLE `future` (`id` integer NOT NULL PRIMARY KEY);\n", true)).Up(ctx)
		require.NoError(t, err)
		require.NoError(t, db.CheckMigrated(ctx, nil), "an ordinary newer migration leaves older instances running")
		require.NoError(t, db.Migrate(ctx))
	})
}
