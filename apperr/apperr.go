// Package apperr holds wxid's error codes and the errors that carry them.
//
// Domain packages return *Error for the failures a client can act on; the
// error mapper (package errmap), the one place that chooses what clients
// see, turns an *Error into a GraphQL error with extensions.code, codes the
// sentinel errors of other packages, and turns anything else into INTERNAL
// with the detail only in the server log. Message is safe to show to
// clients; Err keeps the debug detail and is never shown. apperr imports
// nothing of wxid's.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Codes carried in extensions.code (README, "Errors").
const (
	CodeUnauthenticated   = "UNAUTHENTICATED"
	CodeForbidden         = "FORBIDDEN"
	CodeBadUserInput      = "BAD_USER_INPUT"
	CodeInvalidCode       = "INVALID_CODE"
	CodeWeChatRateLimited = "WECHAT_RATE_LIMITED"
	CodeWeChatUnavailable = "WECHAT_UNAVAILABLE"
	CodeDecryptFailed     = "DECRYPT_FAILED"
	CodeInternal          = "INTERNAL"
	// CodeNotFound is for admin lookups of an ID that does not exist.
	CodeNotFound = "NOT_FOUND"
	// CodeBadRequest is a request the HTTP transport refuses before any
	// GraphQL runs: a body that is not JSON, an unsupported content type, a
	// mutation sent with GET.
	CodeBadRequest = "BAD_REQUEST"
	// CodeRateLimited is a wxid rate limit; extensions.retryAfter says when
	// to try again, in seconds.
	CodeRateLimited = "RATE_LIMITED"
	// CodeUnavailable is a backend wxid cannot do without (the database)
	// that is down, hung or saturated; safe to retry after
	// extensions.retryAfter seconds.
	CodeUnavailable = "UNAVAILABLE"
	// CodeQueryTimeout is a query the database stopped at its time limit
	// because it read too much: narrow it rather than retry.
	CodeQueryTimeout = "QUERY_TIMEOUT"
	// CodePersistedQueryNotFound asks an automatic-persisted-query client
	// to send the query text.
	CodePersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND"
	// CodePersistedQueryMismatch is a persisted-query hash that does not
	// match the query sent with it.
	CodePersistedQueryMismatch = "PERSISTED_QUERY_MISMATCH"
)

// Error is a failure with a client-facing code and message.
type Error struct {
	// Code is one of the Code* constants.
	Code string
	// Message is safe to show to clients: no secrets, SQL or internals.
	Message string
	// Err is the underlying cause, for logs only.
	Err error
	// RetryAfter, when positive, is sent as extensions.retryAfter (whole
	// seconds, rounded up): when the client may try again.
	RetryAfter time.Duration
}

// Error returns the client-facing message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error with a code and message.
func New(code, message string) *Error { return &Error{Code: code, Message: message} }

// Wrap returns an *Error with a code and message that keeps err as its cause.
func Wrap(code, message string, err error) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// Unauthenticated is a missing, unknown, expired or revoked skey.
func Unauthenticated(message string) *Error { return New(CodeUnauthenticated, message) }

// Forbidden is a caller without the right to the field.
func Forbidden(message string) *Error { return New(CodeForbidden, message) }

// BadInput is malformed input.
func BadInput(format string, args ...any) *Error {
	return New(CodeBadUserInput, fmt.Sprintf(format, args...))
}

// NotFound is an admin lookup of an ID that does not exist.
func NotFound(message string) *Error { return New(CodeNotFound, message) }

// RateLimited is a wxid rate limit; the client may retry after retryAfter.
func RateLimited(message string, retryAfter time.Duration) *Error {
	return &Error{Code: CodeRateLimited, Message: message, RetryAfter: retryAfter}
}

// Unavailable is a backend wxid cannot do without that is down, hung or
// saturated; err is the cause (for logs), retryAfter when to try again.
func Unavailable(message string, retryAfter time.Duration, err error) *Error {
	return &Error{Code: CodeUnavailable, Message: message, Err: err, RetryAfter: retryAfter}
}

// RetryAfterSeconds is e.RetryAfter in whole seconds, rounded up; 0 when
// unset.
func (e *Error) RetryAfterSeconds() int {
	if e.RetryAfter <= 0 {
		return 0
	}
	return int((e.RetryAfter + time.Second - 1) / time.Second)
}

// Internal wraps an unexpected failure; clients see only "internal error".
func Internal(err error) *Error { return Wrap(CodeInternal, "internal error", err) }

// CodeOf returns the code of err: the code of the first *Error in its chain,
// or CodeInternal.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
