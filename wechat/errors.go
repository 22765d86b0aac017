package wechat

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Sentinel error classes. Every error the Client returns wraps exactly one of
// them; test with errors.Is.
var (
	// ErrInvalidCode: WeChat rejected the code (40029 invalid or expired,
	// 40163 already used, 41008 missing), for jscode2session and
	// getuserphonenumber alike. A fresh code from wx.login() may succeed.
	ErrInvalidCode = errors.New("invalid code")
	// ErrUserBlocked: WeChat's risk control blocks this user (40226). A
	// fresh code will be refused too: retrying cannot help.
	ErrUserBlocked = errors.New("user blocked by wechat risk control")
	// ErrRateLimited: WeChat answered 45011 (minute quota; retry next
	// minute) or 45009 (daily quota).
	ErrRateLimited = errors.New("rate limited by wechat")
	// ErrUnavailable: WeChat answered -1, an HTTP status other than 200, a
	// body that is not a JSON object, too large or lacking required fields,
	// or the call timed out or failed in transport.
	ErrUnavailable = errors.New("wechat unavailable")
	// ErrInvalidToken: the access token was rejected (40001, 40014, 42001,
	// 41001 missing). Refresh it once, shared, and retry once.
	ErrInvalidToken = errors.New("invalid access token")
	// ErrBadCredentials: the app is misconfigured (40013 invalid appid,
	// 40125 invalid appsecret, 41002/41004 appid/secret missing, 40164 IP
	// not whitelisted, 40243 secret frozen).
	ErrBadCredentials = errors.New("bad app credentials")
	// ErrInvalidSignature: checksession answered 87009, the session key is
	// no longer the current one.
	ErrInvalidSignature = errors.New("invalid signature")
	// ErrUpstream: any other errcode.
	ErrUpstream = errors.New("wechat error")
)

// Error is an errcode answer from WeChat. Msg is WeChat's errmsg, trimmed
// and scrubbed of anything the request carried that is secret; it is safe
// to log. Unwrap returns the sentinel class of Code.
type Error struct {
	// API is the short name of the call ("jscode2session", "stable_token",
	// "token", "getuserphonenumber", "checksession", "resetusersessionkey");
	// empty when the Error was built by hand.
	API  string
	Code int
	Msg  string
}

// Error reads like "wechat: jscode2session: errcode 40029: invalid code".
func (e *Error) Error() string {
	if e.API == "" {
		return fmt.Sprintf("wechat: errcode %d: %s", e.Code, e.Msg)
	}
	return fmt.Sprintf("wechat: %s: errcode %d: %s", e.API, e.Code, e.Msg)
}

// Unwrap returns the sentinel class of the errcode, so errors.Is(err,
// ErrInvalidCode) and friends work.
func (e *Error) Unwrap() error { return ClassOf(e.Code) }

// ClassOf maps a WeChat errcode to its sentinel class; 0 maps to nil.
func ClassOf(code int) error {
	switch code {
	case 0:
		return nil
	case 40029, 40163, 41008:
		return ErrInvalidCode
	case 40226:
		return ErrUserBlocked
	case 45011, 45009:
		return ErrRateLimited
	case -1:
		return ErrUnavailable
	case 40001, 40014, 42001, 41001:
		return ErrInvalidToken
	case 40013, 40125, 41002, 41004, 40164, 40243:
		return ErrBadCredentials
	case 87009:
		return ErrInvalidSignature
	default:
		return ErrUpstream
	}
}

// Classified returns err, a failure of a call to WeChat, with one of the
// sentinel classes above: an error that already has one stays as it is, a
// context deadline or cancellation that cut the call short (waiting for a
// shared access-token refresh, say) becomes ErrUnavailable, anything else
// stays unclassified. Nil stays nil.
func Classified(err error) error {
	if err == nil || hasClass(err) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &unavailableError{api: "call", detail: "cut short", cause: err}
	}
	return err
}

// hasClass reports whether err wraps one of the sentinel classes.
func hasClass(err error) bool {
	for _, class := range []error{ErrInvalidCode, ErrUserBlocked, ErrRateLimited, ErrUnavailable,
		ErrInvalidToken, ErrBadCredentials, ErrInvalidSignature, ErrUpstream} {
		if errors.Is(err, class) {
			return true
		}
	}
	return false
}

// unavailableError is an ErrUnavailable with a scrubbed detail and, for
// transport failures, the underlying cause (never a *url.Error, whose text
// holds the full URL).
type unavailableError struct {
	api    string
	detail string
	cause  error
}

// Error reads like "wechat: jscode2session: wechat unavailable: timeout".
func (e *unavailableError) Error() string {
	return "wechat: " + e.api + ": " + ErrUnavailable.Error() + ": " + e.detail
}

// Unwrap returns ErrUnavailable and the transport cause, if any.
func (e *unavailableError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.cause}
}

// localError is a request refused before it reached WeChat.
func localError(api, detail string, class error) error {
	return fmt.Errorf("wechat: %s: %s: %w", api, detail, class)
}

// resultLabel names the class of err for the requests counter.
func resultLabel(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrInvalidCode):
		return "invalid_code"
	case errors.Is(err, ErrUserBlocked):
		return "user_blocked"
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrInvalidToken):
		return "invalid_token"
	case errors.Is(err, ErrBadCredentials):
		return "bad_credentials"
	case errors.Is(err, ErrInvalidSignature):
		return "invalid_signature"
	default:
		return "upstream_error"
	}
}

var urlQuery = regexp.MustCompile(`(?i)(https?://[^\s?"']*)\?[^\s"']*`)

const maxMsgLen = 256

// scrub removes every non-empty secret and any URL query string from s, and
// caps it to a log-friendly length of valid UTF-8.
func scrub(s string, secrets ...string) string {
	for _, x := range secrets {
		if x != "" {
			s = strings.ReplaceAll(s, x, redacted)
		}
	}
	s = urlQuery.ReplaceAllString(s, "$1?"+redacted)
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > maxMsgLen {
		cut := maxMsgLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
