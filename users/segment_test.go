package users_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/predicate"
	"github.com/wxid/wxid/ent/user"
	"github.com/wxid/wxid/internal/testenv"
	"github.com/wxid/wxid/users"
)

// TestSegmentScan: a scan reads exactly the users `where` selects, in id
// order, in batches no larger than the batch size, whether the matches
// are dense, sparse, a single user or none, and from any `after`.
func TestSegmentScan(t *testing.T) {
	for _, b := range []struct{ name, url string }{{"sqlite", testenv.SQLite(t)}, {"mysql", testenv.MySQL(t)}} {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db := testenv.OpenDatabase(t, b.url).Client
			svc := users.NewService(db, nil, users.Options{Logger: slog.New(slog.DiscardHandler)})
			const n = 230
			creates := make([]*ent.UserCreate, n)
			for i := range creates {
				// Every 37th user disabled: sparse matches, far apart.
				creates[i] = db.User.Create().SetDisabled(i%37 == 5)
			}
			all, err := db.User.CreateBulk(creates...).Save(ctx)
			require.NoError(t, err)
			for i, u := range all[:50] {
				require.NoError(t, db.OpenID.Create().SetUserID(u.ID).SetAppid("wxa").SetOpenid(fmt.Sprint("o", i)).Exec(ctx))
			}
			yes, mid := true, all[n/2].ID
			cases := []struct {
				name  string
				where *ent.UserWhereInput
				after int
				want  []predicate.User
			}{
				{"all", nil, 0, nil},
				{"sparse", &ent.UserWhereInput{Disabled: &yes}, 0, []predicate.User{user.Disabled(true)}},
				{"one user", &ent.UserWhereInput{ID: &mid}, 0, []predicate.User{user.ID(mid)}},
				{"none", &ent.UserWhereInput{IDGT: &all[n-1].ID}, 0, []predicate.User{user.IDGT(all[n-1].ID)}},
				{"resumed", nil, all[100].ID, []predicate.User{user.IDGT(all[100].ID)}},
				{"an edge", &ent.UserWhereInput{HasOpenIds: &yes}, 0, []predicate.User{user.HasOpenIds()}},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					want, err := db.User.Query().Where(tc.want...).Order(user.ByID()).IDs(ctx)
					require.NoError(t, err)
					scan, err := svc.OpenSegment(ctx, users.Segment{Where: tc.where, After: tc.after})
					require.NoError(t, err)
					scan.SetBatch(7)
					var got []int
					for {
						batch, err := scan.Next(ctx)
						require.NoError(t, err)
						if batch == nil {
							break
						}
						require.LessOrEqual(t, len(batch), 7, "a batch holds at most the batch size")
						require.NotEmpty(t, batch)
						for _, u := range batch {
							got = append(got, u.ID)
							_, err := u.Edges.OpenIdsOrErr()
							require.NoError(t, err, "openids loaded")
						}
					}
					require.Equal(t, orEmpty(want), orEmpty(got))
					// Windows grow past runs without matches: a sparse scan
					// does not cost a statement per batch size of ids.
					require.Less(t, scan.Statements(), 2+2*(len(want)/7+1)+12, "statements")
				})
			}
		})
	}
}

func orEmpty(ids []int) []int {
	if len(ids) == 0 {
		return []int{}
	}
	return ids
}

// TestSegmentScanCanceled: a scan whose context is done (the client went
// away) runs no further statement.
func TestSegmentScanCanceled(t *testing.T) {
	db := testenv.OpenDatabase(t, testenv.SQLite(t)).Client
	svc := users.NewService(db, nil, users.Options{Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, db.User.CreateBulk(db.User.Create(), db.User.Create(), db.User.Create()).Exec(ctx))
	scan, err := svc.OpenSegment(ctx, users.Segment{})
	require.NoError(t, err)
	scan.SetBatch(1)
	batch, err := scan.Next(ctx)
	require.NoError(t, err)
	require.Len(t, batch, 1)
	ran := scan.Statements()
	cancel()
	batch, err = scan.Next(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.Nil(t, batch)
	require.Equal(t, ran, scan.Statements())
}
