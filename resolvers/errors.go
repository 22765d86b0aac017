package resolvers

import (
	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/ent"
)

// entError types an ent error where it arises, in the vocabulary of
// apperr: what the ID names does not exist, a constraint or validation
// failure is the input's fault, anything else is INTERNAL. errmap gives
// clients the codes.
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
