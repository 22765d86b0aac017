package app_test

import (
	"bytes"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/wxid/wxid/internal/apptest"
)

// fullIntrospectionQuery is graphql-js's getIntrospectionQuery with
// descriptions, specifiedByURL and isRepeatable, as GraphiQL and codegen
// tools send it.
const fullIntrospectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description isRepeatable locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }`

type introType struct {
	Kind           string         `json:"kind"`
	Name           string         `json:"name"`
	Description    string         `json:"description"`
	SpecifiedByURL string         `json:"specifiedByURL"`
	Fields         []introField   `json:"fields"`
	InputFields    []introValue   `json:"inputFields"`
	Interfaces     []introTypeRef `json:"interfaces"`
	EnumValues     []struct {
		Name              string `json:"name"`
		Description       string `json:"description"`
		IsDeprecated      bool   `json:"isDeprecated"`
		DeprecationReason string `json:"deprecationReason"`
	} `json:"enumValues"`
	PossibleTypes []introTypeRef `json:"possibleTypes"`
}

type introField struct {
	Name              string       `json:"name"`
	Description       string       `json:"description"`
	Args              []introValue `json:"args"`
	Type              introTypeRef `json:"type"`
	IsDeprecated      bool         `json:"isDeprecated"`
	DeprecationReason string       `json:"deprecationReason"`
}

type introValue struct {
	Name         string       `json:"name"`
	Description  string       `json:"description"`
	Type         introTypeRef `json:"type"`
	DefaultValue *string      `json:"defaultValue"`
}

type introTypeRef struct {
	Kind   string        `json:"kind"`
	Name   string        `json:"name"`
	OfType *introTypeRef `json:"ofType"`
}

func (r introTypeRef) ast() *ast.Type {
	switch r.Kind {
	case "NON_NULL":
		t := r.OfType.ast()
		t.NonNull = true
		return t
	case "LIST":
		return ast.ListType(r.OfType.ast(), nil)
	default:
		return ast.NamedType(r.Name, nil)
	}
}

func args(t *testing.T, vs []introValue) ast.ArgumentDefinitionList {
	var out ast.ArgumentDefinitionList
	for _, v := range vs {
		a := &ast.ArgumentDefinition{Name: v.Name, Description: v.Description, Type: v.Type.ast()}
		if v.DefaultValue != nil {
			a.DefaultValue = literal(t, *v.DefaultValue)
		}
		out = append(out, a)
	}
	return out
}

// literal parses a GraphQL value literal (an introspected defaultValue).
func literal(t *testing.T, s string) *ast.Value {
	doc, err := parser.ParseQuery(&ast.Source{Input: "query Q($v: String = " + s + ") { a }"})
	require.NoError(t, err, s)
	return doc.Operations[0].VariableDefinitions[0].DefaultValue
}

// schemaFromIntrospection rebuilds the type system an introspection answer
// describes: what every client (GraphiQL, codegen) sees.
func schemaFromIntrospection(t *testing.T, raw json.RawMessage) *ast.Schema {
	var res struct {
		Schema struct {
			Types      []introType `json:"types"`
			Directives []struct {
				Name         string       `json:"name"`
				Description  string       `json:"description"`
				IsRepeatable bool         `json:"isRepeatable"`
				Locations    []string     `json:"locations"`
				Args         []introValue `json:"args"`
			} `json:"directives"`
		} `json:"__schema"`
	}
	require.NoError(t, json.Unmarshal(raw, &res))
	s := &ast.Schema{Types: map[string]*ast.Definition{}, Directives: map[string]*ast.DirectiveDefinition{}}
	for _, it := range res.Schema.Types {
		d := &ast.Definition{Kind: ast.DefinitionKind(it.Kind), Name: it.Name, Description: it.Description}
		for _, f := range it.Fields {
			fd := &ast.FieldDefinition{Name: f.Name, Description: f.Description, Arguments: args(t, f.Args), Type: f.Type.ast()}
			if f.IsDeprecated {
				fd.Directives = ast.DirectiveList{{Name: "deprecated", Arguments: ast.ArgumentList{{Name: "reason", Value: &ast.Value{Kind: ast.StringValue, Raw: f.DeprecationReason}}}}}
			}
			d.Fields = append(d.Fields, fd)
		}
		for _, f := range it.InputFields {
			a := args(t, []introValue{f})[0]
			d.Fields = append(d.Fields, &ast.FieldDefinition{Name: a.Name, Description: a.Description, Type: a.Type, DefaultValue: a.DefaultValue})
		}
		for _, i := range it.Interfaces {
			d.Interfaces = append(d.Interfaces, i.Name)
		}
		for _, p := range it.PossibleTypes {
			if d.Kind == ast.Union {
				d.Types = append(d.Types, p.Name)
			}
		}
		for _, v := range it.EnumValues {
			d.EnumValues = append(d.EnumValues, &ast.EnumValueDefinition{Name: v.Name, Description: v.Description})
		}
		s.Types[d.Name] = d
	}
	for _, dd := range res.Schema.Directives {
		def := &ast.DirectiveDefinition{Name: dd.Name, Description: dd.Description, Arguments: args(t, dd.Args), IsRepeatable: dd.IsRepeatable}
		for _, l := range dd.Locations {
			def.Locations = append(def.Locations, ast.DirectiveLocation(l))
		}
		s.Directives[def.Name] = def
	}
	return s
}

// builtIns are what the GraphQL specification defines for every server:
// printed by neither side.
var builtIns = map[string]bool{
	"include": true, "skip": true, "deprecated": true, "specifiedBy": true, "oneOf": true,
	"String": true, "Int": true, "Float": true, "Boolean": true, "ID": true,
}

// printSDL prints s's own directives and types sorted by name, without
// applied directives (introspection does not carry them).
func printSDL(s *ast.Schema) string {
	var parts []string
	print := func(one *ast.Schema) {
		var b bytes.Buffer
		formatter.NewFormatter(&b, formatter.WithIndent("  ")).FormatSchema(one)
		parts = append(parts, strings.TrimSpace(b.String()))
	}
	names := func(m map[string]bool) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	dirs, types := map[string]bool{}, map[string]bool{}
	for n, d := range s.Directives {
		prelude := d.Position != nil && d.Position.Src != nil && d.Position.Src.BuiltIn // gqlparser's own, e.g. @defer
		if !builtIns[n] && !prelude {
			dirs[n] = true
		}
	}
	for n, d := range s.Types {
		if !builtIns[n] && !strings.HasPrefix(n, "__") && !d.BuiltIn {
			types[n] = true
		}
	}
	for _, n := range names(dirs) {
		print(&ast.Schema{Directives: map[string]*ast.DirectiveDefinition{n: s.Directives[n]}})
	}
	for _, n := range names(types) {
		d := *s.Types[n]
		d.Directives = nil
		fields := make(ast.FieldList, len(d.Fields))
		for i, f := range d.Fields {
			cp := *f
			cp.Directives = nil
			fields[i] = &cp
		}
		d.Fields = fields
		print(&ast.Schema{Types: map[string]*ast.Definition{n: &d}})
	}
	return strings.Join(parts, "\n\n") + "\n"
}

// TestIntrospectionIsThePublishedSchema: what introspection tells clients
// is exactly schema/wxid.graphql: no @goField, @goModel or @defer.
func TestIntrospectionIsThePublishedSchema(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	r := e.Do(t, "", fullIntrospectionQuery, nil)
	require.Empty(t, r.Errors, r.Body)
	for _, leak := range []string{"goField", "goModel", "goTag", "defer"} {
		require.NotContains(t, string(r.Data), `"name":"`+leak+`"`)
	}
	got := printSDL(schemaFromIntrospection(t, r.Data))

	sdl, err := os.ReadFile("../schema/wxid.graphql")
	require.NoError(t, err)
	published, gerr := gqlparser.LoadSchema(&ast.Source{Name: "wxid.graphql", Input: string(sdl)})
	require.NoError(t, gerr)
	require.Equal(t, printSDL(published), got)
	require.Contains(t, got, "directive @admin on FIELD_DEFINITION", "the comparison covers directives")
	require.Contains(t, got, "type Query", "and types")

	t.Run("a query using @defer is refused, not run inline", func(t *testing.T) {
		r := e.Do(t, "", `{ ... @defer { __typename } }`, nil)
		require.Equal(t, "GRAPHQL_VALIDATION_FAILED", r.Code(), r.Body)
	})
}
