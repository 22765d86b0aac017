package storetest

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/internal/clock"
	"github.com/wxid/wxid/internal/testenv"
	"github.com/wxid/wxid/sealer"
	"github.com/wxid/wxid/session"
	"github.com/wxid/wxid/users"
)

// backend opens fresh, migrated databases of one kind.
type backend struct {
	name string
	url  func(t *testing.T) string
}

var backends = []backend{
	{"sqlite", func(t *testing.T) string { return testenv.SQLite(t) }},
	{"mysql", func(t *testing.T) string { return testenv.MySQL(t) }},
}

// env is one conformance case's world: a fresh database with its stores,
// and a clock on whole seconds (MySQL keeps timestamps to the second).
type env struct {
	db       *ent.Client
	store    *session.Store
	sessions *session.Manager
	users    *users.Service
	clock    *clock.Fake
	dialect  string
	user     int
	openID   int
}

func newEnv(t *testing.T, b backend) *env {
	t.Helper()
	db := testenv.OpenDatabase(t, b.url(t))
	seal, err := sealer.New(sealer.GenerateKey())
	require.NoError(t, err)
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	rowLocks := db.Dialect == dialect.MySQL
	store := session.NewStore(db.Client, rowLocks)
	mgr := session.NewManager(db.Client, cache.NewMemory(1000, cache.WithClock(clk.Now)), seal, session.Options{
		Keys: session.NewKeys(seal), TTL: 30 * time.Minute, MaxAge: 24 * time.Hour, Grace: time.Minute,
		Now: clk.Now, Logger: slog.New(slog.DiscardHandler), RowLocks: rowLocks,
	})
	e := &env{db: db.Client, store: store, sessions: mgr, clock: clk, dialect: db.Dialect,
		users: users.NewService(db.Client, mgr, users.Options{Logger: slog.New(slog.DiscardHandler)})}
	e.user, e.openID = e.newUser(t, "o-alice")
	return e
}

// newUser creates a user with one openid in app "wxapp".
func (e *env) newUser(t *testing.T, openID string) (userID, openIDID int) {
	t.Helper()
	ctx := context.Background()
	u := e.db.User.Create().SetCreatedAt(e.clock.Now()).SaveX(ctx)
	oid := e.db.OpenID.Create().SetUserID(u.ID).SetAppid("wxapp").SetOpenid(openID).
		SetSessionKey([]byte("sealed")).SaveX(ctx)
	return u.ID, oid.ID
}

// fam is the family a test names name: 16 bytes in hex, as the Manager
// makes them.
func fam(name string) string { return session.Hash(name)[:32] }

// record is a new session record of e's user, issued now.
func (e *env) record(hash, family string) *session.Record {
	now := e.clock.Now()
	return &session.Record{UserID: e.user, OpenIDID: e.openID, TokenHash: hash, Family: fam(family),
		CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute), AbsoluteExpiresAt: now.Add(24 * time.Hour)}
}

func (e *env) create(t *testing.T, r *session.Record) *session.Record {
	t.Helper()
	require.NoError(t, e.store.Create(context.Background(), r, session.ClientMeta{IP: "192.0.2.1", UserAgent: "conformance"}))
	require.NotZero(t, r.ID)
	return r
}

func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Run("session store", func(t *testing.T) { runSessionStore(t, b) })
			t.Run("users", func(t *testing.T) { runUsers(t, b) })
		})
	}
}

// runSessionStore is the behaviour of session.Store on every database.
func runSessionStore(t *testing.T, b backend) {
	ctx := context.Background()

	t.Run("create and find", func(t *testing.T) {
		e := newEnv(t, b)
		want := e.create(t, e.record(session.Hash("a"), "fam-a"))
		got, err := e.store.Find(ctx, want.TokenHash)
		require.NoError(t, err)
		require.Equal(t, want.ID, got.ID)
		require.Equal(t, e.user, got.UserID)
		require.Equal(t, fam("fam-a"), got.Family)
		require.True(t, want.ExpiresAt.Equal(got.ExpiresAt))
		require.True(t, want.AbsoluteExpiresAt.Equal(got.AbsoluteExpiresAt))
		require.Empty(t, got.AppID, "Find reads no account")
		require.Nil(t, got.RevokedAt)
		require.Nil(t, got.RotatedAt)

		require.NoError(t, e.store.Account(ctx, got))
		require.Equal(t, [2]string{"wxapp", "o-alice"}, [2]string{got.AppID, got.OpenID})
		with, err := e.store.FindWithAccount(ctx, want.TokenHash)
		require.NoError(t, err)
		require.Equal(t, got.Info(), with.Info())
		byID, err := e.store.Get(ctx, want.ID)
		require.NoError(t, err)
		require.Equal(t, want.TokenHash, byID.TokenHash)

		rows, err := e.store.List(ctx, []int{want.ID, want.ID + 1000})
		require.NoError(t, err)
		require.Len(t, rows, 1)
		require.Equal(t, want.ID, rows[0].ID)

		_, err = e.store.Find(ctx, session.Hash("unknown"))
		require.ErrorIs(t, err, session.ErrInvalid)
		_, err = e.store.Get(ctx, want.ID+1000)
		require.ErrorIs(t, err, session.ErrInvalid)
		require.Error(t, e.store.Create(ctx, e.record(want.TokenHash, "fam-b"), session.ClientMeta{}), "token hashes are unique")
		require.ErrorContains(t, e.store.Create(ctx, e.record("not a hash", "fam-b"), session.ClientMeta{}), "hex-encoded", "a token hash is 32 bytes in hex")
		short := e.record(session.Hash("b"), "fam-b")
		short.Family = "abcd"
		require.ErrorContains(t, e.store.Create(ctx, short, session.ClientMeta{}), "hex-encoded", "a family is 16 bytes in hex")
	})

	t.Run("a batched issue is chained to the statement before it", func(t *testing.T) {
		e := newEnv(t, b)
		// issue runs a batch of before (when not empty) and the session's
		// chained INSERT, and reports how many rows the INSERT wrote.
		issue := func(before string, args ...any) (issued int64, is session.Issued) {
			t.Helper()
			p, err := e.sessions.Prepare(e.user, e.openID, "wxapp", "o-alice", session.ClientMeta{IP: "192.0.2.1"})
			require.NoError(t, err)
			require.NoError(t, database.WithTx(ctx, e.db, nil, func(tx *ent.Tx) error {
				batch := database.NewBatch(e.dialect)
				if before != "" {
					batch.Add(before, args...)
				}
				p.AddTo(batch)
				res, err := batch.Exec(ctx, tx)
				if err != nil {
					return err
				}
				if issued, err = res.RowsAffected(); err != nil || issued != 1 {
					return err
				}
				id, err := res.LastInsertId()
				is = p.Issued(int(id))
				return err
			}))
			return issued, is
		}
		n, is := issue("")
		require.EqualValues(t, 1, n, "first in its batch, it is written")
		info, err := e.sessions.Resolve(ctx, is.Skey)
		require.NoError(t, err)
		require.Equal(t, is.Info.ID, info.ID)
		require.Equal(t, e.user, info.UserID)

		n, _ = issue("UPDATE `users` SET `version` = `version` + 1 WHERE `id` = ? AND `disabled` = ?", e.user, true)
		require.Zero(t, n, "the statement before it matched nothing")
		n, is = issue("UPDATE `users` SET `version` = `version` + 1 WHERE `id` = ? AND `disabled` = ?", e.user, false)
		require.EqualValues(t, 1, n, "the statement before it matched")
		_, err = e.sessions.Resolve(ctx, is.Skey)
		require.NoError(t, err)
		require.Equal(t, 2, e.db.Session.Query().CountX(ctx))
	})

	t.Run("liveness", func(t *testing.T) {
		e := newEnv(t, b)
		r := e.create(t, e.record(session.Hash("a"), "fam"))
		got, err := e.store.Find(ctx, r.TokenHash)
		require.NoError(t, err)
		require.True(t, got.Live(e.clock.Now()))
		require.True(t, got.Live(got.ExpiresAt.Add(-time.Second)))
		require.False(t, got.Live(got.ExpiresAt), "the expiry itself is dead")
		_, err = e.store.RevokeFamily(ctx, e.user, fam("fam"), e.clock.Now())
		require.NoError(t, err)
		got, err = e.store.Find(ctx, r.TokenHash)
		require.NoError(t, err)
		require.NotNil(t, got.RevokedAt)
		require.False(t, got.Live(e.clock.Now()))
	})

	t.Run("mark rotated", func(t *testing.T) {
		e := newEnv(t, b)
		r := e.create(t, e.record(session.Hash("a"), "fam"))
		grace := e.clock.Now().Add(time.Minute)
		require.NoError(t, e.store.MarkRotated(ctx, r.ID, e.clock.Now(), grace, []byte("sealed successor")))
		got, err := e.store.Find(ctx, r.TokenHash)
		require.NoError(t, err)
		require.NotNil(t, got.RotatedAt)
		require.True(t, got.ExpiresAt.Equal(grace))
		require.Equal(t, []byte("sealed successor"), got.SuccessorToken)
		active, err := e.store.Active(ctx, e.user, e.clock.Now())
		require.NoError(t, err)
		require.Empty(t, active, "a rotated session is not an active one")
	})

	t.Run("transactions commit or roll back", func(t *testing.T) {
		e := newEnv(t, b)
		boom := errors.New("boom")
		err := e.store.Transact(ctx, func(tx *session.Store) error {
			require.NoError(t, tx.Create(ctx, e.record(session.Hash("rolled back"), "fam"), session.ClientMeta{}))
			return boom
		})
		require.ErrorIs(t, err, boom)
		_, err = e.store.Find(ctx, session.Hash("rolled back"))
		require.ErrorIs(t, err, session.ErrInvalid)

		require.Panics(t, func() {
			_ = e.store.Transact(ctx, func(tx *session.Store) error {
				require.NoError(t, tx.Create(ctx, e.record(session.Hash("panicked"), "fam"), session.ClientMeta{}))
				panic("boom")
			})
		})
		_, err = e.store.Find(ctx, session.Hash("panicked"))
		require.ErrorIs(t, err, session.ErrInvalid)

		require.NoError(t, e.store.Transact(ctx, func(tx *session.Store) error {
			return tx.Create(ctx, e.record(session.Hash("committed"), "fam"), session.ClientMeta{})
		}))
		require.NoError(t, e.store.Transact(ctx, func(tx *session.Store) error {
			r, err := tx.Lock(ctx, session.Hash("committed"))
			require.NoError(t, err)
			require.Equal(t, "o-alice", r.OpenID, "Lock reads the account")
			_, err = tx.Lock(ctx, session.Hash("absent"))
			require.ErrorIs(t, err, session.ErrInvalid)
			return nil
		}))
	})

	t.Run("revoke a family", func(t *testing.T) {
		e := newEnv(t, b)
		a1 := e.create(t, e.record(session.Hash("a1"), "fam-a"))
		e.clock.Advance(time.Hour)
		a2 := e.create(t, e.record(session.Hash("a2"), "fam-a"))
		other := e.create(t, e.record(session.Hash("b"), "fam-b"))
		rev, err := e.store.RevokeFamily(ctx, e.user, fam("fam-a"), e.clock.Now())
		require.NoError(t, err)
		require.Equal(t, 1, rev.N, "a1 had expired")
		require.Equal(t, []string{a2.TokenHash}, rev.Hashes)
		require.True(t, a2.AbsoluteExpiresAt.Equal(rev.Until))
		for _, r := range []*session.Record{a1, a2, other} {
			got, err := e.store.Find(ctx, r.TokenHash)
			require.NoError(t, err)
			require.Equal(t, r == a2, got.RevokedAt != nil, r.TokenHash)
		}
		rev, err = e.store.RevokeFamily(ctx, e.user, fam("fam-a"), e.clock.Now())
		require.NoError(t, err)
		require.Zero(t, rev.N)
		require.Empty(t, rev.Hashes)

		feed, err := e.store.RevokedSince(ctx, e.clock.Now())
		require.NoError(t, err)
		require.Len(t, feed, 1, "the revocation feed sees it")
		require.Equal(t, a2.TokenHash, feed[0].Hash)
		require.True(t, e.clock.Now().Equal(feed[0].At))
		feed, err = e.store.RevokedSince(ctx, e.clock.Now().Add(time.Second))
		require.NoError(t, err)
		require.Empty(t, feed)
	})

	t.Run("revoke a user", func(t *testing.T) {
		e := newEnv(t, b)
		mine := []*session.Record{e.create(t, e.record(session.Hash("a"), "f1")), e.create(t, e.record(session.Hash("b"), "f2"))}
		otherUser, otherOID := e.newUser(t, "o-bob")
		theirs := e.record(session.Hash("c"), "f3")
		theirs.UserID, theirs.OpenIDID = otherUser, otherOID
		e.create(t, theirs)
		rev, err := e.store.RevokeUser(ctx, e.user, e.clock.Now())
		require.NoError(t, err)
		require.Equal(t, 2, rev.N)
		require.ElementsMatch(t, []string{mine[0].TokenHash, mine[1].TokenHash}, rev.Hashes)
		active, err := e.store.Active(ctx, otherUser, e.clock.Now())
		require.NoError(t, err)
		require.Len(t, active, 1)
	})

	t.Run("active sessions, newest first", func(t *testing.T) {
		e := newEnv(t, b)
		var want []int
		for _, h := range []string{"a", "b", "c"} {
			want = append(want, e.create(t, e.record(session.Hash(h), "f-"+h)).ID)
			e.clock.Advance(time.Second)
		}
		revoked := e.create(t, e.record(session.Hash("revoked"), "f-r"))
		_, err := e.store.RevokeFamily(ctx, e.user, fam("f-r"), e.clock.Now())
		require.NoError(t, err)
		require.NotZero(t, revoked.ID)
		active, err := e.store.Active(ctx, e.user, e.clock.Now())
		require.NoError(t, err)
		var got []int
		for _, s := range active {
			got = append(got, s.ID)
		}
		slices.Reverse(want)
		require.Equal(t, want, got)
		active, err = e.store.Active(ctx, e.user, e.clock.Now().Add(time.Hour))
		require.NoError(t, err)
		require.Empty(t, active, "expired")
	})

	t.Run("purge deletes what died before the cutoff, in batches", func(t *testing.T) {
		e := newEnv(t, b)
		for _, h := range []string{"a", "b", "c"} {
			e.create(t, e.record(session.Hash(h), "f-"+h))
		}
		e.clock.Advance(time.Hour)
		live := e.create(t, e.record(session.Hash("live"), "f-live"))
		revoked := e.create(t, e.record(session.Hash("revoked"), "f-revoked"))
		_, err := e.store.RevokeFamily(ctx, e.user, fam("f-revoked"), e.clock.Now())
		require.NoError(t, err)
		cutoff := e.clock.Now().Add(-time.Minute) // the first three expired 30 minutes before
		n, err := e.store.PurgeBatch(ctx, cutoff, 2)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		n, err = e.store.PurgeBatch(ctx, cutoff, 2)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		n, err = e.store.PurgeBatch(ctx, cutoff, 2)
		require.NoError(t, err)
		require.Zero(t, n)
		for _, r := range []*session.Record{live, revoked} {
			_, err := e.store.Get(ctx, r.ID)
			require.NoError(t, err, "revoked after the cutoff: kept")
		}
		n, err = e.store.PurgeBatch(ctx, e.clock.Now().Add(time.Second), 10)
		require.NoError(t, err)
		require.Equal(t, 1, n, "the revoked one")
	})
}

// code is an error's extensions.code.
func code(err error) string { return apperr.CodeOf(err) }

// runUsers is the behaviour of users.Service on every database.
func runUsers(t *testing.T, b backend) {
	ctx := context.Background()

	t.Run("me", func(t *testing.T) {
		e := newEnv(t, b)
		e.db.UnionID.Create().SetUserID(e.user).SetUnionid("u-alice").ExecX(ctx)
		u, err := e.users.Me(ctx, e.user, users.Edges{OpenIDs: true, UnionID: true})
		require.NoError(t, err)
		require.Equal(t, e.user, u.ID)
		un, err := e.users.UnionID(ctx, u)
		require.NoError(t, err)
		require.Equal(t, "u-alice", *un)
		ids, err := e.users.OpenIDs(ctx, u)
		require.NoError(t, err)
		require.Len(t, ids, 1)
		require.Nil(t, ids[0].SessionKey, "never the sealed session_key")

		_, err = e.users.Me(ctx, e.user+1000, users.Edges{})
		require.Equal(t, apperr.CodeUnauthenticated, code(err), "a deleted user")
		e.db.User.UpdateOneID(e.user).SetDisabled(true).ExecX(ctx)
		_, err = e.users.Me(ctx, e.user, users.Edges{})
		require.Equal(t, apperr.CodeUnauthenticated, code(err), "a disabled user")
	})

	t.Run("edges loaded or not", func(t *testing.T) {
		e := newEnv(t, b)
		bob, _ := e.newUser(t, "o-bob")
		e.db.OpenID.Create().SetUserID(bob).SetAppid("wxother").SetOpenid("o-bob-2").ExecX(ctx)
		for _, edges := range []users.Edges{{}, {OpenIDs: true, UnionID: true}} {
			u, err := e.users.Me(ctx, bob, edges)
			require.NoError(t, err)
			un, err := e.users.UnionID(ctx, u)
			require.NoError(t, err)
			require.Nil(t, un, "bob has no unionid")
			ids, err := e.users.OpenIDs(ctx, u)
			require.NoError(t, err)
			require.Len(t, ids, 2)
			require.Equal(t, []string{"o-bob", "o-bob-2"}, []string{ids[0].Openid, ids[1].Openid}, "oldest first")
			for _, id := range ids {
				require.Nil(t, id.SessionKey)
			}
		}
	})

	t.Run("disable, enable, revoke", func(t *testing.T) {
		e := newEnv(t, b)
		skey, _, err := e.sessions.Issue(ctx, e.user, e.openID, "wxapp", "o-alice", session.ClientMeta{})
		require.NoError(t, err)
		u, err := e.users.SetDisabled(ctx, e.user, true)
		require.NoError(t, err)
		require.True(t, u.Disabled)
		_, err = e.sessions.Resolve(ctx, skey)
		require.ErrorIs(t, err, session.ErrInvalid, "disabling signs the user out")
		u, err = e.users.SetDisabled(ctx, e.user, false)
		require.NoError(t, err)
		require.False(t, u.Disabled)
		_, err = e.users.SetDisabled(ctx, e.user+1000, true)
		require.Equal(t, apperr.CodeNotFound, code(err))

		for range 2 {
			_, _, err := e.sessions.Issue(ctx, e.user, e.openID, "wxapp", "o-alice", session.ClientMeta{})
			require.NoError(t, err)
		}
		n, err := e.users.RevokeSessions(ctx, e.user)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		n, err = e.users.RevokeSessions(ctx, e.user)
		require.NoError(t, err)
		require.Zero(t, n)
		_, err = e.users.RevokeSessions(ctx, e.user+1000)
		require.Equal(t, apperr.CodeNotFound, code(err))
	})

	t.Run("nodes", func(t *testing.T) {
		e := newEnv(t, b)
		r := e.create(t, e.record(session.Hash("a"), "fam"))
		nodes, err := e.users.Nodes(ctx, []int{r.ID, 999_999, e.user}, users.Edges{UnionID: true})
		require.NoError(t, err)
		require.Len(t, nodes, 3)
		require.Equal(t, r.ID, nodes[0].(*ent.Session).ID)
		require.Nil(t, nodes[1])
		require.Equal(t, e.user, nodes[2].(*ent.User).ID)
		_, err = e.users.Nodes(ctx, make([]int, users.MaxPageSize+1), users.Edges{})
		require.Equal(t, apperr.CodeBadUserInput, code(err))
	})

	t.Run("pages", func(t *testing.T) { runPages(t, newEnv(t, b)) })
}

// runPages walks every order forwards and backwards, two users a page, and
// compares with the order sorted here: (column, id), NULL first.
func runPages(t *testing.T, e *env) {
	ctx := context.Background()
	base := e.clock.Now()
	for i := range 7 {
		c := e.db.User.Create().SetCreatedAt(base.Add(time.Duration(i%3) * time.Minute))
		if i%3 != 1 {
			c.SetLastLoginAt(base.Add(time.Duration(7-i) * time.Hour))
		}
		c.ExecX(ctx)
	}
	all := e.db.User.Query().AllX(ctx)
	key := map[string]func(u *ent.User) (time.Time, bool){
		"":              func(*ent.User) (time.Time, bool) { return time.Time{}, true },
		"CREATED_AT":    func(u *ent.User) (time.Time, bool) { return u.CreatedAt, true },
		"LAST_LOGIN_AT": func(u *ent.User) (time.Time, bool) { return derefTime(u.LastLoginAt) },
	}
	two := 2
	for field, k := range key {
		for _, dir := range []string{"ASC", "DESC"} {
			want := sortedIDs(all, k, dir == "DESC")
			order := &ent.UserOrder{Direction: ent.OrderDirection(dir)}
			switch field {
			case "CREATED_AT":
				order.Field = ent.UserOrderFieldCreatedAt
			case "LAST_LOGIN_AT":
				order.Field = ent.UserOrderFieldLastLoginAt
			}
			t.Run(field+" "+dir+" forwards", func(t *testing.T) {
				var got []int
				p := users.Page{First: &two, OrderBy: order}
				for {
					conn, err := e.users.List(ctx, p, users.All)
					require.NoError(t, err)
					require.Equal(t, len(all), conn.TotalCount)
					for _, edge := range conn.Edges {
						got = append(got, edge.Node.ID)
					}
					if !conn.PageInfo.HasNextPage {
						break
					}
					p.After = conn.PageInfo.EndCursor
				}
				require.Equal(t, want, got)
			})
			t.Run(field+" "+dir+" backwards", func(t *testing.T) {
				var got []int
				p := users.Page{Last: &two, OrderBy: order}
				for {
					conn, err := e.users.List(ctx, p, users.All)
					require.NoError(t, err)
					ids := make([]int, len(conn.Edges))
					for i, edge := range conn.Edges {
						ids[i] = edge.Node.ID
					}
					got = append(ids, got...)
					if !conn.PageInfo.HasPreviousPage {
						break
					}
					p.Before = conn.PageInfo.StartCursor
				}
				require.Equal(t, want, got)
			})
		}
	}

	t.Run("bad pages", func(t *testing.T) {
		big, neg := users.MaxPageSize+1, -1
		for _, p := range []users.Page{{First: &big}, {Last: &neg}, {First: &two, Last: &two}} {
			_, err := e.users.List(ctx, p, users.All)
			require.Equal(t, apperr.CodeBadUserInput, code(err))
		}
	})
	t.Run("where", func(t *testing.T) {
		conn, err := e.users.List(ctx, users.Page{Where: &ent.UserWhereInput{LastLoginAtIsNil: true}}, users.Want{TotalCount: true})
		require.NoError(t, err)
		require.Equal(t, 3, conn.TotalCount, "e's own user and two of the seven")
		require.Empty(t, conn.Edges, "not wanted, not read")
	})
}

func derefTime(t *time.Time) (time.Time, bool) {
	if t == nil {
		return time.Time{}, false
	}
	return *t, true
}

// sortedIDs sorts users by (key, id), NULL (ok false) before every value,
// reversed when desc.
func sortedIDs(all []*ent.User, key func(*ent.User) (time.Time, bool), desc bool) []int {
	s := slices.Clone(all)
	slices.SortFunc(s, func(a, b *ent.User) int {
		ka, oka := key(a)
		kb, okb := key(b)
		switch {
		case oka != okb:
			if !oka {
				return -1
			}
			return 1
		case !ka.Equal(kb):
			return ka.Compare(kb)
		}
		return a.ID - b.ID
	})
	if desc {
		slices.Reverse(s)
	}
	ids := make([]int, len(s))
	for i, u := range s {
		ids[i] = u.ID
	}
	return ids
}
