package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
)

// ErrorPresenter turns resolver errors into GraphQL errors: coded errors
// keep their code and safe message; gqlgen's own validation and parse
// errors keep theirs; everything else becomes INTERNAL, with the detail
// only in the log.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		var coded *apperr.Error
		var down *database.UnavailableError
		if errors.As(err, &down) {
			// Before the coded case: a domain package may have wrapped it
			// as INTERNAL, but the client should retry, not give up.
			coded = apperr.Unavailable("the service is temporarily unavailable: retry later", down.RetryAfter, err)
		}
		if coded != nil || errors.As(err, &coded) {
			gerr := gqlerror.Errorf("%s", coded.Message)
			gerr.Path = graphql.GetPath(ctx)
			gerr.Extensions = map[string]any{"code": coded.Code}
			if s := coded.RetryAfterSeconds(); s > 0 {
				gerr.Extensions["retryAfter"] = s
			}
			switch coded.Code {
			case apperr.CodeInternal:
				log.ErrorContext(ctx, "internal error", "err", coded.Err, "path", gerr.Path.String())
			case apperr.CodeWeChatUnavailable, apperr.CodeWeChatRateLimited:
				log.WarnContext(ctx, "wechat error", "code", coded.Code, "err", coded.Err, "path", gerr.Path.String())
			}
			return gerr
		}
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			out := gqlerror.Errorf("request body too large: the limit is %d bytes", tooLarge.Limit)
			out.Extensions = map[string]any{"code": apperr.CodeBadUserInput}
			return out
		}
		if out := requestError(err); out != nil {
			return out
		}
		var gerr *gqlerror.Error
		if errors.As(err, &gerr) && gerr.Extensions["code"] != nil && gerr.Err == nil {
			// gqlgen's parse, validation and complexity errors: safe and coded.
			return gerr
		}
		if gerr != nil && gerr.Err != nil && len(gerr.Path) > len(graphql.GetPath(ctx)) {
			// An argument that does not coerce (an ID that is no number, a
			// bad cursor or time): its path reaches below the field.
			out := gqlerror.Errorf("invalid value for %s", gerr.Path.String())
			out.Path = graphql.GetPath(ctx)
			out.Extensions = map[string]any{"code": apperr.CodeBadUserInput}
			return out
		}
		log.ErrorContext(ctx, "internal error", "err", err, "path", graphql.GetPath(ctx).String())
		out := gqlerror.Errorf("internal error")
		out.Path = graphql.GetPath(ctx)
		out.Extensions = map[string]any{"code": apperr.CodeInternal}
		return out
	}
}

// Recover turns a panic in a resolver into INTERNAL and logs it.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "path", graphql.GetPath(ctx).String())
		return apperr.Internal(fmt.Errorf("panic: %v", p))
	}
}

// entError maps an ent error to a coded error: what the ID names does not
// exist, a constraint or validation failure is the input's fault, anything
// else is INTERNAL.
func entError(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case ent.IsNotFound(err):
		return apperr.Wrap(apperr.CodeNotFound, what+" not found", err)
	case ent.IsConstraintError(err), ent.IsValidationError(err):
		return apperr.Wrap(apperr.CodeBadUserInput, "invalid "+what, err)
	default:
		return apperr.Internal(err)
	}
}

// requestError codes the uncoded errors gqlgen's transports raise before
// any field runs; they have no path and no cause. Their messages can echo
// the whole body, so they are replaced.
func requestError(err error) *gqlerror.Error {
	var gerr *gqlerror.Error
	if !errors.As(err, &gerr) || gerr.Err != nil || len(gerr.Path) > 0 || gerr.Extensions["code"] != nil {
		return nil
	}
	code, msg := apperr.CodeBadRequest, "the request could not be read"
	switch {
	case strings.Contains(gerr.Message, "request body too large"):
		code, msg = apperr.CodeBadUserInput, "request body too large"
	case strings.HasPrefix(gerr.Message, "json request body could not be decoded"):
		msg = "the request body is not a GraphQL request in JSON"
	case !strings.HasPrefix(gerr.Message, "could not read request body"):
		return nil
	}
	out := gqlerror.Errorf("%s", msg)
	out.Extensions = map[string]any{"code": code}
	return out
}
