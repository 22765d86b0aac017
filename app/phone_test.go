package app_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/internal/testenv"
	"github.com/wxid/wxid/phone"
	"github.com/wxid/wxid/sealer"
	"github.com/wxid/wxid/wechat/wechattest"
)

const phoneMutation = `mutation($encryptedData: String, $iv: String, $code: String) {
  decryptPhoneNumber(input: {encryptedData: $encryptedData, iv: $iv, code: $code}) {
    phoneNumber purePhoneNumber countryCode
    user { id phoneNumber purePhoneNumber countryCode }
  }
}`

type phonePayload struct {
	PhoneNumber     string
	PurePhoneNumber string
	CountryCode     string
	User            phoneUser
}

type phoneUser struct {
	ID              string
	PhoneNumber     *string
	PurePhoneNumber *string
	CountryCode     *string
}

// phoneVars builds the mutation's variables; "" leaves a variable out.
func phoneVars(encryptedData, iv, code string) map[string]any {
	vars := map[string]any{}
	for k, v := range map[string]string{"encryptedData": encryptedData, "iv": iv, "code": code} {
		if v != "" {
			vars[k] = v
		}
	}
	return vars
}

func decryptPhone(t *testing.T, e *apptest.Env, skey string, vars map[string]any) phonePayload {
	t.Helper()
	var out struct{ DecryptPhoneNumber phonePayload }
	e.Do(t, skey, phoneMutation, vars).Decode(t, &out)
	return out.DecryptPhoneNumber
}

func phoneMe(t *testing.T, e *apptest.Env, skey string) phoneUser {
	t.Helper()
	var out struct{ Me phoneUser }
	e.Do(t, skey, `{ me { id phoneNumber purePhoneNumber countryCode } }`, nil).Decode(t, &out)
	return out.Me
}

func requirePhone(t *testing.T, u phoneUser, number, pure, cc string) {
	t.Helper()
	require.NotNil(t, u.PhoneNumber)
	require.Equal(t, number, *u.PhoneNumber)
	require.Equal(t, pure, *u.PurePhoneNumber)
	require.Equal(t, cc, *u.CountryCode)
}

func TestPhoneEncryptedData(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Memcached: backend == apptest.MySQL})
		l := e.Login(t, "", "alice")
		require.Nil(t, phoneMe(t, e, l.Skey).PhoneNumber)

		data, iv, err := e.WeChat.EncryptPhone(apptest.AppID, "alice", "+8613800138000", "86")
		require.NoError(t, err)
		got := decryptPhone(t, e, l.Skey, phoneVars(data, iv, ""))
		require.Equal(t, "+8613800138000", got.PhoneNumber)
		require.Equal(t, "13800138000", got.PurePhoneNumber)
		require.Equal(t, "86", got.CountryCode)
		require.Equal(t, l.User.ID, got.User.ID)
		requirePhone(t, got.User, "+8613800138000", "13800138000", "86")
		requirePhone(t, phoneMe(t, e, l.Skey), "+8613800138000", "13800138000", "86")

		// A new number replaces the old one; a numeric countryCode and '+'
		// mangled into spaces by form encoding are fine.
		var mangled string
		for range 50 {
			data, iv, err = e.WeChat.Encrypt(apptest.AppID, "alice", map[string]any{
				"phoneNumber": "+15551234567", "purePhoneNumber": "5551234567", "countryCode": 1,
				"watermark": map[string]any{"timestamp": 1, "appid": apptest.AppID}, // an old watermark is fine
			})
			require.NoError(t, err)
			if strings.Contains(data, "+") {
				mangled = strings.ReplaceAll(data, "+", " ")
				break
			}
		}
		require.NotEmpty(t, mangled, "no ciphertext with '+' in 50 tries")
		got = decryptPhone(t, e, l.Skey, phoneVars(mangled, iv, ""))
		require.Equal(t, "1", got.CountryCode)
		requirePhone(t, phoneMe(t, e, l.Skey), "+15551234567", "5551234567", "1")
		require.Equal(t, 0, e.WeChat.Count(wechattest.APIStableToken), "the old form needs no access token")
	})
}

func TestPhoneCode(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Memcached: backend == apptest.MySQL})
		l := e.Login(t, "", "bob")
		code := e.WeChat.PhoneCode(apptest.AppID, "bob", "+8613900139000", "86")
		got := decryptPhone(t, e, l.Skey, phoneVars("", "", code))
		require.Equal(t, "+8613900139000", got.PhoneNumber)
		require.Equal(t, "13900139000", got.PurePhoneNumber)
		requirePhone(t, phoneMe(t, e, l.Skey), "+8613900139000", "13900139000", "86")

		// The code is single use.
		r := e.Do(t, l.Skey, phoneMutation, phoneVars("", "", code))
		require.Equal(t, "INVALID_CODE", r.Code(), r.Body)
		r = e.Do(t, l.Skey, phoneMutation, phoneVars("", "", "not-a-real-code"))
		require.Equal(t, "INVALID_CODE", r.Code(), r.Body)

		// countryCode as a JSON number.
		e.WeChat.PhoneNumberCountryCodeAsNumber(true)
		got = decryptPhone(t, e, l.Skey, phoneVars("", "", e.WeChat.PhoneCode(apptest.AppID, "bob", "+85261234567", "852")))
		require.Equal(t, "852", got.CountryCode)
		require.Equal(t, "61234567", got.PurePhoneNumber)

		// Another app of the same person has its own token; the number is
		// the person's (one user through the unionid).
		l2 := e.Login(t, apptest.AppID2, "bob")
		require.Equal(t, l.User.ID, l2.User.ID)
		got = decryptPhone(t, e, l2.Skey, phoneVars("", "", e.WeChat.PhoneCode(apptest.AppID2, "bob", "+8613700137000", "")))
		require.Equal(t, "+8613700137000", got.PhoneNumber)
		requirePhone(t, phoneMe(t, e, l.Skey), "+8613700137000", "13700137000", "86")
		// A code of the other app does not work with this session's app.
		r = e.Do(t, l2.Skey, phoneMutation, phoneVars("", "", e.WeChat.PhoneCode(apptest.AppID, "bob", "+8613700137000", "")))
		require.Equal(t, "INVALID_CODE", r.Code(), r.Body)

		require.Equal(t, 2, e.WeChat.Count(wechattest.APIStableToken), "one token per app, reused")
	})
}

func TestPhoneBadInput(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Memcached: backend == apptest.MySQL})
		l := e.Login(t, "", "carol")
		data, iv, err := e.WeChat.EncryptPhone(apptest.AppID, "carol", "+8613800138000", "")
		require.NoError(t, err)
		b64 := base64.StdEncoding.EncodeToString
		tests := []struct {
			name string
			vars map[string]any
		}{
			{"neither form", phoneVars("", "", "")},
			{"only empty strings", map[string]any{"encryptedData": "", "iv": "", "code": ""}},
			{"both forms", phoneVars(data, iv, "some-code")},
			{"code and iv", phoneVars("", iv, "some-code")},
			{"encryptedData without iv", phoneVars(data, "", "")},
			{"iv without encryptedData", phoneVars("", iv, "")},
			{"encryptedData not base64", phoneVars("%%%not*base64%%%", iv, "")},
			{"encryptedData URL-encoded", phoneVars(strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(data), iv, "")},
			{"encryptedData url-safe alphabet", phoneVars(strings.NewReplacer("+", "-", "/", "_").Replace(data), iv, "")},
			{"encryptedData without padding", phoneVars(strings.TrimRight(b64(make([]byte, 32))[:43], "="), iv, "")},
			{"encryptedData not a multiple of 16", phoneVars(b64(make([]byte, 40)), iv, "")},
			{"encryptedData one short block", phoneVars(b64(make([]byte, 15)), iv, "")},
			{"encryptedData too long", phoneVars(b64(make([]byte, 6000)), iv, "")},
			{"iv 12 bytes", phoneVars(data, b64(make([]byte, 12)), "")},
			{"iv 32 bytes", phoneVars(data, b64(make([]byte, 32)), "")},
			{"iv not base64", phoneVars(data, "!!!!!!!!!!!!!!!!!!!!!!!!", "")},
			{"code with a space", phoneVars("", "", "two words")},
			{"code too long", phoneVars("", "", strings.Repeat("x", 200))},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.Do(t, l.Skey, phoneMutation, tc.vars)
				require.Equal(t, http.StatusOK, r.Status, r.Body)
				require.Equal(t, "BAD_USER_INPUT", r.Code(), r.Body)
				require.Equal(t, []any{"decryptPhoneNumber"}, r.Errors[0].Path)
			})
		}
		require.Nil(t, phoneMe(t, e, l.Skey).PhoneNumber, "nothing stored")
		require.Zero(t, e.WeChat.Count(wechattest.APIGetUserPhoneNumber))
		require.NotContains(t, e.Logs.String(), "panic")
	})
}

func TestPhoneDecryptFailed(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Memcached: backend == apptest.MySQL})
		l := e.Login(t, "", "dave")
		encrypt := func(payload any) map[string]any {
			data, iv, err := e.WeChat.Encrypt(apptest.AppID, "dave", payload)
			require.NoError(t, err)
			return phoneVars(data, iv, "")
		}
		watermark := func(appID string) map[string]any { return map[string]any{"timestamp": 1700000000, "appid": appID} }
		valid, validIV, err := e.WeChat.EncryptPhone(apptest.AppID, "dave", "+8613800138000", "")
		require.NoError(t, err)
		raw, err := base64.StdEncoding.DecodeString(valid)
		require.NoError(t, err)
		flipped := append([]byte(nil), raw...)
		flipped[len(flipped)-1] ^= 0x01 // the padding breaks

		tests := []struct {
			name string
			vars map[string]any
		}{
			{"watermark of another app", encrypt(map[string]any{
				"phoneNumber": "+8613800138000", "purePhoneNumber": "13800138000", "countryCode": "86", "watermark": watermark(apptest.AppID2)})},
			{"no watermark", encrypt(map[string]any{"phoneNumber": "+8613800138000", "purePhoneNumber": "13800138000", "countryCode": "86"})},
			{"user profile instead of a phone number", encrypt(map[string]any{"nickName": "dave", "gender": 1, "watermark": watermark(apptest.AppID)})},
			{"empty phone number", encrypt(map[string]any{"phoneNumber": "", "purePhoneNumber": "", "countryCode": "86", "watermark": watermark(apptest.AppID)})},
			{"not JSON", encrypt("just a string")},
			{"bad padding", phoneVars(base64.StdEncoding.EncodeToString(flipped), validIV, "")},
			{"another iv", phoneVars(valid, base64.StdEncoding.EncodeToString(make([]byte, 16)), "")},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.Do(t, l.Skey, phoneMutation, tc.vars)
				require.Equal(t, "DECRYPT_FAILED", r.Code(), r.Body)
				require.Equal(t, phone.MsgDecryptFailed, r.Errors[0].Message, "one message for every failure")
			})
		}

		// A later wx.login rotates the session_key: data encrypted under
		// the old one fails; after logging in again the new data works.
		stale, staleIV, err := e.WeChat.EncryptPhone(apptest.AppID, "dave", "+8613800138000", "")
		require.NoError(t, err)
		l2 := e.Login(t, "", "dave")
		for _, skey := range []string{l.Skey, l2.Skey} {
			r := e.Do(t, skey, phoneMutation, phoneVars(stale, staleIV, ""))
			require.Equal(t, "DECRYPT_FAILED", r.Code(), r.Body)
			require.Equal(t, phone.MsgDecryptFailed, r.Errors[0].Message)
		}
		fresh, freshIV, err := e.WeChat.EncryptPhone(apptest.AppID, "dave", "+8613800138000", "")
		require.NoError(t, err)
		decryptPhone(t, e, l2.Skey, phoneVars(fresh, freshIV, ""))
		requirePhone(t, phoneMe(t, e, l.Skey), "+8613800138000", "13800138000", "86")
	})
}

func TestPhoneNeedsSession(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	code := e.WeChat.PhoneCode(apptest.AppID, "erin", "+8613800138000", "")
	for _, skey := range []string{"", "not-a-valid-skey"} {
		r := e.Do(t, skey, phoneMutation, phoneVars("", "", code))
		require.Equal(t, "UNAUTHENTICATED", r.Code(), r.Body)
	}
	l := e.Login(t, "", "erin")
	apptest.Must(t, e.Do(t, l.Skey, `mutation { logout }`, nil))
	r := e.Do(t, l.Skey, phoneMutation, phoneVars("", "", code))
	require.Equal(t, "UNAUTHENTICATED", r.Code(), r.Body)
	require.Zero(t, e.WeChat.Count(wechattest.APIGetUserPhoneNumber))
}

func TestPhoneTokenRejected(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	l := e.Login(t, "", "frank")
	decryptPhone(t, e, l.Skey, phoneVars("", "", e.WeChat.PhoneCode(apptest.AppID, "frank", "+8613800138000", "")))
	require.Equal(t, 1, e.WeChat.Count(wechattest.APIStableToken))

	// Expired upstream: one refresh, one retry, success.
	e.WeChat.ExpireTokens()
	decryptPhone(t, e, l.Skey, phoneVars("", "", e.WeChat.PhoneCode(apptest.AppID, "frank", "+8613800138001", "")))
	require.Equal(t, 2, e.WeChat.Count(wechattest.APIStableToken))
	require.Equal(t, 3, e.WeChat.Count(wechattest.APIGetUserPhoneNumber))

	// Rejected twice: no loop, a coded error.
	e.WeChat.Fail(wechattest.APIGetUserPhoneNumber, wechattest.Fault{Errcode: 40001, Errmsg: "invalid credential", Times: 2})
	before := e.WeChat.Count(wechattest.APIGetUserPhoneNumber)
	r := e.Do(t, l.Skey, phoneMutation, phoneVars("", "", e.WeChat.PhoneCode(apptest.AppID, "frank", "+8613800138002", "")))
	require.Equal(t, "INTERNAL", r.Code(), r.Body)
	require.Equal(t, before+2, e.WeChat.Count(wechattest.APIGetUserPhoneNumber))

	// WeChat down: WECHAT_UNAVAILABLE.
	e.WeChat.Fail(wechattest.APIGetUserPhoneNumber, wechattest.Fault{HTTPStatus: 502})
	r = e.Do(t, l.Skey, phoneMutation, phoneVars("", "", e.WeChat.PhoneCode(apptest.AppID, "frank", "+8613800138003", "")))
	require.Equal(t, "WECHAT_UNAVAILABLE", r.Code(), r.Body)
	e.WeChat.Fail(wechattest.APIGetUserPhoneNumber, wechattest.Fault{Errcode: 45011, Errmsg: "quota"})
	r = e.Do(t, l.Skey, phoneMutation, phoneVars("", "", e.WeChat.PhoneCode(apptest.AppID, "frank", "+8613800138003", "")))
	require.Equal(t, "WECHAT_RATE_LIMITED", r.Code(), r.Body)

	// Fetches and refreshes are in the metrics; numbers are not in the log.
	resp, err := http.Get(e.Server.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), `wxid_access_token_fetches_total{mode="force",result="ok"} 1`)
	require.Contains(t, string(body), `wxid_access_token_refreshes_total{outcome="fetched",reason="rejected"} 2`)
	logs := e.Logs.String()
	require.Contains(t, logs, "phone number verified")
	require.Contains(t, logs, "+86138****8000")
	require.NotContains(t, logs, "13800138000")
	require.NotContains(t, logs, "13800138001")
}

// TestPhoneCluster runs three wxid instances on one database, one memcached
// and one WeChat: they share one access token.
func TestPhoneCluster(t *testing.T) {
	mc := testenv.StartMemcached(t)
	upstream := apptest.NewUpstream(t, apptest.NewClock())
	// One WXID_SECRET_KEY, as in production: a session_key sealed by one
	// instance opens on the others.
	secretKey := map[string]string{"WXID_SECRET_KEY": base64.StdEncoding.EncodeToString(sealer.GenerateKey())}
	first := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcache: mc, WeChat: upstream, Env: secretKey})
	envs := []*apptest.Env{first}
	for range 2 {
		envs = append(envs, apptest.New(t, apptest.Options{
			Backend: apptest.MySQL, Memcache: mc, WeChat: upstream, DatabaseURL: first.DatabaseURL, Env: secretKey,
		}))
	}

	const users = 48
	skeys := make([]string, users)
	for i := range skeys {
		skeys[i] = envs[i%3].Login(t, "", "user"+string(rune('A'+i))).Skey
	}
	run := func(round int) {
		var wg sync.WaitGroup
		errs := make(chan string, users)
		for i, skey := range skeys {
			code := upstream.PhoneCode(apptest.AppID, "user"+string(rune('A'+i)), "+86138001380"+string(rune('0'+round)), "")
			e := envs[(i+round)%3] // not the instance the user logged in on
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := e.Do(t, skey, phoneMutation, phoneVars("", "", code)); len(r.Errors) > 0 {
					errs <- r.Body
				}
			}()
		}
		wg.Wait()
		close(errs)
		for body := range errs {
			t.Errorf("round %d: %s", round, body)
		}
	}

	run(1)
	require.Equal(t, 1, upstream.Count(wechattest.APIStableToken), "one token fetch for the cluster")

	upstream.ExpireTokens()
	run(2)
	require.Equal(t, 2, upstream.Count(wechattest.APIStableToken), "one refresh for the cluster, not one per instance")
	require.LessOrEqual(t, upstream.Count(wechattest.APIGetUserPhoneNumber), 3*users, "at most one retry per call")
	t.Logf("%d users on 3 instances: %d stable_token fetches, %d getuserphonenumber calls over two rounds",
		users, upstream.Count(wechattest.APIStableToken), upstream.Count(wechattest.APIGetUserPhoneNumber))

	// Every instance sees the stored number.
	for i, e := range envs {
		requirePhone(t, phoneMe(t, e, skeys[i]), "+861380013802", "1380013802", "86")
	}

	// The old form: logged in on one instance, decrypted on another.
	data, iv, err := upstream.EncryptPhone(apptest.AppID, "userA", "+8613800138000", "")
	require.NoError(t, err)
	got := decryptPhone(t, envs[1], skeys[0], phoneVars(data, iv, ""))
	require.Equal(t, "13800138000", got.PurePhoneNumber)
}
