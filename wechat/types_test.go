package wechat_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/wechat"
)

func TestSecretsAreRedacted(t *testing.T) {
	const secret = "sup3r-s3cret-value"
	tests := []struct {
		name  string
		value any
		keep  string
	}{
		{name: "app", value: wechat.App{AppID: "wxappid", Secret: secret}, keep: "wxappid"},
		{name: "session", value: wechat.Session{OpenID: "oOPENID", UnionID: "oUNION", SessionKey: secret}, keep: "oOPENID"},
		{name: "token", value: wechat.Token{AccessToken: secret, ExpiresIn: 2 * time.Hour}, keep: "2h0m0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
				out := fmt.Sprintf(verb, tc.value)
				require.NotContains(t, out, secret, verb)
				require.Contains(t, out, tc.keep, verb)
				out = fmt.Sprintf(verb, &tc.value)
				require.NotContains(t, out, secret, verb)
			}
			var buf bytes.Buffer
			for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
				slog.New(h).Info("x", "v", tc.value)
			}
			require.NotContains(t, buf.String(), secret)
			require.Contains(t, buf.String(), tc.keep)
			require.Contains(t, buf.String(), "[redacted]")
		})
	}
}

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		code  int
		class error
	}{
		{40029, wechat.ErrInvalidCode}, {40163, wechat.ErrInvalidCode}, {40226, wechat.ErrUserBlocked},
		{45011, wechat.ErrRateLimited}, {-1, wechat.ErrUnavailable},
		{40001, wechat.ErrInvalidToken}, {40014, wechat.ErrInvalidToken}, {42001, wechat.ErrInvalidToken},
		{40013, wechat.ErrBadCredentials}, {40125, wechat.ErrBadCredentials}, {41002, wechat.ErrBadCredentials}, {41004, wechat.ErrBadCredentials},
		{87009, wechat.ErrInvalidSignature}, {40097, wechat.ErrUpstream}, {99999, wechat.ErrUpstream},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			err := error(&wechat.Error{Code: tc.code, Msg: "m"})
			require.ErrorIs(t, err, tc.class)
			require.Equal(t, fmt.Sprintf("wechat: errcode %d: m", tc.code), err.Error())
		})
	}
	require.Equal(t, "wechat: jscode2session: errcode 40029: invalid code",
		(&wechat.Error{API: "jscode2session", Code: 40029, Msg: "invalid code"}).Error())
}
