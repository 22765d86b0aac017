package resolvers

import (
	"context"
	"errors"
	"math"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/wxid/wxid/audit"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/graph"
	"github.com/wxid/wxid/users"
)

// Error codes of the request limits. gqlgen's complexity limit answers
// COMPLEXITY_LIMIT_EXCEEDED.
const (
	// CodeQueryTooDeep: the operation nests fields deeper than the limit.
	CodeQueryTooDeep = "QUERY_TOO_DEEP"
	// CodeIntrospectionDisabled: the operation asks for __schema or
	// __type on a server without introspection.
	CodeIntrospectionDisabled = "INTROSPECTION_DISABLED"
)

// ActiveSessionsCost is the complexity of one User.activeSessions. A page
// of users reads the sessions of all of them in one statement, but each
// user may have many: a page of more than about 40 users with their
// sessions does not fit in one request (one user's, or a page of 20,
// does).
const ActiveSessionsCost = 100

// UserStatsCost is the complexity of one userStats: one read of at most
// 366 rows by an index, whatever the range, priced like a large page.
const UserStatsCost = 100

// SetAdminComplexity prices the admin fields: a connection or a list of
// nodes costs its items' complexity times the number of items it may
// return (first, last or len(ids), at most MaxPageSize), so aliased copies
// of a page add up.
func SetAdminComplexity(c *graph.ComplexityRoot) {
	c.Query.Users = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.UserOrder, _ *ent.UserWhereInput) int {
		return times(users.PageSize(first, last), child)
	}
	c.Query.AuditEvents = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.AuditEventOrder, _ *ent.AuditEventWhereInput) int {
		return times(audit.PageSize(first, last), child)
	}
	c.Query.Nodes = func(child int, ids []int) int {
		return times(min(len(ids), MaxPageSize), child)
	}
	c.User.ActiveSessions = func(child int) int {
		return ActiveSessionsCost + child
	}
	c.Query.UserStats = func(child int, _, _ time.Time, _ *string) int {
		return UserStatsCost + child
	}
}

// times is 1 + n*child, saturating instead of overflowing.
func times(n, child int) int {
	if n > 0 && child > (math.MaxInt-1)/n {
		return math.MaxInt
	}
	return 1 + n*child
}

// DepthLimit is a gqlgen handler extension that refuses operations whose
// fields nest deeper than Max, with extensions.code QUERY_TOO_DEEP, before
// anything runs. A field without subfields is one level; fragments add
// none. `ofType` is not counted: introspection queries nest it 7 to 10
// times to unwrap list and non-null types, a chain that cannot fan out.
//
// gqlgen's complexity limit covers aliases and page sizes but skips
// introspection; the depth limit bounds what is left, such as
// __schema { types { fields { type { fields { ... } } } } }.
type DepthLimit struct {
	Max int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = DepthLimit{}

// ExtensionName implements graphql.HandlerExtension.
func (DepthLimit) ExtensionName() string { return "DepthLimit" }

// Validate implements graphql.HandlerExtension.
func (d DepthLimit) Validate(graphql.ExecutableSchema) error {
	if d.Max < 1 {
		return errors.New("depth limit must be at least 1")
	}
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator.
func (d DepthLimit) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	op := opCtx.Doc.Operations.ForName(opCtx.OperationName)
	if op == nil {
		return nil
	}
	w := depthWalker{doc: opCtx.Doc, memo: map[string]int{}, active: map[string]bool{}}
	if depth := w.depth(op.SelectionSet); depth > d.Max {
		err := gqlerror.Errorf("operation nests fields %d levels deep, which exceeds the limit of %d", depth, d.Max)
		errcode.Set(err, CodeQueryTooDeep)
		return err
	}
	return nil
}

// depthWalker measures selection sets. Each fragment is measured once
// (its depth does not depend on where it is spread), so a document that
// spreads fragments in fragments many times costs linear time; a spread of
// a fragment being measured (a cycle, which validation already refuses)
// adds nothing.
type depthWalker struct {
	doc    *ast.QueryDocument
	memo   map[string]int
	active map[string]bool
}

func (w depthWalker) depth(set ast.SelectionSet) int {
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			d = w.depth(s.SelectionSet)
			if s.Name != "ofType" {
				d++
			}
		case *ast.InlineFragment:
			d = w.depth(s.SelectionSet)
		case *ast.FragmentSpread:
			d = w.fragment(s.Name)
		}
		deepest = max(deepest, d)
	}
	return deepest
}

func (w depthWalker) fragment(name string) int {
	if d, ok := w.memo[name]; ok {
		return d
	}
	def := w.doc.Fragments.ForName(name)
	if def == nil || w.active[name] {
		return 0
	}
	w.active[name] = true
	d := w.depth(def.SelectionSet)
	delete(w.active, name)
	w.memo[name] = d
	return d
}

// NoIntrospection is a gqlgen handler extension for servers without
// introspection: it refuses operations that select __schema or __type
// with extensions.code INTROSPECTION_DISABLED (gqlgen itself would answer
// an uncoded "introspection disabled", which the error presenter turns into
// INTERNAL). __typename stays available.
type NoIntrospection struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = NoIntrospection{}

// ExtensionName implements graphql.HandlerExtension.
func (NoIntrospection) ExtensionName() string { return "NoIntrospection" }

// Validate implements graphql.HandlerExtension.
func (NoIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (NoIntrospection) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	op := opCtx.Doc.Operations.ForName(opCtx.OperationName)
	if op == nil || !introspects(opCtx.Doc, op.SelectionSet, map[string]bool{}) {
		return nil
	}
	err := gqlerror.Errorf("introspection is disabled on this server: use the published schema (schema/wxid.graphql)")
	errcode.Set(err, CodeIntrospectionDisabled)
	return err
}

// introspects reports whether a root selection set selects __schema or
// __type, directly or through fragments.
func introspects(doc *ast.QueryDocument, set ast.SelectionSet, seen map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return true
			}
		case *ast.InlineFragment:
			if introspects(doc, s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			if def := doc.Fragments.ForName(s.Name); def != nil && introspects(doc, def.SelectionSet, seen) {
				return true
			}
		}
	}
	return false
}
