// Package apptest runs a whole wxid for integration tests: the real HTTP
// handler on a loopback server, a real database (SQLite or a fresh
// MySQL/MariaDB database), the in-process cache or a private memcached, and
// the wechattest stand-in as WeChat, reached over real HTTP.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/app"
	"github.com/wxid/wxid/config"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/internal/clock"
	"github.com/wxid/wxid/internal/testenv"
	"github.com/wxid/wxid/wechat/wechattest"
)

// Backends of the integration suite.
const (
	SQLite = "sqlite"
	MySQL  = "mysql"
)

// Test apps: two mini-programs of one open platform (shared unionids) and
// a third without one.
const (
	AppID       = "wx1111111111111111"
	AppID2      = "wx2222222222222222"
	AppNoUnion  = "wx3333333333333333"
	AdminToken  = "admin-token-0123456789abcdef"
	appSecret   = "secret-of-app-one-0000000000000"
	appSecret2  = "secret-of-app-two-0000000000000"
	appSecret3  = "secret-of-app-three-00000000000"
	openPlatfom = "open-platform-1"
)

// TestSecretKey is the WXID_SECRET_KEY of every Env (32 bytes, base64).
const TestSecretKey = "d3hpZC10ZXN0LXNlY3JldC1rZXktMzItYnl0ZXMhISE="

// Options choose the services of an Env.
type Options struct {
	// Backend is SQLite (default) or MySQL.
	Backend string
	// Memcached runs a private memcached instead of the in-process cache.
	Memcached bool
	// Env sets extra WXID_* variables (without the prefix is not accepted:
	// give full names, e.g. "WXID_SESSION_TTL").
	Env map[string]string
	// Database tunes the database connection.
	Database database.Options
	// CountQueries wraps the database driver with Env.Queries.
	CountQueries bool
	// Memcache reuses a running memcached (several instances share it).
	Memcache *testenv.Memcached
	// WeChat reuses a running stand-in (several instances share it).
	WeChat *Upstream
	// DatabaseURL reuses a database (several instances share it).
	DatabaseURL string
	// Clock reuses a clock (several instances that share state should
	// share one).
	Clock *Clock
}

// Upstream is the WeChat stand-in on a loopback HTTP server.
type Upstream struct {
	*wechattest.Server
	// URL is its base URL.
	URL string
}

// NewUpstream starts the stand-in with the test apps.
func NewUpstream(t testing.TB, clock *Clock) *Upstream {
	t.Helper()
	s := wechattest.New(wechattest.WithClock(clock.Now), wechattest.WithDefaultApp(AppID))
	s.AddApp(AppID, appSecret, openPlatfom)
	s.AddApp(AppID2, appSecret2, openPlatfom)
	s.AddApp(AppNoUnion, appSecret3, "")
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &Upstream{Server: s, URL: srv.URL}
}

// Env is a running wxid and its services.
type Env struct {
	// App is the assembled wxid.
	App *app.App
	// Server serves App's handler on loopback.
	Server *httptest.Server
	// WeChat is the stand-in.
	WeChat *Upstream
	// Memcached is the private memcached, when Options.Memcached.
	Memcached *testenv.Memcached
	// Clock drives sessions, logins and the stand-in.
	Clock *Clock
	// DatabaseURL is the database wxid runs on.
	DatabaseURL string
	// Backend is SQLite or MySQL.
	Backend string
	// Logs collects the server log.
	Logs *SyncBuffer
	// Queries counts SQL statements when Options.CountQueries.
	Queries *QueryCounter
}

// New starts an Env; everything stops when the test ends.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	e := &Env{Clock: o.Clock, Backend: o.Backend, Logs: &SyncBuffer{}}
	if e.Clock == nil {
		e.Clock = NewClock()
	}
	if e.Backend == "" {
		e.Backend = SQLite
	}
	e.WeChat = o.WeChat
	if e.WeChat == nil {
		e.WeChat = NewUpstream(t, e.Clock)
	}
	e.DatabaseURL = o.DatabaseURL
	if e.DatabaseURL == "" {
		if e.Backend == MySQL {
			e.DatabaseURL = testenv.MySQL(t)
		} else {
			e.DatabaseURL = testenv.SQLite(t)
		}
	}
	env := e.environment()
	e.Memcached = o.Memcache
	if o.Memcached && e.Memcached == nil {
		e.Memcached = testenv.StartMemcached(t)
	}
	if e.Memcached != nil {
		env["WXID_MEMCACHED"] = e.Memcached.Addr
	}
	for k, v := range o.Env {
		env[k] = v
	}
	if o.CountQueries {
		e.Queries = &QueryCounter{}
		o.Database.Driver = e.Queries.Driver
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	require.NoError(t, err)
	logger := app.NewLogger(cfg, e.Logs)
	a, err := app.New(context.Background(), cfg, app.Options{
		Logger: logger, Now: e.Clock.Now, Registry: prometheus.NewRegistry(), Database: o.Database,
	})
	require.NoError(t, err)
	e.App = a
	e.Server = httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		e.Server.Close()
		_ = a.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", tail(e.Logs.String(), 8000))
		}
	})
	return e
}

// environment is the WXID_* configuration of an Env before Options.Env.
func (e *Env) environment() map[string]string {
	return map[string]string{
		"WXID_DATABASE_URL":    e.DatabaseURL,
		"WXID_WECHAT_APPID":    AppID,
		"WXID_WECHAT_SECRET":   appSecret,
		"WXID_WECHAT_APPS":     AppID2 + "=" + appSecret2 + "," + AppNoUnion + "=" + appSecret3,
		"WXID_WECHAT_API_BASE": e.WeChat.URL,
		"WXID_WECHAT_TIMEOUT":  "2s",
		"WXID_ADMIN_TOKENS":    AdminToken,
		"WXID_PURGE_INTERVAL":  "0",
		"WXID_STATS_INTERVAL":  "0",
		"WXID_LOG_LEVEL":       "debug",
		// One key for every Env, as every instance of a cluster shares one:
		// Envs that share a database can open each other's sealed values.
		"WXID_SECRET_KEY": TestSecretKey,
	}
}

// EachBackend runs f as a subtest on SQLite and on MySQL/MariaDB.
func EachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range []string{SQLite, MySQL} {
		t.Run(b, func(t *testing.T) { f(t, b) })
	}
}

// Response is a GraphQL answer.
type Response struct {
	// Status is the HTTP status.
	Status int
	// Data is the raw data member.
	Data json.RawMessage `json:"data"`
	// Errors are the GraphQL errors.
	Errors []Error `json:"errors"`
	// Body is the raw body.
	Body string `json:"-"`
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns the extensions.code of the first error, or "".
func (r *Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Decode unmarshals Data into v, failing the test on GraphQL errors.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	require.Empty(t, r.Errors, "unexpected GraphQL errors: %s", r.Body)
	require.NoError(t, json.Unmarshal(r.Data, v), r.Body)
}

// Do posts a GraphQL request with an optional bearer token.
func (e *Env) Do(t testing.TB, token, query string, vars map[string]any) *Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	return e.Post(t, token, "application/json", body)
}

// DoHeader is Do with extra request headers (X-Forwarded-For, say).
func (e *Env) DoHeader(t testing.TB, token, query string, vars map[string]any, header http.Header) *Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, e.Server.URL+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(t, req)
}

// Post sends a raw body to /graphql.
func (e *Env) Post(t testing.TB, token, contentType string, body []byte) *Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.Server.URL+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(t, req)
}

func (e *Env) send(t testing.TB, req *http.Request) *Response {
	t.Helper()
	resp, err := e.Server.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := &Response{Status: resp.StatusCode, Body: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/") && len(raw) > 0 && raw[0] == '{' {
		require.NoError(t, json.Unmarshal(raw, out), string(raw))
	}
	return out
}

// PostWithHeader posts a raw JSON body with a literal Authorization header
// ("" sends none).
func (e *Env) PostWithHeader(t testing.TB, authorization, body string) *Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.Server.URL+"/graphql", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return e.send(t, req)
}

// LoginResult is the login payload.
type LoginResult struct {
	Skey      string    `json:"skey"`
	ExpiresAt time.Time `json:"expiresAt"`
	IsNewUser bool      `json:"isNewUser"`
	OpenID    string    `json:"openId"`
	UnionID   *string   `json:"unionId"`
	User      struct {
		ID string `json:"id"`
	} `json:"user"`
}

// LoginMutation is the login operation the helpers send.
const LoginMutation = `mutation($code: String!, $appId: String) {
  login(input: {code: $code, appId: $appId}) {
    skey expiresAt isNewUser openId unionId user { id }
  }
}`

// Code mints a wx.login code for user in appID at the stand-in.
func (e *Env) Code(t testing.TB, appID, user string) string {
	t.Helper()
	code, err := e.WeChat.Login(appID, user)
	require.NoError(t, err)
	return code
}

// LoginResponse logs user in to appID ("" = default app) and returns the
// raw response.
func (e *Env) LoginResponse(t testing.TB, appID, user string) *Response {
	t.Helper()
	vars := map[string]any{"code": e.Code(t, orDefault(appID), user)}
	if appID != "" {
		vars["appId"] = appID
	}
	return e.Do(t, "", LoginMutation, vars)
}

// Login logs user in to appID ("" = default app), failing on errors.
func (e *Env) Login(t testing.TB, appID, user string) LoginResult {
	t.Helper()
	var out struct{ Login LoginResult }
	e.LoginResponse(t, appID, user).Decode(t, &out)
	return out.Login
}

func orDefault(appID string) string {
	if appID == "" {
		return AppID
	}
	return appID
}

// Clock is the settable clock shared by wxid and the stand-in.
type Clock = clock.Fake

// NewClock starts a Clock at the current time.
func NewClock() *Clock { return clock.NewFake(time.Now().UTC().Truncate(time.Millisecond)) }

// SyncBuffer is a goroutine-safe log sink.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Must fails the test when v is not a successful response.
func Must(t testing.TB, r *Response) *Response {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	require.Empty(t, r.Errors, fmt.Sprintf("unexpected errors: %s", r.Body))
	return r
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// QueryCounter counts the SQL statements wxid sends (Options.CountQueries).
type QueryCounter struct {
	mu    sync.Mutex
	n     int
	log   []string
	armed bool
}

// feedPolls are the background polls every instance runs once a second
// (the revocation feed, the user write feed): no request's cost, so they
// are not counted.
var feedPolls = []string{
	"`sessions`.`token_hash`, `sessions`.`revoked_at` FROM `sessions` WHERE `sessions`.`revoked_at` >= ?",
	"SELECT `users`.`id`, `users`.`updated_at`, `users`.`version` FROM `users` WHERE `users`.`updated_at` >= ?",
}

// Driver wraps the ent driver so every statement but the feeds' polls is
// counted while armed.
func (q *QueryCounter) Driver(d dialect.Driver) dialect.Driver {
	return dialect.DebugWithContext(d, func(_ context.Context, v ...any) {
		stmt := fmt.Sprint(v...)
		for _, p := range feedPolls {
			if strings.Contains(stmt, p) {
				return
			}
		}
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.armed {
			q.n++
			q.log = append(q.log, stmt)
		}
	})
}

// Start resets the count and starts counting.
func (q *QueryCounter) Start() {
	q.mu.Lock()
	q.n, q.log, q.armed = 0, nil, true
	q.mu.Unlock()
}

// Stop stops counting and returns the count and the statements.
func (q *QueryCounter) Stop() (int, []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.armed = false
	return q.n, q.log
}
