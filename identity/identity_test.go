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
	"github.com/wxid/wxid/errmap"
	"github.com/wxid/wxid/sealer"
	"github.com/wxid/wxid/session"
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
	seal, err := sealer.New(sealer.GenerateKey())
	require.NoError(t, err)
	sessions := session.NewManager(db.Client, cache.NewMemory(100), seal, session.Options{Keys: session.NewKeys(seal), TTL: time.Minute, MaxAge: time.Hour})
	apps := Apps{Default: "wxa", Secrets: map[string]string{"wxa": "sa", "wxb": "sb"}}
	return NewService(db.Client, up, apps, sessions, seal, Options{}), db.Client
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
