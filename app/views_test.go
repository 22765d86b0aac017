package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/internal/testenv"
	"github.com/wxid/wxid/users"
)

// viewMe is what the view tests read of me.
type viewMe struct {
	ID          string
	Nickname    *string
	AvatarURL   *string
	PhoneNumber *string
	LastLoginAt *time.Time
	UnionID     *string
	OpenIDs     []struct{ AppID, OpenID string } `json:"openIds"`
}

func ptr[T any](v T) *T { return &v }

const viewMeQuery = `{ me { id nickname avatarUrl phoneNumber lastLoginAt unionId openIds { appId openId } } }`

func readMe(t *testing.T, e *apptest.Env, skey string) viewMe {
	t.Helper()
	var out struct{ Me viewMe }
	apptest.Must(t, e.Do(t, skey, viewMeQuery, nil)).Decode(t, &out)
	return out.Me
}

// cluster is instances sharing MariaDB, memcached, the WeChat stand-in and
// a clock; the last one reaches memcached through a proxy the test cuts.
type cluster struct {
	a, b, cut *apptest.Env
	proxy     *testenv.Proxy
	wechat    *apptest.Upstream
	clock     *apptest.Clock
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	mc := testenv.StartMemcached(t)
	clk := apptest.NewClock()
	up := apptest.NewUpstream(t, clk)
	c := &cluster{wechat: up, clock: clk}
	c.a = apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcache: mc, WeChat: up, Clock: clk})
	shared := apptest.Options{Backend: apptest.MySQL, Memcache: mc, WeChat: up, Clock: clk, DatabaseURL: c.a.DatabaseURL}
	c.b = apptest.New(t, shared)
	c.proxy = testenv.StartProxy(t, mc.Addr)
	shared.Memcache = nil
	shared.Env = map[string]string{"WXID_MEMCACHED": c.proxy.Addr}
	c.cut = apptest.New(t, shared)
	return c
}

// cached makes e cache the user's view, as it does once the last write's
// tombstone has expired (here: removed), and checks that e answers from
// the cache: a change made behind its back does not show.
func cached(t *testing.T, e *apptest.Env, skey, id string) viewMe {
	t.Helper()
	n, err := strconv.Atoi(id)
	require.NoError(t, err)
	require.NoError(t, e.App.Cache.Delete(context.Background(), users.ViewKey(n)))
	before := readMe(t, e, skey)
	_, err = e.App.DB.SQL.ExecContext(context.Background(), "UPDATE users SET avatar_url = 'https://behind.example/x.png' WHERE id = ?", n)
	require.NoError(t, err)
	require.Equal(t, before, readMe(t, e, skey), "b answers from its cache")
	_, err = e.App.DB.SQL.ExecContext(context.Background(), "UPDATE users SET avatar_url = ? WHERE id = ?", before.AvatarURL, n)
	require.NoError(t, err)
	return before
}

// versionOf reads users.version of the user id.
func versionOf(t *testing.T, e *apptest.Env, id string) int64 {
	t.Helper()
	var v int64
	require.NoError(t, e.App.DB.SQL.QueryRowContext(context.Background(), "SELECT version FROM users WHERE id = ?", id).Scan(&v))
	return v
}

// bumps runs a write and checks that it added to the version of each of
// the users: the write feed tells views apart by it.
func bumps(t *testing.T, e *apptest.Env, kind string, write func(), ids ...string) {
	t.Helper()
	before := make([]int64, len(ids))
	for i, id := range ids {
		before[i] = versionOf(t, e, id)
	}
	write()
	for i, id := range ids {
		require.Greater(t, versionOf(t, e, id), before[i], "%s adds to the version of user %s", kind, id)
	}
}

// TestUserViewWritesShowOnTheNextRequestEverywhere: every kind of write of
// a user on one instance adds to its version and shows on the next me of
// another instance that had the user's view cached.
func TestUserViewWritesShowOnTheNextRequestEverywhere(t *testing.T) {
	c := newCluster(t)
	a, b := c.a, c.b
	alice := a.Login(t, "", "alice")

	c.clock.Advance(time.Minute)
	old := cached(t, b, alice.Skey, alice.User.ID)
	bumps(t, a, "login", func() { a.Login(t, "", "alice") }, alice.User.ID)
	require.True(t, readMe(t, b, alice.Skey).LastLoginAt.After(*old.LastLoginAt), "login: lastLoginAt")

	cached(t, b, alice.Skey, alice.User.ID)
	bumps(t, a, "login in another app", func() { a.Login(t, apptest.AppID2, "alice") }, alice.User.ID)
	require.Len(t, readMe(t, b, alice.Skey).OpenIDs, 2, "login in another app: the new openid")

	cached(t, b, alice.Skey, alice.User.ID)
	vars := phoneVars("", "", c.wechat.PhoneCode(apptest.AppID, "alice", "+8613800138000", "86"))
	bumps(t, a, "decryptPhoneNumber", func() { decryptPhone(t, a, alice.Skey, vars) }, alice.User.ID)
	require.Equal(t, ptr("+8613800138000"), readMe(t, b, alice.Skey).PhoneNumber, "decryptPhoneNumber")

	cached(t, b, alice.Skey, alice.User.ID)
	bumps(t, a, "updateProfile", func() {
		apptest.Must(t, a.Do(t, alice.Skey, `mutation { updateProfile(input: {nickname: "Alice", avatarUrl: "https://img.example/a.png"}) { id } }`, nil))
	}, alice.User.ID)
	got := readMe(t, b, alice.Skey)
	require.Equal(t, ptr("Alice"), got.Nickname, "updateProfile")
	require.Equal(t, ptr("https://img.example/a.png"), got.AvatarURL)

	bob := a.Login(t, apptest.AppNoUnion, "bob")
	cached(t, b, alice.Skey, alice.User.ID)
	cached(t, b, bob.Skey, bob.User.ID)
	bumps(t, a, "mergeUsers", func() {
		apptest.Must(t, a.Do(t, apptest.AdminToken, `mutation($k: ID!, $m: ID!) { mergeUsers(keepId: $k, mergeId: $m) { id } }`,
			map[string]any{"k": alice.User.ID, "m": bob.User.ID}))
	}, alice.User.ID, bob.User.ID)
	require.Len(t, readMe(t, b, alice.Skey).OpenIDs, 3, "mergeUsers: the kept user gains the openid")
	require.Equal(t, "UNAUTHENTICATED", b.Do(t, bob.Skey, `{ me { id } }`, nil).Code(), "mergeUsers: the merged user is gone")

	cached(t, b, alice.Skey, alice.User.ID)
	bumps(t, a, "disableUser", func() {
		apptest.Must(t, a.Do(t, apptest.AdminToken, `mutation($id: ID!) { disableUser(id: $id) { id } }`, map[string]any{"id": alice.User.ID}))
	}, alice.User.ID)
	require.Equal(t, "UNAUTHENTICATED", b.Do(t, alice.Skey, `{ me { id } }`, nil).Code(), "disableUser")
	bumps(t, a, "enableUser", func() {
		apptest.Must(t, a.Do(t, apptest.AdminToken, `mutation($id: ID!) { enableUser(id: $id) { id } }`, map[string]any{"id": alice.User.ID}))
	}, alice.User.ID)
	again := a.Login(t, "", "alice")
	require.Equal(t, alice.User.ID, readMe(t, b, again.Skey).ID, "enableUser")

	cached(t, b, again.Skey, alice.User.ID)
	bumps(t, a, "deleteMyAccount", func() { apptest.Must(t, a.Do(t, again.Skey, `mutation { deleteMyAccount }`, nil)) }, alice.User.ID)
	require.Equal(t, "UNAUTHENTICATED", b.Do(t, again.Skey, `{ me { id } }`, nil).Code(), "deleteMyAccount")
	carol := b.Login(t, "", "alice")
	require.NotEqual(t, alice.User.ID, carol.User.ID, "the same WeChat account is a new user")
	got = readMe(t, b, carol.Skey)
	require.Nil(t, got.PhoneNumber)
	require.Nil(t, got.Nickname)
}

// TestUserViewWritesOfACutOffInstance: an instance that cannot reach
// memcached writes; the others, whose cache still holds the old view,
// show the write within about a second (the write feed), and so does the
// writer itself at once.
func TestUserViewWritesOfACutOffInstance(t *testing.T) {
	c := newCluster(t)
	alice := c.a.Login(t, "", "alice")
	cached(t, c.b, alice.Skey, alice.User.ID)
	readMe(t, c.cut, alice.Skey)

	c.proxy.Refuse()
	apptest.Must(t, c.cut.Do(t, alice.Skey, `mutation { updateProfile(input: {nickname: "Cut off"}) { id } }`, nil))
	require.Equal(t, ptr("Cut off"), readMe(t, c.cut, alice.Skey).Nickname, "the writer reads the database")
	start := time.Now()
	for _, e := range []*apptest.Env{c.a, c.b} {
		require.Eventually(t, func() bool {
			n := readMe(t, e, alice.Skey).Nickname
			return n != nil && *n == "Cut off"
		}, 3*time.Second, 20*time.Millisecond)
	}
	require.Less(t, time.Since(start), 2*time.Second+500*time.Millisecond, "every instance shows the write within about two seconds")

	c.proxy.Heal()
	require.Eventually(t, func() bool { return c.cut.App.Views.PendingTombstones() == 0 }, 3*time.Second, 20*time.Millisecond,
		"the tombstone is written once memcached is back")
	for _, e := range []*apptest.Env{c.a, c.b, c.cut} {
		require.Equal(t, ptr("Cut off"), readMe(t, e, alice.Skey).Nickname)
	}
}

// nicknameWrites numbers profile writes one at a time; a write's number
// is published once its response has arrived.
type nicknameWrites struct {
	mu   sync.Mutex
	last atomic.Int64
}

// write sets the next number as the caller's nickname through e.
func (w *nicknameWrites) write(t *testing.T, e *apptest.Env, skey string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.last.Load() + 1
	r := e.Do(t, skey, `mutation($n: String!) { updateProfile(input: {nickname: $n}) { id } }`, map[string]any{"n": fmt.Sprint(n)})
	if len(r.Errors) > 0 {
		return fmt.Errorf("updateProfile: %s", r.Body)
	}
	w.last.Store(n)
	return nil
}

// readNotOlder reads the nickname through e and fails when it is older
// than the last write whose response had arrived before the read began.
func (w *nicknameWrites) readNotOlder(t *testing.T, e *apptest.Env, skey string) error {
	floor := w.last.Load()
	r := e.Do(t, skey, `{ me { nickname } }`, nil)
	if len(r.Errors) > 0 {
		return fmt.Errorf("me: %s", r.Body)
	}
	var out struct{ Me viewMe }
	if err := json.Unmarshal(r.Data, &out); err != nil {
		return err
	}
	var got int64
	if out.Me.Nickname != nil {
		_, _ = fmt.Sscan(*out.Me.Nickname, &got)
	}
	if got < floor {
		return fmt.Errorf("read nickname %d after write %d had returned", got, floor)
	}
	return nil
}

// TestUserViewNeverOlderThanAnAnsweredWrite runs profile writes and me
// reads on two instances at once: a read that starts after a write's
// response has arrived never shows an older nickname.
func TestUserViewNeverOlderThanAnAnsweredWrite(t *testing.T) {
	c := newCluster(t)
	alice := c.a.Login(t, "", "alice")
	var (
		writes   nicknameWrites
		wg       sync.WaitGroup
		failures = make(chan error, 64)
	)
	deadline := time.Now().Add(3 * time.Second)
	loop := func(pause time.Duration, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := f(); err != nil {
					failures <- err
					return
				}
				time.Sleep(pause)
			}
		}()
	}
	for i, e := range []*apptest.Env{c.a, c.b} {
		loop(time.Duration(5+10*i)*time.Millisecond, func() error { return writes.write(t, e, alice.Skey) })
		for range 2 {
			loop(0, func() error { return writes.readNotOlder(t, e, alice.Skey) })
		}
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
	require.Greater(t, writes.last.Load(), int64(10))
}

// TestUserViewHitAnswersAsTheDatabase: me with every field answers the
// same from the database and from a cached view.
func TestUserViewHitAnswersAsTheDatabase(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Memcached: backend == apptest.MySQL})
		l := e.Login(t, "", "alice")
		e.Login(t, apptest.AppID2, "alice")
		decryptPhone(t, e, l.Skey, phoneVars("", "", e.WeChat.PhoneCode(apptest.AppID, "alice", "+8613800138000", "86")))
		apptest.Must(t, e.Do(t, l.Skey, `mutation { updateProfile(input: {nickname: "小明 🐼", avatarUrl: "https://img.example/a.png"}) { id } }`, nil))
		const all = `{ me { id phoneNumber purePhoneNumber countryCode phoneVerifiedAt nickname avatarUrl createdAt updatedAt lastLoginAt disabled unionId openIds { appId openId } } }`
		fromDB := apptest.Must(t, e.Do(t, l.Skey, all, nil)).Body // the tombstone of the last write
		id, err := strconv.Atoi(l.User.ID)
		require.NoError(t, err)
		require.NoError(t, e.App.Cache.Delete(context.Background(), users.ViewKey(id)))
		require.Equal(t, fromDB, apptest.Must(t, e.Do(t, l.Skey, all, nil)).Body, "a miss")
		require.Equal(t, fromDB, apptest.Must(t, e.Do(t, l.Skey, all, nil)).Body, "a hit")
		require.Contains(t, fromDB, `"unionId":"`)
		require.Contains(t, fromDB, `"phoneVerifiedAt":"`)
	})
}

// TestUserViewWithoutMemcached: instances without memcached each keep
// their views in process; a write on one shows on the other within the
// write feed's interval, and on the writer at once.
func TestUserViewWithoutMemcached(t *testing.T) {
	clk := apptest.NewClock()
	up := apptest.NewUpstream(t, clk)
	a := apptest.New(t, apptest.Options{Backend: apptest.MySQL, WeChat: up, Clock: clk})
	b := apptest.New(t, apptest.Options{Backend: apptest.MySQL, WeChat: up, Clock: clk, DatabaseURL: a.DatabaseURL})
	alice := a.Login(t, "", "alice")
	cached(t, a, alice.Skey, alice.User.ID)
	cached(t, b, alice.Skey, alice.User.ID)
	apptest.Must(t, a.Do(t, alice.Skey, `mutation { updateProfile(input: {nickname: "In process"}) { id } }`, nil))
	require.Equal(t, ptr("In process"), readMe(t, a, alice.Skey).Nickname, "the writer's own cache has the tombstone")
	start := time.Now()
	require.Eventually(t, func() bool {
		n := readMe(t, b, alice.Skey).Nickname
		return n != nil && *n == "In process"
	}, 3*time.Second, 20*time.Millisecond)
	require.Less(t, time.Since(start), 2*time.Second+500*time.Millisecond, "the other instance learns it from the feed")
}
