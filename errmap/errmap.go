// Package errmap is the one place where wxid's errors become what a client
// sees: a GraphQL error with a safe message and extensions.code.
//
// Errors are typed where they arise: *apperr.Error for the domain's own
// failures, sentinels for the caller's credentials (auth.ErrNoSkey,
// auth.ErrNotAdmin, session.ErrInvalid) and for WeChat's answers
// (wechat.ErrInvalidCode and the other classes), *database.UnavailableError
// for a database that is down or hung, *database.StatementTimeoutError for
// a query the server stopped at its time limit, *http.MaxBytesError for an
// oversized body, and gqlgen's own parse and validation errors, which
// already carry their code. Classify maps them by type, never by message
// text; Present and Presenter turn the result into a GraphQL error for the
// executor and for the HTTP transport alike. Anything unknown is INTERNAL,
// with the detail only in the server log.
package errmap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/auth"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/session"
	"github.com/wxid/wxid/wechat"
)

// Messages of the errors Classify codes (clients may show them).
const (
	MsgNoSkey      = "missing skey: send Authorization: Bearer <skey> from login"
	MsgDeadSkey    = "the skey is invalid, expired or revoked: call wx.login() and login again"
	MsgNotAdmin    = "this field needs an admin token"
	MsgInvalidCode = "WeChat rejected the code: it is invalid, expired or already used; get a new code"
	MsgUserBlocked = "WeChat's risk control blocks this user; retrying cannot help, not even with a new code"
	MsgWeChatLimit = "WeChat rate limit reached; retry in a minute"
	MsgWeChatDown  = "WeChat is unavailable; retry later"
	MsgUnavailable = "the service is temporarily unavailable: retry later"
	MsgTimeout     = "the query read too much and was stopped at its time limit: narrow `where` to a fast search (README, \"Admin API at scale\") or leave out totalCount; retrying the same query will not help"
)

// Classify returns the coded error a client sees for err: err's own
// *apperr.Error when it has one, else the code of its type or sentinel,
// else INTERNAL (which keeps err as its cause, for the log).
func Classify(err error) *apperr.Error {
	var down *database.UnavailableError
	if errors.As(err, &down) {
		// Before the coded case: a domain package may have wrapped it as
		// INTERNAL, but the client should retry, not give up.
		return apperr.Unavailable(MsgUnavailable, down.RetryAfter, err)
	}
	if errors.Is(err, database.ErrStatementTimeout) {
		// Before the coded case too: users.List wraps it as INTERNAL.
		return apperr.Wrap(apperr.CodeQueryTimeout, MsgTimeout, err)
	}
	var coded *apperr.Error
	if errors.As(err, &coded) {
		return coded
	}
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrNoSkey):
		return apperr.Wrap(apperr.CodeUnauthenticated, MsgNoSkey, err)
	case errors.Is(err, session.ErrInvalid):
		return apperr.Wrap(apperr.CodeUnauthenticated, MsgDeadSkey, err)
	case errors.Is(err, auth.ErrNotAdmin):
		return apperr.Wrap(apperr.CodeForbidden, MsgNotAdmin, err)
	case errors.Is(err, wechat.ErrInvalidCode):
		return apperr.Wrap(apperr.CodeInvalidCode, MsgInvalidCode, err)
	case errors.Is(err, wechat.ErrUserBlocked):
		return apperr.Wrap(apperr.CodeForbidden, MsgUserBlocked, err)
	case errors.Is(err, wechat.ErrRateLimited):
		return apperr.Wrap(apperr.CodeWeChatRateLimited, MsgWeChatLimit, err)
	case errors.Is(err, wechat.ErrUnavailable):
		return apperr.Wrap(apperr.CodeWeChatUnavailable, MsgWeChatDown, err)
	case errors.As(err, &tooLarge):
		return apperr.Wrap(apperr.CodeBadUserInput,
			fmt.Sprintf("request body too large: the limit is %d bytes", tooLarge.Limit), err)
	default:
		// Misconfiguration (a bad AppSecret), a WeChat errcode wxid does not
		// know, a database failure nobody typed: not the client's fault.
		return apperr.Internal(err)
	}
}

// Code is the extensions.code a client sees for err; "" for nil.
func Code(err error) string {
	if err == nil {
		return ""
	}
	return Classify(err).Code
}

// Present returns the GraphQL error a client sees for err and logs it at
// the level its code deserves: INTERNAL at error with the cause, WeChat's
// failures at warn, the rest at debug. gqlgen's own parse, validation and
// limit errors keep their code and message.
func Present(ctx context.Context, log *slog.Logger, err error) *gqlerror.Error {
	path := graphql.GetPath(ctx)
	var gerr *gqlerror.Error
	if errors.As(err, &gerr) && gerr.Err == nil && gerr.Extensions["code"] != nil {
		log.DebugContext(ctx, "request refused", "code", gerr.Extensions["code"], "err", gerr.Message)
		return gerr
	}
	coded := Classify(err)
	if coded.Code == apperr.CodeInternal && gerr != nil && gerr.Err != nil && len(gerr.Path) > len(path) {
		// An argument that does not coerce (an ID that is no number, a bad
		// cursor or time): gqlgen's path reaches below the field.
		coded = apperr.Wrap(apperr.CodeBadUserInput, "invalid value for "+gerr.Path.String(), err)
	}
	out := &gqlerror.Error{Message: coded.Message, Path: path, Extensions: map[string]any{"code": coded.Code}}
	if s := coded.RetryAfterSeconds(); s > 0 {
		out.Extensions["retryAfter"] = s
	}
	switch coded.Code {
	case apperr.CodeInternal:
		log.ErrorContext(ctx, "internal error", "err", cause(coded, err), "path", path.String())
	case apperr.CodeWeChatUnavailable, apperr.CodeWeChatRateLimited, apperr.CodeUnavailable:
		log.WarnContext(ctx, "backend error", "code", coded.Code, "err", cause(coded, err), "path", path.String())
	default:
		log.DebugContext(ctx, "request refused", "code", coded.Code, "err", cause(coded, err), "path", path.String())
	}
	return out
}

// cause is what the log shows of a coded error: its cause, else err.
func cause(coded *apperr.Error, err error) error {
	var down *database.UnavailableError
	if errors.As(err, &down) {
		return down // the database's own error, not a message that wrapped it
	}
	if coded.Err != nil {
		return coded.Err
	}
	return err
}

// Presenter is Present as gqlgen's error presenter.
func Presenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error { return Present(ctx, log, err) }
}

// Panic is the error of a recovered panic: INTERNAL, with the panic value
// for the log only.
func Panic(p any) error { return apperr.Internal(fmt.Errorf("panic: %v", p)) }

// Recover is gqlgen's recover function: a panic in a resolver becomes
// INTERNAL (Present logs it).
func Recover() graphql.RecoverFunc {
	return func(_ context.Context, p any) error { return Panic(p) }
}
