package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/wxid/wxid/users"
)

// connectionWant reads what the query selects of the connection field
// being resolved (fragments, aliases, @skip and @include applied), so that
// the users service reads no more.
func connectionWant(ctx context.Context) users.Want {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return users.All // not called from a GraphQL field: everything
	}
	var out users.Want
	opCtx := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFields(opCtx, fc.Field.Selections, []string{"UserConnection"}) {
		switch f.Name {
		case "totalCount", "totalCountIsExact":
			out.TotalCount = true
		case "pageInfo":
			out.PageInfo = true
		case "edges":
			out.Edges = true
			for _, e := range graphql.CollectFields(opCtx, f.Selections, []string{"UserEdge"}) {
				if e.Name == "node" {
					out.Node = out.Node.Merge(selectedEdges(opCtx, e.Selections))
				}
			}
		}
	}
	return out
}

// userEdges reads which edges the field being resolved selects of the
// User (or Node that may be one) it returns.
func userEdges(ctx context.Context) users.Edges {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return users.Edges{}
	}
	return selectedEdges(graphql.GetOperationContext(ctx), fc.Field.Selections)
}

// selectedEdges reads a selection of a User (or a Node that may be one).
func selectedEdges(opCtx *graphql.OperationContext, sel ast.SelectionSet) users.Edges {
	var out users.Edges
	for _, f := range graphql.CollectFields(opCtx, sel, []string{"User", "Node"}) {
		switch f.Name {
		case "openIds":
			out.OpenIDs = true
		case "unionId":
			out.UnionID = true
		case "activeSessions":
			out.ActiveSessions = true
		}
	}
	return out
}
