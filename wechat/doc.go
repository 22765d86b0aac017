// Package wechat talks to WeChat's server API for mini-programs and
// implements the encryptedData cryptography.
//
// The Client exchanges wx.login codes (jscode2session), fetches stable
// access tokens (cgi-bin/stable_token) and resolves the new-form
// phone-number codes (wxa/business/getuserphonenumber). Every error it
// returns wraps exactly one of the sentinel errors (ErrInvalidCode,
// ErrUserBlocked, ErrRateLimited, ErrUnavailable,
// ErrInvalidToken, ErrBadCredentials, ErrInvalidSignature, ErrUpstream), so
// callers branch with errors.Is; errcode answers are *Error values reachable
// with errors.As.
//
// Error messages never contain the AppSecret, a session_key, an access token,
// a wx.login code or a URL query string, and the types holding secrets
// redact them in String, GoString and slog's LogValue.
//
// Decrypt and DecryptPhoneNumber handle getPhoneNumber's old form (and
// wx.getUserInfo's encryptedData): AES-128-CBC with strict PKCS#7. Input that
// is malformed before any cryptography yields ErrMalformed; every failure
// after decryption starts yields the single value ErrDecrypt, so the caller
// is no padding oracle.
//
// Package wechattest holds an in-process stand-in for the WeChat API used by
// tests and by the server's sandbox mode.
package wechat
