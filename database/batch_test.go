package database_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/internal/testenv"
)

// TestBatch: a batch's statements run in order in the transaction, each
// with its own arguments; its result is the last statement's; a failing
// statement fails the batch and nothing of it survives the rollback; a
// statement holding a semicolon is refused before anything runs.
func TestBatch(t *testing.T) {
	for name, url := range map[string]string{"sqlite": testenv.SQLite(t), "mysql": testenv.NewMySQLDatabase(t).URL} {
		t.Run(name, func(t *testing.T) {
			db := testenv.OpenDatabase(t, url)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Second)
			u, err := db.Client.User.Create().SetCreatedAt(now).SetUpdatedAt(now).Save(ctx)
			require.NoError(t, err)

			later := now.Add(time.Hour)
			err = database.WithTx(ctx, db.Client, nil, func(tx *ent.Tx) error {
				b := database.NewBatch(db.Dialect)
				b.Add("UPDATE `users` SET `nickname` = ? WHERE `id` = ?", "a;b'c", u.ID)
				b.Add("UPDATE `users` SET `last_login_at` = ? WHERE `id` = ? AND `disabled` = ?", later, u.ID, false)
				b.Add("INSERT INTO `audit_events` (`kind`, `at`, `actor`, `new_user`, `user_id`) VALUES (?, ?, ?, ?, ?)", "LOGIN", now, "system", false, u.ID)
				res, err := b.Exec(ctx, tx)
				require.NoError(t, err)
				n, err := res.RowsAffected()
				require.NoError(t, err)
				require.EqualValues(t, 1, n)
				id, err := res.LastInsertId()
				require.NoError(t, err)
				ev, err := tx.AuditEvent.Get(ctx, int(id))
				require.NoError(t, err, "the result's ID is the last INSERT's")
				require.Equal(t, u.ID, *ev.UserID)
				return nil
			})
			require.NoError(t, err)
			got := db.Client.User.GetX(ctx, u.ID)
			require.Equal(t, "a;b'c", *got.Nickname, "arguments are never split")
			require.True(t, got.LastLoginAt.Equal(later))

			err = database.WithTx(ctx, db.Client, nil, func(tx *ent.Tx) error {
				b := database.NewBatch(db.Dialect)
				b.Add("UPDATE `users` SET `nickname` = ? WHERE `id` = ?", "gone", u.ID)
				b.Add("INSERT INTO `users` (`id`, `created_at`, `updated_at`) VALUES (?, ?, ?)", u.ID, now, now) // duplicate key
				b.Add("UPDATE `users` SET `nickname` = ? WHERE `id` = ?", "never", u.ID)
				_, err := b.Exec(ctx, tx)
				return err
			})
			require.Error(t, err)
			require.Equal(t, "a;b'c", *db.Client.User.GetX(ctx, u.ID).Nickname, "the failed batch rolled back")

			// A chain: each statement writes only if the one before it
			// matched a row, so one that matches nothing stops the rest,
			// and the last result says so.
			chain := func(match int) (n int64) {
				t.Helper()
				require.NoError(t, database.WithTx(ctx, db.Client, nil, func(tx *ent.Tx) error {
					b := database.NewBatch(db.Dialect)
					b.Add("UPDATE `users` SET `nickname` = ? WHERE `id` = ? AND "+b.Wrote(), "chained", u.ID)
					b.Add("UPDATE `users` SET `last_login_at` = ? WHERE `id` = ? AND "+b.Wrote(), later, match)
					b.Add("INSERT INTO `audit_events` (`kind`, `at`, `actor`, `new_user`, `user_id`) SELECT ?, ?, ?, ?, ? "+b.Constants()+" WHERE "+b.Wrote(),
						"LOGIN", now, "system", false, u.ID)
					b.Add("UPDATE `users` SET `nickname` = ? WHERE `id` = ? AND "+b.Wrote(), "end of chain", u.ID)
					res, err := b.Exec(ctx, tx)
					require.NoError(t, err)
					n, err = res.RowsAffected()
					return err
				}))
				return n
			}
			events := db.Client.AuditEvent.Query().CountX(ctx)
			require.Zero(t, chain(u.ID+1000), "the second statement matched nothing")
			require.Equal(t, "chained", *db.Client.User.GetX(ctx, u.ID).Nickname, "the first wrote")
			require.Equal(t, events, db.Client.AuditEvent.Query().CountX(ctx), "nothing past the break")
			require.EqualValues(t, 1, chain(u.ID))
			require.Equal(t, "end of chain", *db.Client.User.GetX(ctx, u.ID).Nickname)
			require.Equal(t, events+1, db.Client.AuditEvent.Query().CountX(ctx))
			_, err = db.Client.User.UpdateOneID(u.ID).SetNickname("a;b'c").Save(ctx)
			require.NoError(t, err)

			err = database.WithTx(ctx, db.Client, nil, func(tx *ent.Tx) error {
				b := database.NewBatch(db.Dialect)
				b.Add("UPDATE `users` SET `nickname` = 'x' WHERE `id` = 1; DELETE FROM `users`")
				_, err := b.Exec(ctx, tx)
				return err
			})
			require.ErrorContains(t, err, "semicolon")
			require.Equal(t, 1, db.Client.User.Query().CountX(ctx))
		})
	}
}
