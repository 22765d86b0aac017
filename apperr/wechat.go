package apperr

import (
	"context"
	"errors"

	"github.com/wxid/wxid/wechat"
)

// FromWeChat maps an error of the WeChat client to a coded error. Nil stays
// nil; an error that is already coded is returned as it is.
func FromWeChat(err error) error {
	if err == nil {
		return nil
	}
	var coded *Error
	if errors.As(err, &coded) {
		return err
	}
	switch {
	case errors.Is(err, wechat.ErrInvalidCode):
		return Wrap(CodeInvalidCode, "WeChat rejected the code: it is invalid, expired, already used or blocked; get a new code", err)
	case errors.Is(err, wechat.ErrRateLimited):
		return Wrap(CodeWeChatRateLimited, "WeChat rate limit reached; retry in a minute", err)
	case errors.Is(err, wechat.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return Wrap(CodeWeChatUnavailable, "WeChat is unavailable; retry later", err)
	default:
		// Misconfiguration (bad appid/secret), token trouble after the one
		// retry, or an errcode wxid does not know: not the client's fault.
		return Internal(err)
	}
}
