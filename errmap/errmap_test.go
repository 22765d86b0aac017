package errmap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/auth"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/session"
	"github.com/wxid/wxid/wechat"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code string
	}{
		// WeChat's answers (formerly apperr.FromWeChat).
		{"invalid code", &wechat.Error{Code: 40029}, apperr.CodeInvalidCode},
		{"used code", &wechat.Error{Code: 40163}, apperr.CodeInvalidCode},
		{"blocked: retrying cannot help", &wechat.Error{Code: 40226}, apperr.CodeForbidden},
		{"rate limited", &wechat.Error{Code: 45011}, apperr.CodeWeChatRateLimited},
		{"busy", &wechat.Error{Code: -1}, apperr.CodeWeChatUnavailable},
		{"transport", fmt.Errorf("x: %w", wechat.ErrUnavailable), apperr.CodeWeChatUnavailable},
		{"deadline", wechat.Classified(context.DeadlineExceeded), apperr.CodeWeChatUnavailable},
		{"bad secret", &wechat.Error{Code: 40125}, apperr.CodeInternal},
		{"unknown errcode", &wechat.Error{Code: 12345}, apperr.CodeInternal},
		{"already coded", apperr.BadInput("x"), apperr.CodeBadUserInput},
		{"coded, wrapped", fmt.Errorf("w: %w", apperr.Forbidden("no")), apperr.CodeForbidden},
		// The caller's credentials (formerly auth.Viewer's own codes).
		{"no skey", auth.ErrNoSkey, apperr.CodeUnauthenticated},
		{"dead skey", fmt.Errorf("refresh: %w", session.ErrInvalid), apperr.CodeUnauthenticated},
		{"not an admin", auth.ErrNotAdmin, apperr.CodeForbidden},
		{"session store failure", fmt.Errorf("resolving the skey: %w", context.DeadlineExceeded), apperr.CodeInternal},
		// A database that is down or hung: retry, even when a domain package wrapped it as INTERNAL.
		{"database down", &database.UnavailableError{RetryAfter: time.Second}, apperr.CodeUnavailable},
		{"database down, wrapped as internal", apperr.Internal(fmt.Errorf("login: %w", &database.UnavailableError{RetryAfter: time.Second, Err: errors.New("dial tcp")})), apperr.CodeUnavailable},
		// A query the server stopped at its time limit: narrow it, even when wrapped as INTERNAL.
		{"statement timeout, wrapped as internal", apperr.Internal(fmt.Errorf("listing users: %w", &database.StatementTimeoutError{Limit: time.Second, Err: errors.New("max_statement_time exceeded")})), apperr.CodeQueryTimeout},
		// The one rule for oversized bodies.
		{"body too large", fmt.Errorf("reading: %w", &http.MaxBytesError{Limit: 10}), apperr.CodeBadUserInput},
		{"plain", errors.New("dial tcp 10.0.0.1:3306: secret detail"), apperr.CodeInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify(tc.err)
			require.Equal(t, tc.code, got.Code)
			require.True(t, errors.Is(got, tc.err) || errors.Is(tc.err, got), "the cause stays for the log")
			require.NotContains(t, got.Message, "secret")
		})
	}
	require.Nil(t, Classify(nil))
	require.Equal(t, 2*time.Second, Classify(&database.UnavailableError{RetryAfter: 2 * time.Second}).RetryAfter)
	require.Empty(t, Code(nil))
	require.Equal(t, apperr.CodeForbidden, Code(&wechat.Error{Code: 40226}))
	require.Equal(t, MsgUserBlocked, Classify(&wechat.Error{Code: 40226}).Message)
	require.Contains(t, MsgUserBlocked, "retrying cannot help")
	require.Equal(t, "request body too large: the limit is 10 bytes", Classify(&http.MaxBytesError{Limit: 10}).Message)
}

func TestPresent(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()

	t.Run("internal hides the cause and logs it", func(t *testing.T) {
		logs.Reset()
		got := Present(ctx, log, errors.New("dial tcp 10.0.0.1:3306: refused"))
		require.Equal(t, "internal error", got.Message)
		require.Equal(t, apperr.CodeInternal, got.Extensions["code"])
		require.Contains(t, logs.String(), "level=ERROR")
		require.Contains(t, logs.String(), "10.0.0.1:3306")
	})
	t.Run("retryAfter", func(t *testing.T) {
		got := Present(ctx, log, apperr.RateLimited("slow down", 1500*time.Millisecond))
		require.Equal(t, apperr.CodeRateLimited, got.Extensions["code"])
		require.Equal(t, 2, got.Extensions["retryAfter"])
	})
	t.Run("gqlgen's coded errors stay", func(t *testing.T) {
		gerr := gqlerror.Errorf("Cannot query field \"x\" on type \"Query\".")
		errcode.Set(gerr, errcode.ValidationFailed)
		require.Same(t, gerr, Present(ctx, log, gerr))
	})
	t.Run("an argument that does not coerce", func(t *testing.T) {
		gerr := gqlerror.WrapPath(ast.Path{ast.PathName("node"), ast.PathName("id")}, errors.New("not an int"))
		got := Present(ctx, log, gerr)
		require.Equal(t, apperr.CodeBadUserInput, got.Extensions["code"])
		require.Equal(t, "invalid value for node.id", got.Message)
	})
	t.Run("persisted-query and request refusals log at debug, never error", func(t *testing.T) {
		logs.Reset()
		for _, code := range []string{apperr.CodePersistedQueryNotFound, apperr.CodePersistedQueryMismatch, apperr.CodeBadRequest} {
			got := Present(ctx, log, &gqlerror.Error{Message: "x", Err: apperr.New(code, "x")})
			require.Equal(t, code, got.Extensions["code"])
		}
		require.NotContains(t, logs.String(), "level=ERROR")
		require.NotContains(t, logs.String(), "level=WARN")
		require.Contains(t, logs.String(), "level=DEBUG")
	})
	t.Run("panic", func(t *testing.T) {
		logs.Reset()
		got := Present(ctx, log, Recover()(ctx, "boom"))
		require.Equal(t, apperr.CodeInternal, got.Extensions["code"])
		require.Equal(t, "internal error", got.Message)
		require.Contains(t, logs.String(), "panic: boom")
	})
}
