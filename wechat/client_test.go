package wechat_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/wechat"
	"github.com/wxid/wxid/wechat/wechattest"
)

const (
	appA    = "wx00000000000000a1"
	appB    = "wx00000000000000b2"
	appSolo = "wx0000000000000c03"
	secretA = "s3cr3t-of-app-a-0123456789abcdef"
	secretB = "s3cr3t-of-app-b-0123456789abcdef"
	secretC = "s3cr3t-of-app-c-0123456789abcdef"
)

type env struct {
	wx     *wechattest.Server
	srv    *httptest.Server
	client *wechat.Client
	a, b   wechat.App
	solo   wechat.App
}

func newEnv(t *testing.T, o wechat.Options) *env {
	t.Helper()
	wx := wechattest.New()
	wx.AddApp(appA, secretA, "open-platform-1")
	wx.AddApp(appB, secretB, "open-platform-1")
	wx.AddApp(appSolo, secretC, "")
	srv := httptest.NewServer(wx.Handler())
	t.Cleanup(srv.Close)
	if o.BaseURL == "" {
		o.BaseURL = srv.URL + "/"
	}
	return &env{
		wx: wx, srv: srv, client: wechat.NewClient(o),
		a: wechat.App{AppID: appA, Secret: secretA}, b: wechat.App{AppID: appB, Secret: secretB},
		solo: wechat.App{AppID: appSolo, Secret: secretC},
	}
}

func (e *env) login(t *testing.T, appID, user string) string {
	t.Helper()
	code, err := e.wx.Login(appID, user)
	require.NoError(t, err)
	return code
}

func TestCode2SessionSuccess(t *testing.T) {
	e := newEnv(t, wechat.Options{})
	ctx := context.Background()

	t.Run("with unionid", func(t *testing.T) {
		s, err := e.client.Code2Session(ctx, e.a, e.login(t, appA, "alice"))
		require.NoError(t, err)
		require.Equal(t, e.wx.OpenID(appA, "alice"), s.OpenID)
		require.Equal(t, e.wx.UnionID(appA, "alice"), s.UnionID)
		require.NotEmpty(t, s.UnionID)
		require.Equal(t, e.wx.SessionKey(appA, "alice"), s.SessionKey)
		require.True(t, wechat.ValidSessionKey(s.SessionKey))
	})
	t.Run("without unionid", func(t *testing.T) {
		s, err := e.client.Code2Session(ctx, e.solo, e.login(t, appSolo, "alice"))
		require.NoError(t, err)
		require.Equal(t, e.wx.OpenID(appSolo, "alice"), s.OpenID)
		require.Empty(t, s.UnionID)
	})
	t.Run("text/plain body accepted", func(t *testing.T) {
		e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{
			Body: `{"session_key":"ABEiM0RVZneImaq7zN3u/w==","openid":"oAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
		})
		resp, err := http.Get(e.srv.URL + "/sns/jscode2session")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, "text/plain", resp.Header.Get("Content-Type"))

		e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{
			Body: `  {"session_key":"ABEiM0RVZneImaq7zN3u/w==","openid":"oAAAAAAAAAAAAAAAAAAAAAAAAAAA"}` + "\n",
		})
		s, err := e.client.Code2Session(ctx, e.a, "whatever")
		require.NoError(t, err)
		require.Equal(t, "oAAAAAAAAAAAAAAAAAAAAAAAAAAA", s.OpenID)
	})
}

func TestCode2SessionErrors(t *testing.T) {
	tests := []struct {
		name    string
		opts    wechat.Options
		app     wechat.App
		setup   func(t *testing.T, e *env) string // returns the code
		class   error
		errcode int // 0: not an errcode answer
	}{
		{
			name:  "40029 unknown code",
			setup: func(t *testing.T, e *env) string { return "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d" },
			class: wechat.ErrInvalidCode, errcode: 40029,
		},
		{
			name: "40029 code of another app",
			setup: func(t *testing.T, e *env) string {
				return e.login(t, appB, "alice")
			},
			class: wechat.ErrInvalidCode, errcode: 40029,
		},
		{
			name: "40163 code used",
			setup: func(t *testing.T, e *env) string {
				code := e.login(t, appA, "alice")
				_, err := e.client.Code2Session(context.Background(), e.a, code)
				require.NoError(t, err)
				return code
			},
			class: wechat.ErrInvalidCode, errcode: 40163,
		},
		{
			name: "40226 blocked user",
			setup: func(t *testing.T, e *env) string {
				e.wx.Block(appA, "mallory")
				return e.login(t, appA, "mallory")
			},
			class: wechat.ErrUserBlocked, errcode: 40226,
		},
		{
			name: "45011 rate limited",
			setup: func(t *testing.T, e *env) string {
				e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{Errcode: 45011, Errmsg: "api minute-quota reach limit"})
				return e.login(t, appA, "alice")
			},
			class: wechat.ErrRateLimited, errcode: 45011,
		},
		{
			name: "-1 system busy",
			setup: func(t *testing.T, e *env) string {
				e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{Errcode: -1, Errmsg: "system error"})
				return e.login(t, appA, "alice")
			},
			class: wechat.ErrUnavailable, errcode: -1,
		},
		{
			name:  "40013 invalid appid",
			app:   wechat.App{AppID: "wxffffffffffffffff", Secret: secretA},
			setup: func(t *testing.T, e *env) string { return e.login(t, appA, "alice") },
			class: wechat.ErrBadCredentials, errcode: 40013,
		},
		{
			name:  "40125 invalid appsecret",
			app:   wechat.App{AppID: appA, Secret: "wrong-secret-0123456789abcdef"},
			setup: func(t *testing.T, e *env) string { return e.login(t, appA, "alice") },
			class: wechat.ErrBadCredentials, errcode: 40125,
		},
		{
			name: "errmsg echoing the secret and code is scrubbed",
			setup: func(t *testing.T, e *env) string {
				code := e.login(t, appA, "alice")
				e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{
					Errcode: 40125,
					Errmsg:  "invalid appsecret " + secretA + " for code " + code + " see https://api.weixin.qq.com/sns/jscode2session?secret=" + secretA,
				})
				return code
			},
			class: wechat.ErrBadCredentials, errcode: 40125,
		},
		{
			name: "other errcode",
			setup: func(t *testing.T, e *env) string {
				e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{Errcode: 40097, Errmsg: "invalid args"})
				return e.login(t, appA, "alice")
			},
			class: wechat.ErrUpstream, errcode: 40097,
		},
		{
			name: "HTTP 500",
			setup: func(t *testing.T, e *env) string {
				e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{HTTPStatus: 500})
				return e.login(t, appA, "alice")
			},
			class: wechat.ErrUnavailable,
		},
		{
			name: "HTTP 404",
			setup: func(t *testing.T, e *env) string {
				e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{HTTPStatus: 404})
				return e.login(t, appA, "alice")
			},
			class: wechat.ErrUnavailable,
		},
		{
			name: "garbage body",
			setup: func(t *testing.T, e *env) string {
				e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{Body: "<html>502 Bad Gateway</html>"})
				return e.login(t, appA, "alice")
			},
			class: wechat.ErrUnavailable,
		},
		{
			name: "truncated JSON",
			setup: func(t *testing.T, e *env) string {
				e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{Body: `{"openid":"oAAAA`})
				return e.login(t, appA, "alice")
			},
			class: wechat.ErrUnavailable,
		},
		{
			name: "JSON null",
			setup: func(t *testing.T, e *env) string {
				e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{Body: `null`})
				return e.login(t, appA, "alice")
			},
			class: wechat.ErrUnavailable,
		},
		{
			name: "missing openid",
			setup: func(t *testing.T, e *env) string {
				e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{Body: `{"session_key":"ABEiM0RVZneImaq7zN3u/w=="}`})
				return e.login(t, appA, "alice")
			},
			class: wechat.ErrUnavailable,
		},
		{
			name: "missing session_key",
			setup: func(t *testing.T, e *env) string {
				e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{Body: `{"openid":"oAAAAAAAAAAAAAAAAAAAAAAAAAAA","errcode":0}`})
				return e.login(t, appA, "alice")
			},
			class: wechat.ErrUnavailable,
		},
		{
			name: "session_key not 24 base64 chars",
			setup: func(t *testing.T, e *env) string {
				e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{Body: `{"openid":"oAAAAAAAAAAAAAAAAAAAAAAAAAAA","session_key":"ABEiM0RVZneImaq7zN3u/w"}`})
				return e.login(t, appA, "alice")
			},
			class: wechat.ErrUnavailable,
		},
		{
			name: "oversized body",
			opts: wechat.Options{MaxBodyBytes: 1024},
			setup: func(t *testing.T, e *env) string {
				e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{
					Body: `{"openid":"` + strings.Repeat("o", 2048) + `","session_key":"ABEiM0RVZneImaq7zN3u/w=="}`,
				})
				return e.login(t, appA, "alice")
			},
			class: wechat.ErrUnavailable,
		},
		{
			name: "timeout",
			opts: wechat.Options{Timeout: 50 * time.Millisecond},
			setup: func(t *testing.T, e *env) string {
				e.wx.Fail(wechattest.APICode2Session, wechattest.Fault{Delay: 2 * time.Second})
				return e.login(t, appA, "alice")
			},
			class: wechat.ErrUnavailable,
		},
		{
			name:  "connection refused (url.Error carries the query)",
			opts:  wechat.Options{BaseURL: "http://127.0.0.1:1"},
			setup: func(t *testing.T, e *env) string { return e.login(t, appA, "alice") },
			class: wechat.ErrUnavailable,
		},
		{
			name:  "empty code refused locally",
			setup: func(t *testing.T, e *env) string { return "" },
			class: wechat.ErrInvalidCode,
		},
		{
			name:  "app without secret refused locally",
			app:   wechat.App{AppID: appA},
			setup: func(t *testing.T, e *env) string { return e.login(t, appA, "alice") },
			class: wechat.ErrBadCredentials,
		},
	}
	sentinels := []error{
		wechat.ErrInvalidCode, wechat.ErrUserBlocked, wechat.ErrRateLimited, wechat.ErrUnavailable, wechat.ErrInvalidToken,
		wechat.ErrBadCredentials, wechat.ErrInvalidSignature, wechat.ErrUpstream,
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			app := e.a
			if tc.app != (wechat.App{}) {
				app = tc.app
			}
			code := tc.setup(t, e)
			start := time.Now()
			s, err := e.client.Code2Session(context.Background(), app, code)
			require.Error(t, err)
			require.Less(t, time.Since(start), time.Second)
			require.Zero(t, s)

			n := 0
			for _, s := range sentinels {
				if errors.Is(err, s) {
					n++
				}
			}
			require.Equal(t, 1, n, "wraps exactly one sentinel: %v", err)
			require.ErrorIs(t, err, tc.class)

			var we *wechat.Error
			if tc.errcode != 0 {
				require.ErrorAs(t, err, &we)
				require.Equal(t, tc.errcode, we.Code)
				require.Equal(t, "jscode2session", we.API)
			} else {
				require.False(t, errors.As(err, &we))
			}

			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "wechat: jscode2session: "), msg)
			for _, secret := range []string{secretA, secretB, app.Secret} {
				if secret != "" {
					require.NotContains(t, msg, secret)
				}
			}
			if code != "" {
				require.NotContains(t, msg, code)
			}
			require.NotContains(t, msg, "secret=")
			require.NotContains(t, msg, "js_code")
		})
	}
}

func TestTimeoutKeepsDeadlineCause(t *testing.T) {
	e := newEnv(t, wechat.Options{Timeout: 20 * time.Millisecond})
	e.wx.Fail(wechattest.APIStableToken, wechattest.Fault{Delay: time.Second})
	_, err := e.client.StableToken(context.Background(), e.a, false)
	require.ErrorIs(t, err, wechat.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, "wechat: stable_token: wechat unavailable: timeout", err.Error())
}

func TestTokens(t *testing.T) {
	e := newEnv(t, wechat.Options{})
	ctx := context.Background()

	st, err := e.client.StableToken(ctx, e.a, false)
	require.NoError(t, err)
	require.NotEmpty(t, st.AccessToken)
	require.Equal(t, 7200*time.Second, st.ExpiresIn)

	again, err := e.client.StableToken(ctx, e.a, false)
	require.NoError(t, err)
	require.Equal(t, st.AccessToken, again.AccessToken)

	forced, err := e.client.StableToken(ctx, e.a, true)
	require.NoError(t, err)
	require.NotEqual(t, st.AccessToken, forced.AccessToken)

	_, err = e.client.StableToken(ctx, e.a, true)
	require.ErrorIs(t, err, wechat.ErrRateLimited, "force refreshes 30 s apart")

	_, err = e.client.StableToken(ctx, wechat.App{AppID: appA, Secret: "nope"}, false)
	require.ErrorIs(t, err, wechat.ErrBadCredentials)
	require.NotContains(t, err.Error(), "nope")

	_, err = e.client.StableToken(ctx, wechat.App{AppID: "wxunknown", Secret: secretA}, false)
	require.ErrorIs(t, err, wechat.ErrBadCredentials)
	require.NotContains(t, err.Error(), secretA)

	e.wx.Fail(wechattest.APIStableToken, wechattest.Fault{Body: `{"expires_in":7200}`})
	_, err = e.client.StableToken(ctx, e.a, false)
	require.ErrorIs(t, err, wechat.ErrUnavailable)
}

func TestGetUserPhoneNumber(t *testing.T) {
	e := newEnv(t, wechat.Options{})
	ctx := context.Background()
	tok, err := e.client.StableToken(ctx, e.a, false)
	require.NoError(t, err)

	tests := []struct {
		name     string
		asNumber bool
		phone    string
		country  string
		want     wechat.PhoneInfo
	}{
		{name: "country code string", phone: "+8613800138000", country: "86",
			want: wechat.PhoneInfo{PhoneNumber: "+8613800138000", PurePhoneNumber: "13800138000", CountryCode: "86"}},
		{name: "country code number", asNumber: true, phone: "+15551234567", country: "1",
			want: wechat.PhoneInfo{PhoneNumber: "+15551234567", PurePhoneNumber: "5551234567", CountryCode: "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.wx.PhoneNumberCountryCodeAsNumber(tc.asNumber)
			code := e.wx.PhoneCode(appA, "alice", tc.phone, tc.country)
			got, err := e.client.GetUserPhoneNumber(ctx, tok.AccessToken, code)
			require.NoError(t, err)
			require.Equal(t, appA, got.Watermark.AppID)
			got.Watermark = wechat.Watermark{}
			require.Equal(t, tc.want, got)

			_, err = e.client.GetUserPhoneNumber(ctx, tok.AccessToken, code)
			require.ErrorIs(t, err, wechat.ErrInvalidCode, "single use")
			require.NotContains(t, err.Error(), code)
			require.NotContains(t, err.Error(), tok.AccessToken)
		})
	}

	t.Run("token errors", func(t *testing.T) {
		code := e.wx.PhoneCode(appA, "alice", "+8613800138000", "86")
		_, err := e.client.GetUserPhoneNumber(ctx, "not-a-token", code)
		require.ErrorIs(t, err, wechat.ErrInvalidToken)
		var we *wechat.Error
		require.ErrorAs(t, err, &we)
		require.Equal(t, 40001, we.Code)

		e.wx.ExpireTokens()
		_, err = e.client.GetUserPhoneNumber(ctx, tok.AccessToken, code)
		require.ErrorIs(t, err, wechat.ErrInvalidToken)
		require.ErrorAs(t, err, &we)
		require.Equal(t, 42001, we.Code)
		require.NotContains(t, err.Error(), tok.AccessToken)

		fresh, err := e.client.StableToken(ctx, e.a, false)
		require.NoError(t, err)
		require.NotEqual(t, tok.AccessToken, fresh.AccessToken)
		_, err = e.client.GetUserPhoneNumber(ctx, fresh.AccessToken, code)
		require.NoError(t, err, "the code was not consumed by the failed calls")
	})
}

func TestInProcessTransport(t *testing.T) {
	wx := wechattest.New()
	wx.AddApp(appA, secretA, "")
	c := wechat.NewClient(wechat.Options{
		BaseURL:   "http://wechat.sandbox",
		Transport: wechattest.NewTransport(wx.Handler()),
		Timeout:   50 * time.Millisecond,
	})
	code, err := wx.Login(appA, "alice")
	require.NoError(t, err)
	s, err := c.Code2Session(context.Background(), wechat.App{AppID: appA, Secret: secretA}, code)
	require.NoError(t, err)
	require.Equal(t, wx.OpenID(appA, "alice"), s.OpenID)

	wx.Fail(wechattest.APIStableToken, wechattest.Fault{Delay: 5 * time.Second})
	start := time.Now()
	_, err = c.StableToken(context.Background(), wechat.App{AppID: appA, Secret: secretA}, false)
	require.ErrorIs(t, err, wechat.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), time.Second)
}

func TestMetricsSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	e1 := newEnv(t, wechat.Options{Registerer: reg})
	e2 := newEnv(t, wechat.Options{Registerer: reg}) // must not panic
	ctx := context.Background()

	_, err := e1.client.Code2Session(ctx, e1.a, e1.login(t, appA, "alice"))
	require.NoError(t, err)
	_, err = e2.client.Code2Session(ctx, e2.a, "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d")
	require.ErrorIs(t, err, wechat.ErrInvalidCode)
	e2.wx.Fail(wechattest.APICode2Session, wechattest.Fault{Body: "{}"})
	_, err = e2.client.Code2Session(ctx, e2.a, "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d")
	require.ErrorIs(t, err, wechat.ErrUnavailable)

	mfs, err := reg.Gather()
	require.NoError(t, err)
	counts := map[string]float64{}
	var observed uint64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "wxid_wechat_requests_total":
				counts[labels["api"]+"/"+labels["result"]] += m.GetCounter().GetValue()
			case "wxid_wechat_request_duration_seconds":
				observed += m.GetHistogram().GetSampleCount()
			}
		}
	}
	require.Equal(t, map[string]float64{
		"jscode2session/ok":           1,
		"jscode2session/invalid_code": 1,
		"jscode2session/unavailable":  1,
	}, counts)
	require.Equal(t, uint64(3), observed)

	// A client without a registerer still works.
	e3 := newEnv(t, wechat.Options{})
	_, err = e3.client.Code2Session(ctx, e3.a, e3.login(t, appA, "bob"))
	require.NoError(t, err)
}
