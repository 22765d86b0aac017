package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
)

func get(t *testing.T, e *apptest.Env, path string) (int, string, http.Header) {
	t.Helper()
	resp, err := e.Server.Client().Get(e.Server.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body), resp.Header
}

func TestOperationalEndpoints(t *testing.T) {
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true})
	l := e.Login(t, "", "alice")
	requireMe(t, e, l.Skey, l.User.ID)

	status, _, _ := get(t, e, "/healthz")
	require.Equal(t, http.StatusOK, status)

	status, body, _ := get(t, e, "/readyz")
	require.Equal(t, http.StatusOK, status, body)

	status, body, _ = get(t, e, "/metrics")
	require.Equal(t, http.StatusOK, status)
	for _, name := range []string{"wxid_http_request_duration_seconds", "wxid_session_resolutions_total",
		"wxid_cache_operations_total", "wxid_wechat_requests_total", "wxid_sessions_issued_total"} {
		require.Contains(t, body, name)
	}
	require.NotContains(t, body, l.Skey)
	require.NotContains(t, body, "secret-of-app")

	status, body, _ = get(t, e, "/")
	require.Equal(t, http.StatusOK, status)
	require.True(t, strings.Contains(body, "graphiql") || strings.Contains(body, "GraphiQL"), "playground in development")

	status, _, _ = get(t, e, "/sandbox/wx.login")
	require.Equal(t, http.StatusNotFound, status, "no sandbox when a real AppSecret is configured")

	_, _, header := get(t, e, "/healthz")
	require.Len(t, header.Get("X-Request-Id"), 16, "every answer names its request")

	e.Memcached.Stop()
	status, body, _ = get(t, e, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Contains(t, body, "cache unreachable")
	require.NotContains(t, body, e.Memcached.Addr, "no addresses in answers")
	e.Memcached.Start()
	status, _, _ = get(t, e, "/readyz")
	require.Equal(t, http.StatusOK, status)
}

func TestProductionHidesDevelopmentTools(t *testing.T) {
	e := apptest.New(t, apptest.Options{Env: map[string]string{"WXID_ENV": "production"}})
	status, _, _ := get(t, e, "/")
	require.Equal(t, http.StatusNotFound, status, "no playground in production")
	r := e.Do(t, "", `{ mee { id } }`, nil)
	require.Equal(t, "GRAPHQL_VALIDATION_FAILED", r.Code())
	require.NotContains(t, r.Body, "Did you mean", "no schema hints in production")
}
