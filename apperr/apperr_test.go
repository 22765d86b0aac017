package apperr

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/wechat"
)

func TestFromWeChat(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"invalid code", &wechat.Error{Code: 40029}, CodeInvalidCode},
		{"used code", &wechat.Error{Code: 40163}, CodeInvalidCode},
		{"blocked", &wechat.Error{Code: 40226}, CodeInvalidCode},
		{"rate limited", &wechat.Error{Code: 45011}, CodeWeChatRateLimited},
		{"busy", &wechat.Error{Code: -1}, CodeWeChatUnavailable},
		{"transport", fmt.Errorf("x: %w", wechat.ErrUnavailable), CodeWeChatUnavailable},
		{"deadline", context.DeadlineExceeded, CodeWeChatUnavailable},
		{"bad secret", &wechat.Error{Code: 40125}, CodeInternal},
		{"unknown errcode", &wechat.Error{Code: 12345}, CodeInternal},
		{"already coded", BadInput("x"), CodeBadUserInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := FromWeChat(tc.err)
			require.Equal(t, tc.code, CodeOf(err))
			require.ErrorIs(t, err, tc.err, "the cause stays for the log")
		})
	}
	require.NoError(t, FromWeChat(nil))
}

func TestCodeOf(t *testing.T) {
	require.Equal(t, CodeInternal, CodeOf(errors.New("plain")))
	require.Equal(t, CodeForbidden, CodeOf(fmt.Errorf("wrapped: %w", Forbidden("no"))))
	require.True(t, Is(Unauthenticated("x"), CodeUnauthenticated))
	require.False(t, Is(nil, CodeInternal))
	e := Internal(errors.New("dial tcp 10.0.0.1:3306: secret detail"))
	require.Equal(t, "internal error", e.Error(), "the message hides the detail")
}
