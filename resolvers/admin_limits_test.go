package resolvers

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

func opContext(t *testing.T, query string) *graphql.OperationContext {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	require.NoError(t, err)
	return &graphql.OperationContext{Doc: doc, RawQuery: query}
}

func TestDepthLimit(t *testing.T) {
	limit := DepthLimit{Max: 5}
	tests := []struct {
		name  string
		query string
		depth int
	}{
		{"flat", `{ me { id } }`, 2},
		{"dashboard page", `{ users { edges { node { openIds { appId } } } } }`, 5},
		{"inline fragments add nothing", `{ node(id: 1) { ... on User { ... on User { openIds { appId } } } } }`, 3},
		{"fragments count where spread", `{ users { edges { ...E } } } fragment E on UserEdge { node { ...U } } fragment U on User { openIds { appId } }`, 5},
		{"too deep", `{ __schema { types { fields { type { fields { name } } } } } }`, 6},
		{"too deep through fragments", `{ a: users { ...C } } fragment C on UserConnection { edges { node { ...U } } } fragment U on User { openIds { x { y } } }`, 6},
		{"ofType chains are free", `{ __type(name: "User") { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } }`, 4},
		{"fragment cycle", `{ me { ...A } } fragment A on User { id ...B } fragment B on User { ...A }`, 2},
		{"self cycle", `{ me { ...A } } fragment A on User { openIds { ...A } }`, 2},
		{"unknown fragment", `{ me { ...Missing } }`, 1},
		{"named operation", `query Q { me { id } }`, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opCtx := opContext(t, tc.query)
			op := opCtx.Doc.Operations.ForName("")
			w := depthWalker{doc: opCtx.Doc, memo: map[string]int{}, active: map[string]bool{}}
			require.Equal(t, tc.depth, w.depth(op.SelectionSet))
			err := limit.MutateOperationContext(context.Background(), opCtx)
			if tc.depth <= limit.Max {
				require.Nil(t, err)
				return
			}
			require.NotNil(t, err)
			require.Equal(t, CodeQueryTooDeep, err.Extensions["code"])
			require.Contains(t, err.Message, "exceeds the limit of 5")
		})
	}
}

// TestDepthLimitFragmentFanOut: fragments spread twice in each of many
// fragments are measured once each, not 2^n times.
func TestDepthLimitFragmentFanOut(t *testing.T) {
	var b strings.Builder
	b.WriteString("{ me { ...F0 } }\n")
	const n = 60
	for i := range n {
		b.WriteString("fragment F")
		b.WriteString(strconv.Itoa(i))
		b.WriteString(" on User { id")
		if i+1 < n {
			b.WriteString(" a: openIds { ...F" + strconv.Itoa(i+1) + " } b: openIds { ...F" + strconv.Itoa(i+1) + " }")
		}
		b.WriteString(" }\n")
	}
	opCtx := opContext(t, b.String())
	err := DepthLimit{Max: 10}.MutateOperationContext(context.Background(), opCtx)
	require.NotNil(t, err)
	require.Contains(t, err.Message, "nests fields 61 levels deep")
}

func TestDepthLimitValidate(t *testing.T) {
	require.Error(t, DepthLimit{}.Validate(nil))
	require.NoError(t, DepthLimit{Max: 1}.Validate(nil))
}

func TestNoIntrospection(t *testing.T) {
	tests := []struct {
		query   string
		refused bool
	}{
		{`{ __schema { types { name } } }`, true},
		{`{ __type(name: "User") { name } }`, true},
		{`{ ...F } fragment F on Query { __schema { queryType { name } } }`, true},
		{`{ ... on Query { __type(name: "User") { name } } }`, true},
		{`{ __typename me { __typename id } }`, false},
		{`{ ...F } fragment F on Query { ...F me { id } }`, false},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			err := NoIntrospection{}.MutateOperationContext(context.Background(), opContext(t, tc.query))
			if !tc.refused {
				require.Nil(t, err)
				return
			}
			require.NotNil(t, err)
			require.Equal(t, CodeIntrospectionDisabled, err.Extensions["code"])
		})
	}
}

func TestTimesSaturates(t *testing.T) {
	require.Equal(t, 1, times(0, 50))
	require.Equal(t, 501, times(100, 5))
	require.Equal(t, math.MaxInt, times(100, math.MaxInt/10))
	require.Equal(t, math.MaxInt, times(MaxPageSize, math.MaxInt))
}
