package identity

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/openid"
	"github.com/wxid/wxid/errmap"
	"github.com/wxid/wxid/internal/testenv"
	"github.com/wxid/wxid/sealer"
	"github.com/wxid/wxid/session"
	"github.com/wxid/wxid/users"
	"github.com/wxid/wxid/wechat"
)

// fakeUpstream answers jscode2session from a table: code -> session.
type fakeUpstream map[string]wechat.Session

func (f fakeUpstream) Code2Session(_ context.Context, _ wechat.App, code string) (wechat.Session, error) {
	s, ok := f[code]
	if !ok {
		return wechat.Session{}, &wechat.Error{Code: 40029, Msg: "invalid code"}
	}
	return s, nil
}

func newService(t *testing.T, up Upstream) (*Service, *ent.Client) {
	t.Helper()
	db, err := database.Open(context.Background(), "sqlite://:memory:", database.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, db.Migrate(context.Background()))
	return serviceOn(t, db, up), db.Client
}

// serviceOn is a Service on db, whose logins of app "wxa" or "wxb" WeChat
// answers from up.
func serviceOn(t *testing.T, db *database.DB, up Upstream) *Service {
	t.Helper()
	seal, err := sealer.New(sealer.GenerateKey())
	require.NoError(t, err)
	sessions := session.NewManager(db.Client, cache.NewMemory(100), seal, session.Options{Keys: session.NewKeys(seal), TTL: time.Minute, MaxAge: time.Hour})
	apps := Apps{Default: "wxa", Secrets: map[string]string{"wxa": "sa", "wxb": "sb"}}
	return NewService(db.Client, up, apps, sessions, seal, Options{Dialect: db.Dialect})
}

const key = "tiihtNczf5v6AKRyjwEUhQ=="

func TestBinding(t *testing.T) {
	up := fakeUpstream{
		"a-alice": {OpenID: "oa-alice", UnionID: "u-alice", SessionKey: key},
		"b-alice": {OpenID: "ob-alice", UnionID: "u-alice", SessionKey: key},
		"a-bob":   {OpenID: "oa-bob", SessionKey: key},
		"a-bob-u": {OpenID: "oa-bob", UnionID: "u-bob", SessionKey: key},
		"b-bob":   {OpenID: "ob-bob", UnionID: "u-bob", SessionKey: key},
		"a-eve":   {OpenID: "oa-eve", UnionID: "u-alice", SessionKey: key},
	}
	s, db := newService(t, up)
	ctx := context.Background()
	type step struct {
		app, code string
		isNew     bool
		sameAs    string // code of an earlier step whose user this must be
	}
	steps := []step{
		{"wxa", "a-alice", true, ""},
		{"wxa", "a-alice", false, "a-alice"}, // known openid
		{"wxb", "b-alice", false, "a-alice"}, // known unionid, new openid joins
		{"wxa", "a-bob", true, ""},           // no unionid yet
		{"wxa", "a-bob-u", false, "a-bob"},   // unionid appears later: attached
		{"wxb", "b-bob", false, "a-bob"},     // and binds the next app
		{"", "a-alice", false, "a-alice"},    // default app
		{"wxa", "a-eve", false, "a-alice"},   // a new openid with alice's unionid is alice
	}
	users := map[string]int{}
	for i, st := range steps {
		t.Run(fmt.Sprintf("%d %s", i, st.code), func(t *testing.T) {
			res, err := s.Login(ctx, st.app, st.code, session.ClientMeta{})
			require.NoError(t, err)
			require.Equal(t, st.isNew, res.IsNewUser)
			require.NotEmpty(t, res.Skey)
			if st.sameAs != "" {
				require.Equal(t, users[st.sameAs], res.User.ID)
			}
			if _, ok := users[st.code]; !ok {
				users[st.code] = res.User.ID
			}
		})
	}
	n, err := db.User.Query().Count(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
}

func TestLoginInput(t *testing.T) {
	s, _ := newService(t, fakeUpstream{})
	tests := []struct {
		name, app, code, want string
	}{
		{"empty code", "", "", apperr.CodeBadUserInput},
		{"blank code", "", " \t", apperr.CodeBadUserInput},
		{"unknown app", "wxzzz", "c", apperr.CodeBadUserInput},
		{"rejected code", "", "nope", apperr.CodeInvalidCode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Login(context.Background(), tc.app, tc.code, session.ClientMeta{})
			require.Equal(t, tc.want, errmap.Code(err))
		})
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"mysql duplicate", &mysql.MySQLError{Number: 1062}, true},
		{"mysql deadlock", fmt.Errorf("x: %w", &mysql.MySQLError{Number: 1213}), true},
		{"mysql lock wait", &mysql.MySQLError{Number: 1205}, true},
		{"mysql syntax", &mysql.MySQLError{Number: 1064}, false},
		{"sqlite busy", errors.New("database is locked (5) (SQLITE_BUSY)"), true},
		{"sqlite unique", errors.New("constraint failed: UNIQUE constraint failed: open_ids.appid"), true},
		{"other", errors.New("connection refused"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, retryable(tc.err))
		})
	}
}

// TestDayMarks: the LOGIN audit event says whether the login is the
// user's first of the calendar day (Asia/Shanghai) and the first through
// its app account; an account whose last login is unknown (NULL, from
// before the column existed) counts from its creation.
func TestDayMarks(t *testing.T) {
	up := fakeUpstream{"a": {OpenID: "oa", UnionID: "u", SessionKey: key}, "b": {OpenID: "ob", UnionID: "u", SessionKey: key}}
	s, db := newService(t, up)
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	clock := time.Date(2026, 5, 1, 10, 0, 0, 0, loc)
	s.now = func() time.Time { return clock }
	ctx := context.Background()
	type marks struct{ app, first, inApp bool }
	login := func(app, code string, at time.Time) marks {
		t.Helper()
		clock = at
		_, err := s.Login(ctx, app, code, session.ClientMeta{})
		require.NoError(t, err)
		e, err := db.AuditEvent.Query().Order(ent.Desc("id")).First(ctx)
		require.NoError(t, err)
		require.Equal(t, app, *e.AppID)
		return marks{true, e.FirstOfDay, e.FirstInAppOfDay}
	}
	day := time.Date(2026, 5, 1, 0, 0, 0, 0, loc)
	require.Equal(t, marks{true, true, true}, login("wxa", "a", day.Add(10*time.Hour)), "the signup")
	require.Equal(t, marks{true, false, false}, login("wxa", "a", day.Add(11*time.Hour)))
	require.Equal(t, marks{true, false, true}, login("wxb", "b", day.Add(12*time.Hour)), "first in the second app")
	require.Equal(t, marks{true, true, true}, login("wxa", "a", day.Add(23*time.Hour+59*time.Minute+59*time.Second+999*time.Millisecond).Add(time.Millisecond)), "Shanghai's midnight")
	require.Equal(t, marks{true, false, false}, login("wxa", "a", day.Add(25*time.Hour)))
	require.NoError(t, db.OpenID.Update().ClearLastLoginAt().Exec(ctx))
	require.Equal(t, marks{true, false, true}, login("wxb", "b", day.Add(26*time.Hour)), "created yesterday, last login unknown")
	require.Equal(t, marks{true, false, false}, login("wxb", "b", day.Add(27*time.Hour)))
}

// TestBatchedLoginRefusesStaleReads: a returning login reads its user
// without locking, then sends its writes in one batch. Whatever changed
// between the read and the batch (the openid moved to another user, the
// user disabled, another login of the day recorded first), the batch
// writes nothing and the login is retried (errRaced), on both databases:
// on MySQL the UPDATEs are one multi-table statement, on SQLite two.
func TestBatchedLoginRefusesStaleReads(t *testing.T) {
	for _, b := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return testenv.SQLite(t) }},
		{"mysql", func(t *testing.T) string { return testenv.MySQL(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := testenv.OpenDatabase(t, b.url(t))
			ws := wechat.Session{OpenID: "oa-alice", SessionKey: key}
			s := serviceOn(t, db, fakeUpstream{"a-alice": ws, "a-bob": {OpenID: "oa-bob", SessionKey: key}})
			clock := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
			s.now = func() time.Time { return clock }
			ctx := context.Background()
			alice, err := s.Login(ctx, "wxa", "a-alice", session.ClientMeta{})
			require.NoError(t, err)
			bob, err := s.Login(ctx, "wxa", "a-bob", session.ClientMeta{})
			require.NoError(t, err)

			oid := db.Client.OpenID.Query().Where(openid.Openid(ws.OpenID)).OnlyX(ctx)
			type state struct {
				sessions, events int
				version          int64
				sessionKey       string
			}
			snapshot := func() state {
				u, err := db.Client.User.Get(ctx, alice.User.ID)
				require.NoError(t, err)
				o, err := db.Client.OpenID.Get(ctx, oid.ID)
				require.NoError(t, err)
				return state{db.Client.Session.Query().CountX(ctx), db.Client.AuditEvent.Query().CountX(ctx), u.Version, string(o.SessionKey)}
			}
			// batched reads alice's view, applies change, then runs the
			// batched writes of alice's login on the stale view, and
			// returns their error; when they fail, they must have written
			// nothing.
			batched := func(change func() error) error {
				t.Helper()
				var stale *ent.User
				require.NoError(t, database.WithTx(ctx, db.Client, nil, func(tx *ent.Tx) (err error) {
					stale, err = s.view(ctx, tx, users.ByAccount("wxa", ws.OpenID))
					return err
				}))
				require.NotNil(t, stale)
				require.NoError(t, change())
				before := snapshot()
				var bd binding
				err := database.WithTx(ctx, db.Client, nil, func(tx *ent.Tx) error {
					return s.returningBatched(ctx, tx, stale, "wxa", ws, []byte("new sealed key"), session.ClientMeta{}, clock.Truncate(time.Second), &bd)
				})
				if err != nil {
					require.Equal(t, before, snapshot(), "a refused batch writes nothing")
				}
				return err
			}

			require.ErrorIs(t, batched(func() error {
				return db.Client.OpenID.UpdateOneID(oid.ID).SetUserID(bob.User.ID).Exec(ctx)
			}), errRaced, "the openid moved to bob")
			require.NoError(t, db.Client.OpenID.UpdateOneID(oid.ID).SetUserID(alice.User.ID).Exec(ctx))

			require.ErrorIs(t, batched(func() error {
				return db.Client.User.UpdateOneID(alice.User.ID).SetDisabled(true).Exec(ctx)
			}), errRaced, "alice disabled")
			require.NoError(t, db.Client.User.UpdateOneID(alice.User.ID).SetDisabled(false).Exec(ctx))

			clock = clock.Add(24 * time.Hour) // the read sees no login of today
			require.ErrorIs(t, batched(func() error {
				return db.Client.User.UpdateOneID(alice.User.ID).SetLastLoginAt(clock.Add(-time.Minute)).Exec(ctx)
			}), errRaced, "another login of the day was recorded first")
			require.ErrorIs(t, batched(func() error {
				return db.Client.OpenID.UpdateOneID(oid.ID).SetLastLoginAt(clock.Add(-time.Minute)).Exec(ctx)
			}), errRaced, "another login of the day in this app was recorded first")

			before := snapshot()
			require.NoError(t, batched(func() error { return nil }), "nothing changed")
			after := snapshot()
			require.Equal(t, state{before.sessions + 1, before.events + 1, before.version + 1, "new sealed key"}, after)
		})
	}
}
