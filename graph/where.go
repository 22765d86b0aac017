package graph

// This file is written by hand: gqlgen writes only generated.go here.

import (
	"context"
	"errors"
	"sync"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/ent"
)

// whereOperation declares one variable of type UserWhereInput, so that a
// `where` that arrives outside a GraphQL request is coerced by the same
// rules as the `where` variable of a users query.
var whereOperation = sync.OnceValue(func() *ast.OperationDefinition {
	doc := gqlparser.MustLoadQueryWithRules(parsedSchema, `query($where: UserWhereInput) { users(first: 0, where: $where) { totalCount } }`, nil)
	return doc.Operations[0]
})

// UserWhere turns a `where` that arrives as decoded JSON (objects as
// map[string]any, numbers as json.Number) into the *ent.UserWhereInput the
// users query would get for the same value as its `where` variable: it is
// checked against the schema (unknown fields, wrong types and malformed
// IDs or times are BAD_USER_INPUT), then unmarshalled by the generated
// code, phoneNumberEndsWith through r's resolver. nil is no filter.
func UserWhere(ctx context.Context, r ResolverRoot, where any) (*ent.UserWhereInput, error) {
	if where == nil {
		return nil, nil
	}
	vars, err := validator.VariableValues(parsedSchema, whereOperation(), map[string]any{"where": where})
	if err != nil {
		return nil, apperr.Wrap(apperr.CodeBadUserInput, "invalid where: "+gqlMessage(err), err)
	}
	es := &executableSchema{Resolvers: r}
	ec := newExecutionContext(nil, es, nil)
	w, err := ec.unmarshalOUserWhereInput2ᚖgithubᚗcomᚋwxidᚋwxidᚋentᚐUserWhereInput(ctx, vars["where"])
	if err != nil {
		var coded *apperr.Error
		if errors.As(err, &coded) { // a resolver's refusal (phoneNumberEndsWith)
			return nil, coded
		}
		return nil, apperr.Wrap(apperr.CodeBadUserInput, "invalid where: "+gqlMessage(err), err)
	}
	return w, nil
}

// gqlMessage is the message of a GraphQL error with its path, as the
// GraphQL API would show it.
func gqlMessage(err error) string {
	var gerr *gqlerror.Error
	if errors.As(err, &gerr) {
		if len(gerr.Path) > 0 {
			return gerr.Path.String() + ": " + gerr.Message
		}
		return gerr.Message
	}
	return err.Error()
}
