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

// hexSkeys are skeys whose sessions the release before binaryTokens wrote.
type hexSkeys struct {
	live, old, successor, other, expired string
	famA                                 string // the family of live, old and successor
	seal                                 *sealer.Sealer
	keys                                 *session.Keys
	now                                  time.Time
}

const testUser, testOpenID = 12884901888 + 1, 1

// seedHex writes, by SQL on the schema before binaryTokens, a user, its
// openid and sessions in hex as that release wrote them: a live skey, an
// skey refreshed a moment ago (its successor sealed under its hex hash),
// that successor, the live skey of another login, an expired one, and a row
// with text that is not hex.
func seedHex(t *testing.T, db *database.DB) *hexSkeys {
	t.Helper()
	seal, err := sealer.New(sealer.GenerateKey())
	require.NoError(t, err)
	h := &hexSkeys{seal: seal, keys: session.NewKeys(seal), now: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC),
		famA: strings.Repeat("a1", 16)}
	for _, s := range []*string{&h.live, &h.old, &h.successor, &h.other, &h.expired} {
		*s, err = h.keys.NewToken()
		require.NoError(t, err)
	}
	now, famB := h.now, strings.Repeat("0f", 16)
	exec := func(q string, args ...any) {
		_, err := db.SQL.Exec(q, args...)
		require.NoError(t, err, q)
	}
	exec("INSERT INTO users (id, created_at, updated_at, disabled) VALUES (?, ?, ?, ?)", testUser, now, now, false)
	exec("INSERT INTO open_ids (id, appid, openid, created_at, updated_at, user_id) VALUES (?, ?, ?, ?, ?, ?)", testOpenID, "wxapp", "o-alice", now, now, testUser)
	row := func(id int64, hash, family string, expires time.Time, sealed []byte) {
		var rotated any
		if sealed != nil {
			rotated = now
		}
		exec("INSERT INTO sessions (id, token_hash, family, created_at, expires_at, absolute_expires_at, rotated_at, successor_token, open_id_id, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			id, hash, family, now.Add(-time.Hour), expires, now.Add(24*time.Hour), rotated, sealed, testOpenID, testUser)
	}
	row(1<<32+1, session.Hash(h.live), h.famA, now.Add(20*time.Minute), nil)
	row(1<<32+2, session.Hash(h.old), h.famA, now.Add(time.Minute), seal.Seal([]byte(h.successor), []byte(session.Hash(h.old))))
	row(1<<32+3, session.Hash(h.successor), h.famA, now.Add(30*time.Minute), nil)
	row(1<<32+4, session.Hash(h.other), famB, now.Add(30*time.Minute), nil)
	row(1<<32+5, session.Hash(h.expired), famB, now.Add(-time.Minute), nil)
	row(1<<32+6, "not hex", "family-x", now, nil) // wxid never wrote one; it must not stop the migration
	return h
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
		h := seedHex(t, db)

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
		require.Equal(t, session.Hash(h.live), hex.EncodeToString(hash))
		require.Equal(t, h.famA, hex.EncodeToString(family))

		h.use(t, db, family)
	})
}

// use drives the migrated sessions through a Manager; family is the bytes
// of h.famA.
func (h *hexSkeys) use(t *testing.T, db *database.DB, family []byte) {
	ctx := context.Background()
	clk := clock.NewFake(h.now)
	m := session.NewManager(db.Client, cache.NewMemory(100, cache.WithClock(clk.Now)), h.seal, session.Options{
		Keys: h.keys, TTL: 30 * time.Minute, MaxAge: 24 * time.Hour, Grace: time.Minute,
		Now: clk.Now, Logger: slog.New(slog.DiscardHandler), RowLocks: db.Dialect == dialect.MySQL,
	})
	for _, s := range []string{h.live, h.old, h.successor, h.other} {
		info, err := m.Resolve(ctx, s)
		require.NoError(t, err)
		require.Equal(t, testUser, info.UserID)
		require.Equal(t, "o-alice", info.OpenID)
	}
	_, err := m.Resolve(ctx, h.expired)
	require.ErrorIs(t, err, session.ErrInvalid)

	next, _, err := m.Refresh(ctx, h.old, session.ClientMeta{})
	require.NoError(t, err)
	require.Equal(t, h.successor, next, "the successor sealed under the hex hash still opens")
	fresh, _, err := m.Refresh(ctx, h.other, session.ClientMeta{})
	require.NoError(t, err)
	_, err = m.Resolve(ctx, fresh)
	require.NoError(t, err)

	require.NoError(t, m.Revoke(ctx, h.live))
	for _, s := range []string{h.live, h.old, h.successor} {
		_, err := m.Resolve(ctx, s)
		require.ErrorIs(t, err, session.ErrInvalid, "logout ends every skey of the login")
	}
	n, err := db.Client.Session.Query().Where(entsession.Family(family), entsession.RevokedAtNotNil()).Count(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	_, err = m.Resolve(ctx, fresh)
	require.NoError(t, err, "another login is untouched")

	issued, _, err := m.Issue(ctx, testUser, testOpenID, "wxapp", "o-alice", session.ClientMeta{})
	require.NoError(t, err)
	_, err = m.Resolve(ctx, issued)
	require.NoError(t, err)
}

// TestOfflineMigrations: an offline migration is announced while pending,
// and once a newer release applied one, this release refuses to start on
// the database, with or without automatic migration.
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
}

// TestNewerOrdinaryMigration: a newer release's ordinary migration leaves
// this release running (a warning).
func TestNewerOrdinaryMigration(t *testing.T) {
	backends(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		require.NoError(t, db.Migrate(ctx))
		_, err := migrator(t, db, withFile(t, db.Dialect, "29990101000000_future.sql", "CREATE TABLE `future` (`id` integer NOT NULL PRIMARY KEY);\n", true)).Up(ctx)
		require.NoError(t, err)
		require.NoError(t, db.CheckMigrated(ctx, nil), "an ordinary newer migration leaves older instances running")
		require.NoError(t, db.Migrate(ctx))
	})
}
