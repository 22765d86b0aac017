package wechattest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/clock"
	"github.com/wxid/wxid/wechat"
	"github.com/wxid/wxid/wechat/wechattest"
)

const (
	app1, app2, app3 = "wx1111111111111111", "wx2222222222222222", "wx3333333333333333"
	secret           = "0123456789abcdef0123456789abcdef"
)

type fixture struct {
	wx     *wechattest.Server
	clock  *clock.Fake
	client *wechat.Client
	srv    *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := clock.NewFake(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	wx := wechattest.New(wechattest.WithClock(clk.Now))
	wx.AddApp(app1, secret, "open-1")
	wx.AddApp(app2, secret, "open-1")
	wx.AddApp(app3, secret, "")
	srv := httptest.NewServer(wx.Handler())
	t.Cleanup(srv.Close)
	return &fixture{wx: wx, clock: clk, srv: srv, client: wechat.NewClient(wechat.Options{BaseURL: srv.URL})}
}

func (f *fixture) exchange(t *testing.T, appID, code string) (wechat.Session, error) {
	t.Helper()
	return f.client.Code2Session(context.Background(), wechat.App{AppID: appID, Secret: secret}, code)
}

func (f *fixture) login(t *testing.T, appID, user string) wechat.Session {
	t.Helper()
	code, err := f.wx.Login(appID, user)
	require.NoError(t, err)
	s, err := f.exchange(t, appID, code)
	require.NoError(t, err)
	return s
}

func errcode(t *testing.T, err error) int {
	t.Helper()
	var we *wechat.Error
	require.ErrorAs(t, err, &we)
	return we.Code
}

func TestCodes(t *testing.T) {
	tests := []struct {
		name    string
		wait    time.Duration
		reuse   bool
		app     string
		errcode int
	}{
		{name: "fresh code", app: app1},
		{name: "just before expiry", wait: wechattest.CodeTTL - time.Second, app: app1},
		{name: "expired", wait: wechattest.CodeTTL, app: app1, errcode: 40029},
		{name: "used", reuse: true, app: app1, errcode: 40163},
		{name: "another app's code", app: app2, errcode: 40029},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			code, err := f.wx.Login(app1, "alice")
			require.NoError(t, err)
			require.Len(t, code, 32)
			f.clock.Advance(tc.wait)
			if tc.reuse {
				_, err := f.exchange(t, app1, code)
				require.NoError(t, err)
			}
			s, err := f.exchange(t, tc.app, code)
			if tc.errcode != 0 {
				require.Equal(t, tc.errcode, errcode(t, err))
				require.ErrorIs(t, err, wechat.ErrInvalidCode)
				return
			}
			require.NoError(t, err)
			require.Equal(t, f.wx.OpenID(app1, "alice"), s.OpenID)
		})
	}
}

func TestLoginErrors(t *testing.T) {
	f := newFixture(t)
	_, err := f.wx.Login("wxunknown", "alice")
	require.Error(t, err)
	_, err = f.wx.Login(app1, "")
	require.Error(t, err)

	f.wx.Block(app1, "mallory")
	code, err := f.wx.Login(app1, "mallory")
	require.NoError(t, err)
	_, err = f.exchange(t, app1, code)
	require.Equal(t, 40226, errcode(t, err))
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < wechattest.LoginRatePerMinute; i++ {
		f.login(t, app1, "alice")
	}
	code, err := f.wx.Login(app1, "alice")
	require.NoError(t, err)
	_, err = f.exchange(t, app1, code)
	require.Equal(t, 45011, errcode(t, err))
	require.ErrorIs(t, err, wechat.ErrRateLimited)

	f.login(t, app1, "bob") // per user

	f.clock.Advance(time.Minute)
	_, err = f.exchange(t, app1, code)
	require.NoError(t, err, "the code survives a rate-limited attempt")
}

func TestSessionKeyRotation(t *testing.T) {
	f := newFixture(t)
	require.Empty(t, f.wx.SessionKey(app1, "alice"))

	first := f.login(t, app1, "alice")
	require.Equal(t, first.SessionKey, f.wx.SessionKey(app1, "alice"))
	require.True(t, wechat.ValidSessionKey(first.SessionKey))

	// wx.login alone does not rotate: only the exchange does.
	code, err := f.wx.Login(app1, "alice")
	require.NoError(t, err)
	require.Equal(t, first.SessionKey, f.wx.SessionKey(app1, "alice"))
	second, err := f.exchange(t, app1, code)
	require.NoError(t, err)
	require.NotEqual(t, first.SessionKey, second.SessionKey)
	require.Equal(t, second.SessionKey, f.wx.SessionKey(app1, "alice"))
	require.Equal(t, first.OpenID, second.OpenID)

	data, iv, err := f.wx.EncryptPhone(app1, "alice", "+8613800138000", "86")
	require.NoError(t, err)
	_, err = wechat.DecryptPhoneNumber(first.SessionKey, data, iv, app1)
	require.ErrorIs(t, err, wechat.ErrDecrypt, "the old key no longer decrypts")
	info, err := wechat.DecryptPhoneNumber(second.SessionKey, data, iv, app1)
	require.NoError(t, err)
	require.Equal(t, "13800138000", info.PurePhoneNumber)
	require.Equal(t, f.clock.Now().Unix(), info.Watermark.Timestamp)

	tok, err := f.client.StableToken(context.Background(), wechat.App{AppID: app1, Secret: secret}, false)
	require.NoError(t, err)
	require.Equal(t, float64(87009), f.signed(t, "checksession", tok.AccessToken, first.OpenID, first.SessionKey)["errcode"])
	require.Equal(t, float64(0), f.signed(t, "checksession", tok.AccessToken, second.OpenID, second.SessionKey)["errcode"])

	reset := f.signed(t, "resetusersessionkey", tok.AccessToken, second.OpenID, second.SessionKey)
	require.Equal(t, float64(0), reset["errcode"])
	require.Equal(t, second.OpenID, reset["openid"])
	require.NotEqual(t, second.SessionKey, reset["session_key"])
	require.Equal(t, f.wx.SessionKey(app1, "alice"), reset["session_key"])
	require.Equal(t, float64(87009), f.signed(t, "checksession", tok.AccessToken, second.OpenID, second.SessionKey)["errcode"], "reset replaced it")
}

// signed calls wxa/checksession or wxa/resetusersessionkey with the
// signature of sessionKey and returns the decoded answer.
func (f *fixture) signed(t *testing.T, api, accessToken, openID, sessionKey string) map[string]any {
	t.Helper()
	return f.get(t, "/wxa/"+api, url.Values{
		"access_token": {accessToken}, "openid": {openID},
		"signature": {wechattest.SessionSignature(sessionKey)}, "sig_method": {"hmac_sha256"},
	})
}

// get calls the stand-in with a GET and returns the decoded answer.
func (f *fixture) get(t *testing.T, path string, q url.Values) map[string]any {
	t.Helper()
	resp, err := http.Get(f.srv.URL + path + "?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// legacyToken fetches a token from cgi-bin/token, which the stand-in
// serves like WeChat although wxid uses only stable tokens.
func (f *fixture) legacyToken(t *testing.T, app wechat.App) string {
	t.Helper()
	out := f.get(t, "/cgi-bin/token", url.Values{"grant_type": {"client_credential"}, "appid": {app.AppID}, "secret": {app.Secret}})
	tok, _ := out["access_token"].(string)
	require.NotEmpty(t, tok, "%v", out)
	return tok
}

func TestIdentities(t *testing.T) {
	f := newFixture(t)
	a1, a2, a3 := f.login(t, app1, "alice"), f.login(t, app2, "alice"), f.login(t, app3, "alice")
	b1 := f.login(t, app1, "bob")

	require.NotEqual(t, a1.OpenID, a2.OpenID, "openids are per app")
	require.Equal(t, a1.UnionID, a2.UnionID, "one open platform, one unionid")
	require.NotEmpty(t, a1.UnionID)
	require.NotEqual(t, a1.UnionID, b1.UnionID)
	require.Empty(t, a3.UnionID)
	require.Empty(t, f.wx.UnionID(app3, "alice"))

	for _, id := range []string{a1.OpenID, a2.OpenID, a3.OpenID, a1.UnionID} {
		require.Len(t, id, 28)
		require.True(t, strings.HasPrefix(id, "o"))
	}
	require.Equal(t, a1.OpenID, wechattest.New().OpenID(app1, "alice"), "deterministic across servers")
}

func TestStableToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	app := wechat.App{AppID: app1, Secret: secret}
	first, err := f.client.StableToken(ctx, app, false)
	require.NoError(t, err)
	require.Equal(t, wechattest.TokenTTL, first.ExpiresIn)

	f.clock.Advance(time.Hour)
	same, err := f.client.StableToken(ctx, app, false)
	require.NoError(t, err)
	require.Equal(t, first.AccessToken, same.AccessToken)
	require.Equal(t, time.Hour, same.ExpiresIn, "remaining lifetime")

	f.clock.Advance(56 * time.Minute) // 4 minutes left: renewal window
	renewed, err := f.client.StableToken(ctx, app, false)
	require.NoError(t, err)
	require.NotEqual(t, first.AccessToken, renewed.AccessToken)
	require.True(t, f.tokenWorks(t, first.AccessToken), "normal mode invalidates nothing")
	require.True(t, f.tokenWorks(t, renewed.AccessToken))

	f.clock.Advance(4 * time.Minute)
	require.Equal(t, 42001, f.tokenErr(t, first.AccessToken))

	forced, err := f.client.StableToken(ctx, app, true)
	require.NoError(t, err)
	require.NotEqual(t, renewed.AccessToken, forced.AccessToken)
	_, err = f.client.StableToken(ctx, app, true)
	require.Equal(t, 45011, errcode(t, err), "force refresh 30 s apart")
	f.clock.Advance(wechattest.ForceRefreshSpacing)
	_, err = f.client.StableToken(ctx, app, true)
	require.NoError(t, err)
	require.True(t, f.tokenWorks(t, renewed.AccessToken), "replaced by force, still valid during the overlap")
	f.clock.Advance(wechattest.TokenOverlap)
	require.Equal(t, 40001, f.tokenErr(t, renewed.AccessToken))

	f.wx.ExpireTokens()
	current, err := f.client.StableToken(ctx, app, false)
	require.NoError(t, err)
	require.True(t, f.tokenWorks(t, current.AccessToken), "a fetch after ExpireTokens issues a new token")
}

func TestLegacyToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	app := wechat.App{AppID: app1, Secret: secret}
	stable, err := f.client.StableToken(ctx, app, false)
	require.NoError(t, err)

	t1 := f.legacyToken(t, app)
	t2 := f.legacyToken(t, app)
	require.NotEqual(t, t1, t2)
	require.True(t, f.tokenWorks(t, t1), "overlap")

	f.clock.Advance(wechattest.TokenOverlap)
	require.Equal(t, 40001, f.tokenErr(t, t1), "the classic cluster bug")
	require.True(t, f.tokenWorks(t, t2))
	require.True(t, f.tokenWorks(t, stable.AccessToken), "stable tokens are kept apart")

	f.wx.ExpireTokens()
	require.Equal(t, 42001, f.tokenErr(t, t2))
	require.Equal(t, 42001, f.tokenErr(t, stable.AccessToken))
	require.Equal(t, 3, f.wx.Count(wechattest.APIToken)+f.wx.Count(wechattest.APIStableToken))
}

func TestPhoneCode(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok1, err := f.client.StableToken(ctx, wechat.App{AppID: app1, Secret: secret}, false)
	require.NoError(t, err)
	tok2, err := f.client.StableToken(ctx, wechat.App{AppID: app2, Secret: secret}, false)
	require.NoError(t, err)

	code := f.wx.PhoneCode(app1, "alice", "+8613800138000", "")
	_, err = f.client.GetUserPhoneNumber(ctx, tok2.AccessToken, code)
	require.Equal(t, 40029, errcode(t, err), "another app's code")
	info, err := f.client.GetUserPhoneNumber(ctx, tok1.AccessToken, code)
	require.NoError(t, err)
	require.Equal(t, wechat.PhoneInfo{
		PhoneNumber: "+8613800138000", PurePhoneNumber: "13800138000", CountryCode: "86",
		Watermark: wechat.Watermark{Timestamp: f.clock.Now().Unix(), AppID: app1},
	}, info)
	_, err = f.client.GetUserPhoneNumber(ctx, tok1.AccessToken, code)
	require.Equal(t, 40029, errcode(t, err), "single use")

	code = f.wx.PhoneCode(app1, "alice", "13800138000", "86")
	f.clock.Advance(wechattest.CodeTTL)
	_, err = f.client.GetUserPhoneNumber(ctx, tok1.AccessToken, code)
	require.Equal(t, 40029, errcode(t, err), "expired")
}

func TestCountryCodeAsNumber(t *testing.T) {
	f := newFixture(t)
	tok, err := f.client.StableToken(context.Background(), wechat.App{AppID: app1, Secret: secret}, false)
	require.NoError(t, err)
	f.wx.PhoneNumberCountryCodeAsNumber(true)

	code := f.wx.PhoneCode(app1, "alice", "+8613800138000", "86")
	resp, err := http.Post(f.srv.URL+"/wxa/business/getuserphonenumber?access_token="+tok.AccessToken,
		"application/json", strings.NewReader(`{"code":"`+code+`"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
	var raw struct {
		Errcode   int `json:"errcode"`
		PhoneInfo struct {
			CountryCode any `json:"countryCode"`
		} `json:"phone_info"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))
	require.Equal(t, float64(86), raw.PhoneInfo.CountryCode)

	f.login(t, app1, "alice")
	data, iv, err := f.wx.EncryptPhone(app1, "alice", "+8613800138000", "86")
	require.NoError(t, err)
	pt, err := wechat.Decrypt(f.wx.SessionKey(app1, "alice"), data, iv)
	require.NoError(t, err)
	require.Contains(t, string(pt), `"countryCode":86`)
	info, err := wechat.DecryptPhoneNumber(f.wx.SessionKey(app1, "alice"), data, iv, app1)
	require.NoError(t, err)
	require.Equal(t, "86", info.CountryCode)
}

func TestEncryptArbitraryPayload(t *testing.T) {
	f := newFixture(t)
	_, _, err := f.wx.Encrypt(app1, "alice", map[string]any{"x": 1})
	require.Error(t, err, "no session key before a login")

	s := f.login(t, app1, "alice")
	data, iv, err := f.wx.Encrypt(app1, "alice", map[string]any{
		"phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": "86",
		"watermark": map[string]any{"timestamp": 1, "appid": app2},
	})
	require.NoError(t, err)
	_, err = wechat.DecryptPhoneNumber(s.SessionKey, data, iv, app1)
	require.ErrorIs(t, err, wechat.ErrDecrypt, "watermark of another app")
}

func TestWireFormat(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, path string
		errcode    int
	}{
		{name: "unknown appid", path: "/sns/jscode2session?appid=wxnope&secret=x&js_code=y&grant_type=authorization_code", errcode: 40013},
		{name: "wrong secret", path: "/sns/jscode2session?appid=" + app1 + "&secret=x&js_code=y&grant_type=authorization_code", errcode: 40125},
		{name: "missing appid", path: "/sns/jscode2session", errcode: 41002},
		{name: "missing code", path: "/sns/jscode2session?appid=" + app1 + "&secret=" + secret + "&grant_type=authorization_code", errcode: 41008},
		{name: "bad grant type", path: "/cgi-bin/token?grant_type=x&appid=" + app1 + "&secret=" + secret, errcode: 40002},
		{name: "missing token", path: "/wxa/checksession?openid=o&signature=s&sig_method=hmac_sha256", errcode: 41001},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(f.srv.URL + tc.path)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
			var body struct {
				Errcode int    `json:"errcode"`
				Errmsg  string `json:"errmsg"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			require.Equal(t, tc.errcode, body.Errcode)
			require.Contains(t, body.Errmsg, "rid: ")
		})
	}

	t.Run("stable_token bad JSON", func(t *testing.T) {
		resp, err := http.Post(f.srv.URL+"/cgi-bin/stable_token", "application/json", strings.NewReader("{"))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Contains(t, string(b), `"errcode":47001`)
	})
}

func TestFaults(t *testing.T) {
	f := newFixture(t)
	f.wx.Fail(wechattest.APICode2Session, wechattest.Fault{Errcode: -1, Times: 2})
	f.wx.Fail(wechattest.APICode2Session, wechattest.Fault{HTTPStatus: 503})
	code, err := f.wx.Login(app1, "alice")
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		_, err = f.exchange(t, app1, code)
		require.ErrorIs(t, err, wechat.ErrUnavailable)
	}
	_, err = f.exchange(t, app1, code)
	require.NoError(t, err, "faults are spent, the code was never consumed")
	require.Equal(t, 4, f.wx.Count(wechattest.APICode2Session))
	require.Zero(t, f.wx.Count(wechattest.APIToken))

	f.wx.Fail(wechattest.APIStableToken, wechattest.Fault{Delay: 20 * time.Millisecond})
	start := time.Now()
	_, err = f.client.StableToken(context.Background(), wechat.App{AppID: app1, Secret: secret}, false)
	require.NoError(t, err, "a delay-only fault then answers normally")
	require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
}

func TestSandboxHandler(t *testing.T) {
	wx := wechattest.New(wechattest.WithDefaultApp(app1))
	wx.AddApp(app1, secret, "")
	wx.AddApp(app2, secret, "")
	h := http.StripPrefix("/sandbox", wx.SandboxHandler())
	client := wechat.NewClient(wechat.Options{BaseURL: "http://wechat.local", Transport: wechattest.NewTransport(wx.Handler())})
	ctx := context.Background()

	post := func(t *testing.T, path, body string) (int, map[string]string) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewBufferString(body)))
		require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		var out map[string]string
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
		return rec.Code, out
	}

	status, out := post(t, "/sandbox/wx.login", `{"user":"alice"}`)
	require.Equal(t, http.StatusOK, status)
	s, err := client.Code2Session(ctx, wechat.App{AppID: app1, Secret: secret}, out["code"])
	require.NoError(t, err)
	require.Equal(t, wx.OpenID(app1, "alice"), s.OpenID)

	status, out = post(t, "/sandbox/wx.login", `{"appId":"`+app2+`","user":"alice"}`)
	require.Equal(t, http.StatusOK, status)
	_, err = client.Code2Session(ctx, wechat.App{AppID: app2, Secret: secret}, out["code"])
	require.NoError(t, err)

	status, out = post(t, "/sandbox/phone", `{"user":"alice","phoneNumber":"+8613800138000","countryCode":"86","form":"encrypted"}`)
	require.Equal(t, http.StatusOK, status)
	info, err := wechat.DecryptPhoneNumber(s.SessionKey, out["encryptedData"], out["iv"], app1)
	require.NoError(t, err)
	require.Equal(t, "13800138000", info.PurePhoneNumber)

	status, out = post(t, "/sandbox/phone", `{"user":"alice","phoneNumber":"+8613800138000","form":"code"}`)
	require.Equal(t, http.StatusOK, status)
	tok, err := client.StableToken(ctx, wechat.App{AppID: app1, Secret: secret}, false)
	require.NoError(t, err)
	info, err = client.GetUserPhoneNumber(ctx, tok.AccessToken, out["code"])
	require.NoError(t, err)
	require.Equal(t, "86", info.CountryCode)

	bad := []struct{ name, path, body string }{
		{"not JSON", "/sandbox/wx.login", `nope`},
		{"no user", "/sandbox/wx.login", `{}`},
		{"unknown app", "/sandbox/wx.login", `{"appId":"wxnope","user":"alice"}`},
		{"no phone number", "/sandbox/phone", `{"user":"alice"}`},
		{"bad form", "/sandbox/phone", `{"user":"alice","phoneNumber":"1","form":"fax"}`},
		{"encrypted before login", "/sandbox/phone", `{"user":"bob","phoneNumber":"1","form":"encrypted"}`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			status, out := post(t, tc.path, tc.body)
			require.Equal(t, http.StatusBadRequest, status)
			require.NotEmpty(t, out["error"])
		})
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sandbox/wx.login", nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/sandbox/other", nil))
	require.Equal(t, http.StatusNotFound, rec.Code)

	noDefault := wechattest.New()
	noDefault.AddApp(app1, secret, "")
	rec = httptest.NewRecorder()
	noDefault.SandboxHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/wx.login", strings.NewReader(`{"user":"a"}`)))
	require.Equal(t, http.StatusBadRequest, rec.Code)
}

// tokenErr resolves a fresh app1 phone code with the token: 0 when the
// token is accepted, else the errcode.
func (f *fixture) tokenErr(t *testing.T, token string) int {
	t.Helper()
	code := f.wx.PhoneCode(app1, "probe", "13800138000", "86")
	_, err := f.client.GetUserPhoneNumber(context.Background(), token, code)
	if err == nil {
		return 0
	}
	return errcode(t, err)
}

func (f *fixture) tokenWorks(t *testing.T, token string) bool {
	t.Helper()
	return f.tokenErr(t, token) == 0
}

func TestMsgSecCheck(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice := f.login(t, app1, "alice")
	tok, err := f.client.StableToken(ctx, wechat.App{AppID: app1, Secret: secret}, false)
	require.NoError(t, err)
	f.wx.SetVerdict("bad", wechat.SuggestRisky)
	f.wx.SetVerdict("odd", wechat.SuggestReview)

	for content, want := range map[string]string{"hello": "pass", "so bad": "risky", "odd one": "review", "odd and bad": "risky"} {
		v, err := f.client.MsgSecCheck(ctx, tok.AccessToken, alice.OpenID, 1, content)
		require.NoError(t, err, content)
		require.Equal(t, want, v.Suggest, content)
		require.Equal(t, want == "pass", v.Label == 100, content)
	}
	f.wx.SetVerdict("bad", "pass")
	v, err := f.client.MsgSecCheck(ctx, tok.AccessToken, alice.OpenID, 1, "so bad")
	require.NoError(t, err)
	require.Equal(t, "pass", v.Suggest)

	_, err = f.client.MsgSecCheck(ctx, tok.AccessToken, alice.OpenID, 9, "hello")
	require.Equal(t, 47001, errcode(t, err), "bad scene")
	_, err = f.client.MsgSecCheck(ctx, tok.AccessToken, "o-unknown", 1, "hello")
	require.Equal(t, 61010, errcode(t, err), "an openid the app never saw")
	_, err = f.client.MsgSecCheck(ctx, "not-a-token", alice.OpenID, 1, "hello")
	require.ErrorIs(t, err, wechat.ErrInvalidToken)

	// Two hours without a login: 61010 until the user logs in again.
	f.clock.Advance(wechattest.MsgSecCheckWindow + time.Minute)
	tok, err = f.client.StableToken(ctx, wechat.App{AppID: app1, Secret: secret}, false)
	require.NoError(t, err)
	_, err = f.client.MsgSecCheck(ctx, tok.AccessToken, alice.OpenID, 1, "hello")
	require.Equal(t, 61010, errcode(t, err))
	f.login(t, app1, "alice")
	_, err = f.client.MsgSecCheck(ctx, tok.AccessToken, alice.OpenID, 1, "hello")
	require.NoError(t, err)
}
