package resolvers

import (
	"maps"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// PublicSchema returns the schema wxid executes and introspects: s without
// the directives that are not part of the published API
// (schema/wxid.graphql): gqlgen's Go-binding directives (@goField,
// @goModel, ...), which only configure code generation, and @defer, which
// gqlparser declares but wxid would run inline instead of streaming (so a
// query using it is refused as an unknown directive rather than silently
// not deferred). s itself is left as it is.
func PublicSchema(s *ast.Schema) *ast.Schema {
	out := *s
	out.Directives = maps.Clone(s.Directives)
	for name := range out.Directives {
		if name == "defer" || isGoDirective(name) {
			delete(out.Directives, name)
		}
	}
	return &out
}

// isGoDirective reports whether a directive only configures gqlgen's Go
// code (goField, goModel, goTag, goExtraField, goEnum, ...).
func isGoDirective(name string) bool {
	return len(name) > 2 && strings.HasPrefix(name, "go") && name[2] >= 'A' && name[2] <= 'Z'
}
