//go:build ignore

// entc.go generates the ent client and, through entgql, graph/ent.graphqls.
// It is run by `go generate ./...` from the repository root (see server.go).
package main

import (
	"log"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/vektah/gqlparser/v2/ast"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithConfigPath("./gqlgen.yml"),
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("./graph/ent.graphqls"),
		entgql.WithWhereInputs(true),
		entgql.WithNodeDescriptor(false),
		entgql.WithSchemaHook(adminNodeQueries),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	err = entc.Generate("./ent/schema", &gen.Config{
		Features: []gen.Feature{
			gen.FeatureGlobalID,
			gen.FeatureLock,
			gen.FeatureUpsert,
			gen.FeatureExecQuery,
			gen.FeatureVersionedMigration,
		},
	}, entc.Extensions(ex), entc.TemplateFiles("./ent/template/loaded.tmpl"))
	if err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}

// adminNodeQueries puts @admin on Query.node and Query.nodes, which entgql
// generates without directives: any node can be read by ID, so only admins
// may do it.
func adminNodeQueries(_ *gen.Graph, s *ast.Schema) error {
	q, ok := s.Types["Query"]
	if !ok {
		return nil
	}
	for _, f := range q.Fields {
		if f.Name == "node" || f.Name == "nodes" {
			f.Directives = append(f.Directives, &ast.Directive{Name: "admin"})
		}
	}
	return nil
}
