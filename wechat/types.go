package wechat

import (
	"fmt"
	"log/slog"
	"time"
)

const redacted = "[redacted]"

// App is one mini-program account: its appid and AppSecret.
//
// String, GoString and LogValue redact the secret; JSON encoding does not,
// so never marshal an App into logs or answers.
type App struct {
	AppID  string
	Secret string
}

// String describes the app without its secret.
func (a App) String() string {
	return fmt.Sprintf("wechat.App{AppID: %q, Secret: %s}", a.AppID, redactIfSet(a.Secret))
}

// GoString is String, so %#v does not print the secret either.
func (a App) GoString() string { return a.String() }

// LogValue implements slog.LogValuer without the secret.
func (a App) LogValue() slog.Value {
	return slog.GroupValue(slog.String("appid", a.AppID), slog.String("secret", redactIfSet(a.Secret)))
}

// Session is jscode2session's answer. UnionID is empty when the app is not
// bound to an open-platform account.
//
// String, GoString and LogValue redact the session key.
type Session struct {
	OpenID     string
	UnionID    string
	SessionKey string
}

// String describes the session without its session key.
func (s Session) String() string {
	return fmt.Sprintf("wechat.Session{OpenID: %q, UnionID: %q, SessionKey: %s}", s.OpenID, s.UnionID, redactIfSet(s.SessionKey))
}

// GoString is String, so %#v does not print the session key either.
func (s Session) GoString() string { return s.String() }

// LogValue implements slog.LogValuer without the session key.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("openid", s.OpenID),
		slog.String("unionid", s.UnionID),
		slog.String("session_key", redactIfSet(s.SessionKey)),
	)
}

// Token is an access token and its lifetime as WeChat announced it.
//
// String, GoString and LogValue redact the token. JSON encoding keeps it (a
// cluster shares one token through its cache).
type Token struct {
	AccessToken string
	ExpiresIn   time.Duration
}

// String describes the token without its value.
func (t Token) String() string {
	return fmt.Sprintf("wechat.Token{AccessToken: %s, ExpiresIn: %s}", redactIfSet(t.AccessToken), t.ExpiresIn)
}

// GoString is String, so %#v does not print the token either.
func (t Token) GoString() string { return t.String() }

// LogValue implements slog.LogValuer without the token.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_token", redactIfSet(t.AccessToken)),
		slog.Duration("expires_in", t.ExpiresIn),
	)
}

// PhoneInfo is a phone number verified by WeChat, from either form of
// getPhoneNumber. CountryCode is always a string here, whatever type WeChat
// used.
type PhoneInfo struct {
	PhoneNumber     string    `json:"phoneNumber"`
	PurePhoneNumber string    `json:"purePhoneNumber"`
	CountryCode     string    `json:"countryCode"`
	Watermark       Watermark `json:"watermark"`
}

// Watermark says when and for which app WeChat produced a payload.
type Watermark struct {
	Timestamp int64  `json:"timestamp"`
	AppID     string `json:"appid"`
}

func redactIfSet(s string) string {
	if s == "" {
		return `""`
	}
	return redacted
}

// MaxCodeLen bounds the codes wx.login and the getPhoneNumber button give
// (real ones are 32 characters).
const MaxCodeLen = 128

// WellFormedCode reports whether code has the shape of a WeChat code: 1 to
// MaxCodeLen bytes of printable ASCII, without spaces. Anything else (control
// characters, non-ASCII letters) is refused before it is sent to WeChat.
func WellFormedCode(code string) bool {
	if code == "" || len(code) > MaxCodeLen {
		return false
	}
	for i := 0; i < len(code); i++ {
		if c := code[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}
