package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/wechat/wechattest"
)

func forwardedFor(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }

func loginFrom(t *testing.T, e *apptest.Env, header http.Header, user string) *apptest.Response {
	t.Helper()
	return e.DoHeader(t, "", apptest.LoginMutation, map[string]any{"code": e.Code(t, apptest.AppID, user)}, header)
}

func requireRateLimited(t *testing.T, r *apptest.Response) {
	t.Helper()
	require.Equal(t, "RATE_LIMITED", r.Code(), r.Body)
	retry, ok := r.Errors[0].Extensions["retryAfter"].(float64)
	require.True(t, ok, "retryAfter is a number: %s", r.Body)
	require.GreaterOrEqual(t, retry, 1.0)
	require.LessOrEqual(t, retry, 120.0)
}

// TestRateLimitAcrossInstances: two instances behind a trusted proxy share
// one budget per client IP in memcached; login and decryptPhoneNumber have
// a budget each; the limit answers RATE_LIMITED before WeChat is called and
// lifts as the window slides; me pays nothing for it.
func TestRateLimitAcrossInstances(t *testing.T) {
	env := map[string]string{"WXID_LOGIN_RATE_LIMIT": "4", "WXID_TRUSTED_PROXIES": "127.0.0.1/32"}
	first := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true, Env: env})
	second := apptest.New(t, apptest.Options{
		Backend: apptest.MySQL, DatabaseURL: first.DatabaseURL, Memcache: first.Memcached,
		WeChat: first.WeChat, Clock: first.Clock, Env: env,
	})
	instances := []*apptest.Env{first, second}
	carol := forwardedFor("198.51.100.1")

	var skey string
	for i := range 4 {
		var out struct{ Login apptest.LoginResult }
		loginFrom(t, instances[i%2], carol, "carol").Decode(t, &out)
		skey = out.Login.Skey
	}
	exchanges := first.WeChat.Count(wechattest.APICode2Session)
	for _, e := range instances {
		requireRateLimited(t, loginFrom(t, e, carol, "carol"))
	}
	require.Equal(t, exchanges, first.WeChat.Count(wechattest.APICode2Session), "a limited login does not reach WeChat")
	apptest.Must(t, loginFrom(t, second, forwardedFor("198.51.100.2"), "dan"))
	requireRateLimited(t, loginFrom(t, second, http.Header{"X-Forwarded-For": {"198.51.100.2, 198.51.100.1"}}, "carol"))

	// decryptPhoneNumber has its own budget.
	for i := range 4 {
		data, iv, err := first.WeChat.EncryptPhone(apptest.AppID, "carol", "+8613800138000", "86")
		require.NoError(t, err)
		r := instances[i%2].DoHeader(t, skey, phoneMutation, phoneVars(data, iv, ""), carol)
		apptest.Must(t, r)
	}
	requireRateLimited(t, first.DoHeader(t, skey, phoneMutation, phoneVars("x", "y", ""), carol))

	// me is not limited and costs the limiter no cache operation.
	incr := func() float64 {
		return counterValue(t, first, "wxid_cache_operations_total", map[string]string{"op": "incr"})
	}
	before := incr()
	for range 20 {
		r := first.DoHeader(t, skey, `{ me { id } }`, nil, carol)
		apptest.Must(t, r)
	}
	require.Equal(t, before, incr())

	first.Clock.Advance(2 * time.Minute)
	apptest.Must(t, loginFrom(t, second, carol, "carol"))
}

// TestRateLimitPeerWithoutTrustedProxies: without trusted proxies
// X-Forwarded-For cannot buy a fresh budget, and a failing cache lets
// logins through (fail open).
func TestRateLimitPeerWithoutTrustedProxies(t *testing.T) {
	e := apptest.New(t, apptest.Options{Memcached: true, Env: map[string]string{"WXID_LOGIN_RATE_LIMIT": "2"}})
	apptest.Must(t, loginFrom(t, e, forwardedFor("198.51.100.1"), "erin"))
	apptest.Must(t, loginFrom(t, e, forwardedFor("198.51.100.2"), "erin"))
	requireRateLimited(t, loginFrom(t, e, forwardedFor("198.51.100.3"), "erin"))

	e.Memcached.Stop()
	for range 3 {
		apptest.Must(t, loginFrom(t, e, nil, "erin"))
	}
	require.Contains(t, e.Logs.String(), "rate limit not enforced: the cache failed")
	require.Equal(t, 3.0, counterValue(t, e, "wxid_rate_limit_checks_total", map[string]string{"op": "login", "result": "error"}))
}
