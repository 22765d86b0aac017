package phone_test

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/errmap"
	"github.com/wxid/wxid/identity"
	"github.com/wxid/wxid/internal/testenv"
	"github.com/wxid/wxid/phone"
	"github.com/wxid/wxid/sealer"
	"github.com/wxid/wxid/session"
	"github.com/wxid/wxid/users"
	"github.com/wxid/wxid/wechat"
)

const (
	appID      = "wxa1b2c3d4e5f60718"
	otherApp   = "wxffffffffffffffff"
	openID     = "oAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	sessionKey = "ABEiM0RVZneImaq7zN3u/w=="
	// An OpenSSL vector (see wechat/crypto_test.go): the phone payload for
	// appID under sessionKey and vecIV; its base64 holds '+'.
	vecIV    = "Dw4NDAsKCQgHBgUEAwIBAA=="
	vecPhone = "1V8KOhSP88/xtQLb10/d2E6PfBOCYV43a4lfBkWHSaAcWzoT8KbxWWizfP3ObhwGloif9Hg4hj7ZdRSlNKbZ+u4GnH9UYZ5iVzqi5X1+87lfNsE3h63N+rZm4stOKzwKpSE1DNf2MJ/aGQI1LEUmFuC6+CVGlRFP12K04Nvpjk14lT2cxS9YNlm2VWemOWKrwoHGv2pbEx0oI+cLHN51kg=="
)

// upstream is a scripted getuserphonenumber.
type upstream struct {
	info  wechat.PhoneInfo
	err   error
	calls int
}

func (u *upstream) GetUserPhoneNumber(_ context.Context, tok, code string) (wechat.PhoneInfo, error) {
	u.calls++
	if tok != "token" {
		return wechat.PhoneInfo{}, errors.New("unexpected token")
	}
	if code != "phone-code" {
		return wechat.PhoneInfo{}, &wechat.Error{API: "getuserphonenumber", Code: 40029, Msg: "invalid code"}
	}
	return u.info, u.err
}

// tokens hands out "token" and never refreshes.
type tokens struct{}

func (tokens) Do(ctx context.Context, _ wechat.App, call func(context.Context, string) error) error {
	return call(ctx, "token")
}

type fixture struct {
	svc      *phone.Service
	db       *ent.Client
	up       *upstream
	caller   session.Info
	now      time.Time
	sealer   *sealer.Sealer
	openIDID int
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testenv.OpenDatabase(t, testenv.SQLite(t))
	s, err := sealer.New(sealer.GenerateKey())
	require.NoError(t, err)
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	u := db.Client.User.Create().SaveX(ctx)
	oid := db.Client.OpenID.Create().SetUserID(u.ID).SetAppid(appID).SetOpenid(openID).
		SetSessionKey(s.Seal([]byte(sessionKey), users.SessionKeyAAD(appID, openID))).SaveX(ctx)
	up := &upstream{}
	apps := identity.Apps{Default: appID, Secrets: map[string]string{appID: "secret"}}
	svc := phone.NewService(db.Client, s, apps, tokens{}, up, phone.Options{
		Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler),
	})
	return &fixture{
		svc: svc, db: db.Client, up: up, now: now, sealer: s, openIDID: oid.ID,
		caller: session.Info{ID: 1, UserID: u.ID, OpenIDID: oid.ID, AppID: appID, OpenID: openID},
	}
}

func p(s string) *string { return &s }

func encrypt(t *testing.T, payload string) (data, iv string) {
	t.Helper()
	data, iv, err := wechat.Encrypt(sessionKey, []byte(payload))
	require.NoError(t, err)
	return data, iv
}

func TestOldForm(t *testing.T) {
	f := newFixture(t)
	res, err := f.svc.Verify(context.Background(), f.caller, phone.Input{EncryptedData: p(vecPhone), IV: p(vecIV)})
	require.NoError(t, err)
	require.Equal(t, "+8613800138000", res.PhoneNumber)
	require.Equal(t, "13800138000", res.PurePhoneNumber)
	require.Equal(t, "86", res.CountryCode)

	u := f.db.User.GetX(context.Background(), f.caller.UserID)
	require.Equal(t, "+8613800138000", *u.PhoneNumber)
	require.Equal(t, "13800138000", *u.PurePhoneNumber)
	require.Equal(t, "86", *u.CountryCode)
	require.True(t, f.now.Equal(*u.PhoneVerifiedAt))
	require.Equal(t, u.ID, res.User.ID)
	require.Equal(t, "+8613800138000", *res.User.PhoneNumber)
}

func TestOldFormRepairsSpaces(t *testing.T) {
	f := newFixture(t)
	require.Contains(t, vecPhone, "+")
	mangled := strings.ReplaceAll(vecPhone, "+", " ")
	res, err := f.svc.Verify(context.Background(), f.caller, phone.Input{EncryptedData: &mangled, IV: p(vecIV)})
	require.NoError(t, err)
	require.Equal(t, "13800138000", res.PurePhoneNumber)
}

func TestOldFormIgnoresWatermarkAge(t *testing.T) {
	f := newFixture(t)
	data, iv := encrypt(t, `{"phoneNumber":"+15551234567","purePhoneNumber":"5551234567","countryCode":1,"watermark":{"timestamp":1,"appid":"`+appID+`"}}`)
	res, err := f.svc.Verify(context.Background(), f.caller, phone.Input{EncryptedData: &data, IV: &iv})
	require.NoError(t, err)
	require.Equal(t, "1", res.CountryCode, "a numeric countryCode")
}

func TestBadInput(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name string
		in   phone.Input
	}{
		{name: "neither form", in: phone.Input{}},
		{name: "empty strings are absent", in: phone.Input{EncryptedData: p(""), IV: p(""), Code: p("")}},
		{name: "both forms", in: phone.Input{EncryptedData: p(vecPhone), IV: p(vecIV), Code: p("phone-code")}},
		{name: "code with iv", in: phone.Input{IV: p(vecIV), Code: p("phone-code")}},
		{name: "encryptedData without iv", in: phone.Input{EncryptedData: p(vecPhone)}},
		{name: "iv without encryptedData", in: phone.Input{IV: p(vecIV)}},
		{name: "data not base64", in: phone.Input{EncryptedData: p("!!!!not base64!!!!"), IV: p(vecIV)}},
		{name: "data url-safe base64", in: phone.Input{EncryptedData: p(strings.NewReplacer("+", "-", "/", "_").Replace(vecPhone)), IV: p(vecIV)}},
		{name: "data url-encoded", in: phone.Input{EncryptedData: p(strings.ReplaceAll(vecPhone, "+", "%2B")), IV: p(vecIV)}},
		{name: "data without padding", in: phone.Input{EncryptedData: p(strings.TrimRight(vecPhone, "=")), IV: p(vecIV)}},
		{name: "data with line break", in: phone.Input{EncryptedData: p(vecPhone[:40] + "\n" + vecPhone[40:]), IV: p(vecIV)}},
		{name: "data not a multiple of 16", in: phone.Input{EncryptedData: p(b64(make([]byte, 33))), IV: p(vecIV)}},
		{name: "data 15 bytes", in: phone.Input{EncryptedData: p(b64(make([]byte, 15))), IV: p(vecIV)}},
		{name: "data too long", in: phone.Input{EncryptedData: p(b64(make([]byte, 8192))), IV: p(vecIV)}},
		{name: "iv 12 bytes", in: phone.Input{EncryptedData: p(vecPhone), IV: p(b64(make([]byte, 12)))}},
		{name: "iv 17 bytes", in: phone.Input{EncryptedData: p(vecPhone), IV: p(b64(make([]byte, 17)))}},
		{name: "iv 24 chars of 18 bytes", in: phone.Input{EncryptedData: p(vecPhone), IV: p(b64(make([]byte, 18)))}},
		{name: "iv not base64", in: phone.Input{EncryptedData: p(vecPhone), IV: p("Dw4NDAsKCQgHBgUEAwIBAA*=")}},
		{name: "code with spaces", in: phone.Input{Code: p("phone code")}},
		{name: "code too long", in: phone.Input{Code: p(strings.Repeat("c", 129))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.svc.Verify(context.Background(), f.caller, tc.in)
			require.Equal(t, apperr.CodeBadUserInput, errmap.Code(err), "%v", err)
			require.Zero(t, f.up.calls)
			u := f.db.User.GetX(context.Background(), f.caller.UserID)
			require.Nil(t, u.PhoneNumber)
		})
	}
}

func TestDecryptFailuresAreUniform(t *testing.T) {
	payload := func(watermarkApp string, extra string) string {
		return `{` + extra + `"watermark":{"timestamp":1700000000,"appid":"` + watermarkApp + `"}}`
	}
	const number = `"phoneNumber":"+8613800138000","purePhoneNumber":"13800138000","countryCode":"86",`
	tests := []struct {
		name     string
		data, iv func(t *testing.T) (string, string)
	}{
		{name: "watermark of another app", data: func(t *testing.T) (string, string) { return encrypt(t, payload(otherApp, number)) }},
		{name: "no watermark", data: func(t *testing.T) (string, string) { return encrypt(t, `{`+strings.TrimSuffix(number, ",")+`}`) }},
		{name: "user profile, no phone", data: func(t *testing.T) (string, string) { return encrypt(t, payload(appID, `"nickName":"Band",`)) }},
		{name: "empty phone", data: func(t *testing.T) (string, string) {
			return encrypt(t, payload(appID, `"phoneNumber":"","purePhoneNumber":"","countryCode":"86",`))
		}},
		{name: "not JSON", data: func(t *testing.T) (string, string) { return encrypt(t, "0123456789abcdef") }},
		{name: "empty plaintext", data: func(t *testing.T) (string, string) { return encrypt(t, "") }},
		{name: "number too long", data: func(t *testing.T) (string, string) {
			return encrypt(t, payload(appID, `"phoneNumber":"+86`+strings.Repeat("1", 40)+`","purePhoneNumber":"1","countryCode":"86",`))
		}},
		{name: "wrong iv (bad padding)", data: func(*testing.T) (string, string) { return vecPhone, "AAAAAAAAAAAAAAAAAAAAAA==" }},
		{name: "other key (rotated session_key)", data: func(t *testing.T) (string, string) {
			d, iv, err := wechat.Encrypt("AAAAAAAAAAAAAAAAAAAAAA==", []byte(payload(appID, number)))
			require.NoError(t, err)
			return d, iv
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			data, iv := tc.data(t)
			_, err := f.svc.Verify(context.Background(), f.caller, phone.Input{EncryptedData: &data, IV: &iv})
			require.Equal(t, apperr.CodeDecryptFailed, errmap.Code(err), "%v", err)
			require.Equal(t, phone.MsgDecryptFailed, err.Error())
			require.Nil(t, f.db.User.GetX(context.Background(), f.caller.UserID).PhoneNumber)
		})
	}
}

func TestStoredKeyProblems(t *testing.T) {
	ctx := context.Background()
	t.Run("no session key stored", func(t *testing.T) {
		f := newFixture(t)
		f.db.OpenID.UpdateOneID(f.openIDID).ClearSessionKey().ExecX(ctx)
		_, err := f.svc.Verify(ctx, f.caller, phone.Input{EncryptedData: p(vecPhone), IV: p(vecIV)})
		require.Equal(t, apperr.CodeDecryptFailed, errmap.Code(err))
		require.Equal(t, phone.MsgDecryptFailed, err.Error())
	})
	t.Run("sealed under another secret key", func(t *testing.T) {
		f := newFixture(t)
		other, err := sealer.New(sealer.GenerateKey())
		require.NoError(t, err)
		f.db.OpenID.UpdateOneID(f.openIDID).SetSessionKey(other.Seal([]byte(sessionKey), users.SessionKeyAAD(appID, openID))).ExecX(ctx)
		_, err = f.svc.Verify(ctx, f.caller, phone.Input{EncryptedData: p(vecPhone), IV: p(vecIV)})
		require.Equal(t, apperr.CodeDecryptFailed, errmap.Code(err))
	})
	t.Run("sealed for another account", func(t *testing.T) {
		f := newFixture(t)
		f.db.OpenID.UpdateOneID(f.openIDID).SetSessionKey(f.sealer.Seal([]byte(sessionKey), users.SessionKeyAAD(appID, "someone-else"))).ExecX(ctx)
		_, err := f.svc.Verify(ctx, f.caller, phone.Input{EncryptedData: p(vecPhone), IV: p(vecIV)})
		require.Equal(t, apperr.CodeDecryptFailed, errmap.Code(err))
	})
	t.Run("session of another app", func(t *testing.T) {
		f := newFixture(t)
		caller := f.caller
		caller.AppID = otherApp
		_, err := f.svc.Verify(ctx, caller, phone.Input{EncryptedData: p(vecPhone), IV: p(vecIV)})
		require.Equal(t, apperr.CodeInternal, errmap.Code(err))
	})
	t.Run("session without its account", func(t *testing.T) {
		// Every session.Info carries its appid and openid; one that does
		// not names no account, and nothing is stored.
		f := newFixture(t)
		caller := f.caller
		caller.AppID, caller.OpenID = "", ""
		_, err := f.svc.Verify(ctx, caller, phone.Input{EncryptedData: p(vecPhone), IV: p(vecIV)})
		require.Equal(t, apperr.CodeInternal, apperr.CodeOf(err))
		require.Nil(t, f.db.User.GetX(ctx, f.caller.UserID).PhoneNumber)
	})
	t.Run("disabled user", func(t *testing.T) {
		f := newFixture(t)
		f.db.User.UpdateOneID(f.caller.UserID).SetDisabled(true).ExecX(ctx)
		_, err := f.svc.Verify(ctx, f.caller, phone.Input{EncryptedData: p(vecPhone), IV: p(vecIV)})
		require.Equal(t, apperr.CodeUnauthenticated, errmap.Code(err))
		require.Nil(t, f.db.User.GetX(ctx, f.caller.UserID).PhoneNumber)
	})
}

func TestCodeForm(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.up.info = wechat.PhoneInfo{PhoneNumber: "+8613800138000", PurePhoneNumber: "13800138000", CountryCode: "86",
		Watermark: wechat.Watermark{AppID: appID, Timestamp: 1}}
	res, err := f.svc.Verify(ctx, f.caller, phone.Input{Code: p("phone-code"), EncryptedData: p(""), IV: p("")})
	require.NoError(t, err)
	require.Equal(t, "+8613800138000", *res.User.PhoneNumber)
	require.Equal(t, "86", *f.db.User.GetX(ctx, f.caller.UserID).CountryCode)

	tests := []struct {
		name string
		info wechat.PhoneInfo
		err  error
		code string
	}{
		{name: "invalid code", err: &wechat.Error{Code: 40029, Msg: "invalid code"}, code: apperr.CodeInvalidCode},
		{name: "rate limited", err: &wechat.Error{Code: 45011, Msg: "quota"}, code: apperr.CodeWeChatRateLimited},
		{name: "system busy", err: &wechat.Error{Code: -1, Msg: "busy"}, code: apperr.CodeWeChatUnavailable},
		{name: "token still rejected", err: &wechat.Error{Code: 40001, Msg: "invalid credential"}, code: apperr.CodeInternal},
		{name: "number too long", info: wechat.PhoneInfo{PhoneNumber: strings.Repeat("1", 33)}, code: apperr.CodeWeChatUnavailable},
		{name: "another app's number", info: wechat.PhoneInfo{PhoneNumber: "1", Watermark: wechat.Watermark{AppID: otherApp}}, code: apperr.CodeInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.up.info, f.up.err = tc.info, tc.err
			_, err := f.svc.Verify(ctx, f.caller, phone.Input{Code: p("phone-code")})
			require.Equal(t, tc.code, errmap.Code(err), "%v", err)
			require.Nil(t, f.db.User.GetX(ctx, f.caller.UserID).PhoneNumber)
		})
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"+8613800138000": "+86138****8000",
		"13800138000":    "138****8000",
		"5551234":        "******4",
		"":               "",
	} {
		require.Equal(t, want, phone.Mask(in), in)
	}
	r := phone.Result{PhoneNumber: "+8613800138000", CountryCode: "86"}
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "phone", r)
	require.NotContains(t, buf.String(), "13800138000")
	require.Contains(t, buf.String(), "+86138****8000")
}

// FuzzVerify: whatever a client sends, the answer is a success or a coded
// client error, never a panic or INTERNAL.
func FuzzVerify(f *testing.F) {
	f.Add(vecPhone, vecIV, "")
	f.Add(strings.ReplaceAll(vecPhone, "+", " "), vecIV, "")
	f.Add(vecPhone[:len(vecPhone)-4], vecIV, "")
	f.Add("", "", "phone-code")
	f.Add("AAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAA==", "")
	f.Add("", "", "")
	fx := newFixture(f)
	fx.up.info = wechat.PhoneInfo{PhoneNumber: "+8613800138000", PurePhoneNumber: "13800138000", CountryCode: "86"}
	f.Fuzz(func(t *testing.T, data, iv, code string) {
		_, err := fx.svc.Verify(context.Background(), fx.caller, phone.Input{EncryptedData: &data, IV: &iv, Code: &code})
		switch c := errmap.Code(err); {
		case err == nil:
		case c == apperr.CodeBadUserInput, c == apperr.CodeDecryptFailed, c == apperr.CodeInvalidCode:
		default:
			t.Fatalf("unexpected %s: %v", c, err)
		}
	})
}
